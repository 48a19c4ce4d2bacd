"""Lessons (reservations) as read models, and the one query that reads a person's week."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col

from tutorctl.core.timegrid import format_week
from tutorctl.core.views import LessonView
from tutorctl.db.schema import Category, Operation, Reservation, User
from tutorctl.db.uow import Tx

LIVE = ("held", "booked")  # statuses that occupy a slot
VISIBLE = ("held", "booked", "done")

Teacher = aliased(User)
Student = aliased(User)


def lesson_query() -> Any:
    """Reservation + teacher handle + student handle + category + pending cancel/move kind."""
    return (
        sa_select(
            Reservation,
            col(Teacher.handle),
            col(Student.handle),
            col(Category.name),
            col(Operation.kind),
        )
        .join(Teacher, col(Teacher.id) == Reservation.teacher_id)
        .join(Student, col(Student.id) == Reservation.student_id)
        .join(Category, col(Category.id) == Reservation.category_id)
        .outerjoin(
            Operation,
            and_(
                col(Operation.target_id) == Reservation.id,
                col(Operation.status) == "pending",
            ),
        )
    )


def lesson_view(tx: Tx, row: Sequence[Any]) -> LessonView:
    reservation, teacher, student, category, pending = row
    grid, zone = tx.settings.grid, tx.settings.zone
    day = reservation.week.toordinal() + reservation.day
    return LessonView(
        id=reservation.id,
        teacher=teacher,
        student=student,
        teacher_id=reservation.teacher_id,
        student_id=reservation.student_id,
        category=category,
        week=format_week(reservation.week),
        date=date.fromordinal(day).isoformat(),
        day=reservation.day,
        start=grid.format_slot(reservation.start_slot),
        end=grid.format_slot(reservation.end_slot),
        duration_minutes=grid.minutes(reservation.start_slot, reservation.end_slot),
        starts_at=reservation.starts_at.astimezone(zone).isoformat(),
        ends_at=reservation.ends_at.astimezone(zone).isoformat(),
        status=reservation.status,
        pending=pending,
        session_id=reservation.session_id,
        price_cents=reservation.price_cents,
    )


def week_lessons(
    tx: Tx, user_ids: Iterable[int], week: date, statuses: Sequence[str] = VISIBLE
) -> list[LessonView]:
    """Every lesson of the week where one of ``user_ids`` is teacher or student: one query."""
    ids = sorted(set(user_ids))
    query = (
        lesson_query()
        .where(
            Reservation.week == week,
            col(Reservation.status).in_(statuses),
            or_(col(Reservation.teacher_id).in_(ids), col(Reservation.student_id).in_(ids)),
        )
        .order_by(col(Reservation.day), col(Reservation.start_slot), col(Reservation.id))
    )
    return [lesson_view(tx, row) for row in tx.session.execute(query)]


def overlapping(
    tx: Tx,
    person_ids: Iterable[int],
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    as_teacher_only: bool = False,
    exclude: Iterable[int] = (),
) -> list[LessonView]:
    """Live lessons of these people (as teacher or student) overlapping [start, end) that day."""
    params = {
        "ids": sorted(set(person_ids)),
        "week": week,
        "day": day,
        "start": start,
        "end": end,
        "exclude": list(exclude),
    }
    query = _OVERLAP_AS_TEACHER if as_teacher_only else _OVERLAP
    return [lesson_view(tx, row) for row in tx.session.execute(query, params)]


def _overlap_query(as_teacher_only: bool) -> Any:
    """Built once per variant: the check runs in every reserve and move (bound parameters)."""
    ids: Any = bindparam("ids", expanding=True)
    who = (
        col(Reservation.teacher_id).in_(ids)
        if as_teacher_only
        else or_(col(Reservation.teacher_id).in_(ids), col(Reservation.student_id).in_(ids))
    )
    return (
        lesson_query()
        .where(
            Reservation.week == bindparam("week"),
            Reservation.day == bindparam("day"),
            col(Reservation.status).in_(LIVE),
            col(Reservation.start_slot) < bindparam("end"),
            col(Reservation.end_slot) > bindparam("start"),
            col(Reservation.id).not_in(bindparam("exclude", expanding=True)),
            who,
        )
        .order_by(col(Reservation.id))
    )


_OVERLAP = _overlap_query(as_teacher_only=False)
_OVERLAP_AS_TEACHER = _overlap_query(as_teacher_only=True)


def describe(lesson: LessonView) -> str:
    """``lesson 12 (alice teaching bob, maths, Tue 2026-11-24 10:00-11:00, booked)``."""
    return (
        f"lesson {lesson.id} ({lesson.teacher} teaching {lesson.student}, {lesson.category}, "
        f"{lesson.date} {lesson.start}-{lesson.end}, {lesson.status})"
    )

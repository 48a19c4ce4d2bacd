"""``report hours [--by teacher|student|category]``: lesson hours by the date they take place.

Booked, done, cancelled (with notice), late-cancelled (the teacher is paid for it) and moved
away: one grouped scan of the period's lessons, through the index on ``starts_at``.
"""

from __future__ import annotations

from dataclasses import fields

from sqlalchemy import and_, case, literal, select

from tutorctl.core.errors import InputError
from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus
from tutorctl.core.views import HoursReport, HoursRow
from tutorctl.db.tables import categories as C
from tutorctl.db.tables import operations as O
from tutorctl.db.tables import reservations as R
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.reports.grouping import name_of, total
from tutorctl.services.reports.period import Period

HOURS_BY = ("teacher", "student", "category")
_COUNTED = (LessonStatus.BOOKED, LessonStatus.DONE, LessonStatus.CANCELLED)


def hours(tx: Tx, span: Period, by: str = "teacher") -> HoursReport:
    if by not in HOURS_BY:
        raise InputError(f"bad --by {by!r}: use {', '.join(HOURS_BY)}")
    minutes = (R.c.end_slot - R.c.start_slot) * literal(tx.settings.slot_minutes)
    # whether a move cancelled the lesson: a scalar subquery, looked up through the index on
    # target_id for the few cancelled lessons only (PostgreSQL would run an EXISTS as one
    # hashed pass over every applied move the school ever made)
    moved = (
        select(O.c.id)
        .where(
            O.c.target_id == R.c.id,
            O.c.status == OperationStatus.APPLIED,
            O.c.kind == OperationKind.MOVE,
        )
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    was_cancelled = R.c.status == LessonStatus.CANCELLED
    cancelled = and_(was_cancelled, R.c.late_cancel.is_(False))
    late = and_(was_cancelled, R.c.late_cancel.is_(True))
    key = {"teacher": R.c.teacher_id, "student": R.c.student_id, "category": R.c.category_id}[by]
    grouped = (
        select(
            key.label("key"),
            total(case((R.c.status.in_(_COUNTED[:2]), 1), else_=0)).label("lessons"),
            total(case((R.c.status == LessonStatus.BOOKED, minutes), else_=0)).label("booked"),
            total(case((R.c.status == LessonStatus.DONE, minutes), else_=0)).label("done"),
            total(case((and_(cancelled, ~moved), minutes), else_=0)).label("cancelled"),
            total(case((late, minutes), else_=0)).label("late"),
            total(case((and_(cancelled, moved), minutes), else_=0)).label("moved"),
        )
        .where(span.during(R.c.starts_at), R.c.status.in_(_COUNTED))
        .group_by(key)
        .subquery("grouped")
    )
    names = C if by == "category" else U
    label = names.c.name if by == "category" else names.c.handle
    query = select(name_of(label, names.c.id, grouped.c.key), grouped).order_by("name")
    rows = [
        _hours_row(
            row.name, row.key, row.lessons, row.booked, row.done, row.cancelled, row.late, row.moved
        )
        for row in tx.run(query)
    ]
    whole = _hours_row(
        "total", None, *(sum(getattr(r, f.name) for r in rows) for f in fields(HoursRow)[2:8])
    )
    return HoursReport(period=span.view(tx), by=by, rows=rows, total=whole)


def _hours_row(
    name: str, key: int | None, lessons: int, booked: int, done: int, cancelled: int,
    late: int, moved: int,
) -> HoursRow:  # fmt: skip
    return HoursRow(
        name=name,
        id=key,
        lessons=int(lessons),
        booked_minutes=int(booked),
        done_minutes=int(done),
        cancelled_minutes=int(cancelled),
        late_cancelled_minutes=int(late),
        moved_minutes=int(moved),
        payable_minutes=int(done) + int(late),
    )

"""Lessons (reservations) as read models, and the one query that reads a person's week."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, literal_column, or_, select, union_all

from tutorctl.core.calendar import format_week
from tutorctl.core.status import LIVE, LessonStatus, OperationStatus
from tutorctl.core.views import LessonView
from tutorctl.db.prepared import Prepared
from tutorctl.db.tables import categories as _C
from tutorctl.db.tables import operations as _O
from tutorctl.db.tables import reservations as R
from tutorctl.db.tables import users
from tutorctl.db.uow import Tx

# what a new lesson's insert names (its id comes back, or an import allocates it)
NEW_LESSON_COLUMNS = (
    "teacher_id", "student_id", "category_id", "week", "day", "start_slot", "end_slot",
    "starts_at", "ends_at", "status", "price_cents", "rate_cents", "session_id", "unfunded",
    "late_cancel", "created_at",
)  # fmt: skip
VISIBLE = (*LIVE, LessonStatus.DONE)

_T = users.alias("teacher_user")
_S = users.alias("student_user")


def lesson_query() -> Any:
    """Flat Core rows: the reservation's columns, both handles, the category and any pending
    cancel/move kind (no ORM objects: read paths and the booking checks run it all the time)."""
    return (
        select(
            R.c.id,
            R.c.teacher_id,
            R.c.student_id,
            R.c.week,
            R.c.day,
            R.c.start_slot,
            R.c.end_slot,
            R.c.starts_at,
            R.c.ends_at,
            R.c.status,
            R.c.session_id,
            R.c.price_cents,
            _T.c.handle.label("teacher"),
            _S.c.handle.label("student"),
            _C.c.name.label("category"),
            _O.c.kind.label("pending"),
        )
        .select_from(R)
        .join(_T, _T.c.id == R.c.teacher_id)
        .join(_S, _S.c.id == R.c.student_id)
        .join(_C, _C.c.id == R.c.category_id)
        .outerjoin(_O, and_(_O.c.target_id == R.c.id, _O.c.status == OperationStatus.PENDING))
    )


def new_lesson_row(
    tx: Tx,
    teacher_id: int,
    student_id: int,
    category_id: int,
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    status: LessonStatus,
    price_cents: int,
    rate_cents: int | None,
    session_id: int | None,
    unfunded: bool = False,
    span: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """The one shape of a new lesson row (``NEW_LESSON_COLUMNS``): reserve and move insert it
    with ``insert_lessons``; an import adds its allocated ``id`` and inserts a batch. ``span``:
    its (starts at, ends at) when the caller has them already (an import converts each
    distinct date and time once)."""
    if span is None:
        grid, zone = tx.settings.grid, tx.settings.zone
        span = grid.instant(zone, week, day, start), grid.instant(zone, week, day, end)
    return {
        "teacher_id": teacher_id,
        "student_id": student_id,
        "category_id": category_id,
        "week": week,
        "day": day,
        "start_slot": start,
        "end_slot": end,
        "starts_at": span[0],
        "ends_at": span[1],
        "status": status,
        "price_cents": price_cents,
        "rate_cents": rate_cents,
        "session_id": session_id,
        "unfunded": unfunded,
        "late_cancel": False,
        "created_at": tx.now,
    }


NEW_LESSON = Prepared(insert(R).returning(R.c.id), keys=NEW_LESSON_COLUMNS)


def insert_lessons(tx: Tx, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Insert rows of ``new_lesson_row``; their new ids, in order."""
    return [int(tx.run(NEW_LESSON, row)[0].id) for row in rows]


def lessons_by_id(tx: Tx, ids: Iterable[int | None]) -> dict[int, LessonView]:
    """The lessons of these ids as read models (one query)."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = tx.run(lesson_query().where(R.c.id.in_(wanted)))
    return {view.id: view for view in (lesson_view(tx, row) for row in rows)}


def lesson_view(tx: Tx, row: Any) -> LessonView:
    """A LessonView of one row of ``lesson_query()`` (or anything with the same attributes)."""
    grid, zone = tx.settings.grid, tx.settings.zone
    return LessonView(
        id=row.id,
        teacher=row.teacher,
        student=row.student,
        teacher_id=row.teacher_id,
        student_id=row.student_id,
        category=row.category,
        week=format_week(row.week),
        date=date.fromordinal(row.week.toordinal() + row.day).isoformat(),
        day=row.day,
        start=grid.format_slot(row.start_slot),
        end=grid.format_slot(row.end_slot),
        duration_minutes=grid.minutes(row.start_slot, row.end_slot),
        starts_at=row.starts_at.astimezone(zone).isoformat(),
        ends_at=row.ends_at.astimezone(zone).isoformat(),
        status=row.status,
        pending=row.pending,
        session_id=row.session_id,
        price_cents=row.price_cents,
    )


def week_lessons(
    tx: Tx, user_ids: Iterable[int], week: date, statuses: Sequence[str] = VISIBLE
) -> list[LessonView]:
    """Every lesson of the week where one of ``user_ids`` is teacher or student: one query."""
    params = {"ids": sorted(set(user_ids)), "week": week, "statuses": list(statuses)}
    return [lesson_view(tx, row) for row in tx.run(_WEEK, params)]


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
    """Live lessons of one or two people (as teacher or student) overlapping [start, end)
    that day, leaving out at most two lessons (a move's own)."""
    people, left_out = sorted(set(person_ids)), list(exclude)
    if not 1 <= len(people) <= 2 or len(left_out) > 2:
        raise ValueError("overlapping() takes one or two people and excludes at most two lessons")
    p0, p1 = (people * 2)[:2]
    x0, x1 = [*left_out, 0, 0][:2]  # ids start at 1
    params: dict[str, Any] = {"p0": p0, "p1": p1, "x0": x0, "x1": x1, "week": week}
    params.update(day=day, start=start, end=end)
    query = _OVERLAP_AS_TEACHER if as_teacher_only else _OVERLAP
    return [lesson_view(tx, row) for row in tx.run(query, params)]


_LIVE_INLINE: list[Any] = [
    literal_column(f"'{status.value}'") for status in LIVE
]  # constants, in the SQL text


def _overlap_query(as_teacher_only: bool) -> Any:
    """Built once per variant with plain bound parameters (no expanding lists to render): the
    check runs in every reserve and move.

    The candidates come from the (teacher, week, day) and (student, week, day) indexes as an
    ``id IN (… UNION ALL …)``: with ``teacher_id IN … OR student_id IN …`` SQLite walked
    every live lesson through the status index, a reserve slowing down as the school grew.
    """
    ids: Any = (bindparam("p0"), bindparam("p1"))
    same_day = (R.c.week == bindparam("week"), R.c.day == bindparam("day"))
    candidates: Any = select(R.c.id).where(R.c.teacher_id.in_(ids), *same_day)
    if not as_teacher_only:
        candidates = union_all(candidates, select(R.c.id).where(R.c.student_id.in_(ids), *same_day))
    return (
        lesson_query()
        .where(
            R.c.id.in_(candidates),
            R.c.status.in_(_LIVE_INLINE),
            R.c.start_slot < bindparam("end"),
            R.c.end_slot > bindparam("start"),
            R.c.id.not_in((bindparam("x0"), bindparam("x1"))),
        )
        .order_by(R.c.id)
    )


_OVERLAP = Prepared(_overlap_query(as_teacher_only=False))
_OVERLAP_AS_TEACHER = Prepared(_overlap_query(as_teacher_only=True))
_WEEK_IDS: Any = bindparam("ids", expanding=True)
_WEEK = (
    lesson_query()
    .where(
        R.c.week == bindparam("week"),
        R.c.status.in_(bindparam("statuses", expanding=True)),
        or_(R.c.teacher_id.in_(_WEEK_IDS), R.c.student_id.in_(_WEEK_IDS)),
    )
    .order_by(R.c.day, R.c.start_slot, R.c.id)
)


def describe(lesson: LessonView) -> str:
    """``lesson 12 (alice teaching bob, maths, Tue 2026-11-24 10:00-11:00, booked)``."""
    return (
        f"lesson {lesson.id} ({lesson.teacher} teaching {lesson.student}, {lesson.category}, "
        f"{lesson.date} {lesson.start}-{lesson.end}, {lesson.status})"
    )

"""Booking sessions: reserve, cancel and move as operations in a student's open session.

A reserve (or a move's new place) creates a ``held`` lesson that blocks its slots for everyone
until the session ends; a cancel or move names a ``booked`` lesson and leaves it booked until
the session is applied (money: ``services.payments``). Every rule of SPEC §5 is checked after
the lock, against held and booked lessons of both people.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, text
from sqlmodel import col, select

from tutorctl.core.errors import InputError, NotFoundError, RuleError
from tutorctl.core.money import prorate
from tutorctl.core.timegrid import DAY_NAMES, format_week
from tutorctl.core.views import (
    BookingResultView,
    HistoryEntryView,
    HistoryView,
    LessonView,
    OperationView,
    SessionListView,
    SessionSummaryView,
    SessionView,
)
from tutorctl.db.schema import (
    BookingSession,
    Category,
    History,
    HistoryUser,
    IdempotencyKey,
    Operation,
    Reservation,
    User,
)
from tutorctl.db.uow import Prepared, Tx, WeekKey
from tutorctl.services.lessons import (
    NEW_LESSON_COLUMNS,
    describe,
    lesson_query,
    lesson_view,
    overlapping,
)
from tutorctl.services.users import (
    Person,
    find_category_ref,
    find_pair,
    find_user,
)

MAX_REPEAT = 104
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class Who(Protocol):
    """A user as the rules read it: an ORM ``User`` or a Core ``Person``."""

    @property
    def id(self) -> int | None: ...
    @property
    def handle(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


class What(Protocol):
    """A category as the rules read it: an ORM ``Category`` or a Core ``CategoryRef``."""

    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...


# -- sessions ---------------------------------------------------------------------------------


def get_session(tx: Tx, session_id: int) -> BookingSession:
    session = tx.session.get(BookingSession, session_id)
    if session is None:
        raise NotFoundError(f"no session {session_id}: see `tutorctl session list`")
    return session


def require_status(session: BookingSession, *statuses: str, doing: str = "accept changes") -> None:
    if session.status not in statuses:
        wanted = " or ".join(statuses)
        raise RuleError(
            f"session {session.id} is {session.status}: only a session that is {wanted} can {doing}"
        )


OPEN_SESSION = select(BookingSession).where(
    BookingSession.student_id == bindparam("student"), BookingSession.status == "open"
)


def session_for(tx: Tx, student: Who, session_id: int | None) -> BookingSession:
    """The named session (open, this student's) or the student's open one, created if none."""
    if session_id is not None:
        session = get_session(tx, session_id)
        if session.student_id != student.id:
            raise RuleError(
                f"session {session_id} belongs to another student, not {student.handle}"
            )
        require_status(session, "open")
        return session
    current = tx.session.exec(OPEN_SESSION, params={"student": student.id}).first()
    if current is not None:
        return current
    created = BookingSession(
        student_id=student.id or 0, status="open", created_at=tx.now, touched_at=tx.now
    )
    tx.session.add(created)
    tx.session.flush()
    return created


# -- the rules of a lesson (SPEC §5) ------------------------------------------------------------


def _place_label(tx: Tx, week: date, day: int, start: int, end: int) -> str:
    when = (week + timedelta(days=day)).isoformat()
    return f"{DAY_NAMES[day].capitalize()} {when} {tx.settings.grid.format_range(start, end)}"


def check_place(
    tx: Tx,
    teacher: Who,
    student: Who,
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    exclude: Iterable[int] = (),
    history: bool = False,
) -> str | None:
    """Why this lesson cannot be held here, or None. The weeks must be locked already."""
    grid, zone = tx.settings.grid, tx.settings.zone
    label = _place_label(tx, week, day, start, end)
    if end > grid.slots_per_day or start < 0 or start >= end:
        return f"{label}: a lesson starts before it ends, within one day"
    missing = grid.missing_slots(zone, week, day, start, end)
    if missing:
        return (
            f"{label}: {grid.format_slot(missing[0])} does not exist in {tx.settings.timezone} "
            "that day (the clocks spring forward)"
        )
    real = grid.instant(zone, week, day, end) - grid.instant(zone, week, day, start)
    billed = grid.minutes(start, end)
    if real != timedelta(minutes=billed):
        return (
            f"{label} spans a change of the clocks in {tx.settings.timezone}: it would last "
            f"{int(real.total_seconds()) // 60} real minutes but be billed {billed}; a lesson "
            "cannot cover the hour that repeats when the clocks go back: book before or after it"
        )
    if not history:
        starts_at = grid.instant(zone, week, day, start)
        if starts_at < tx.now:
            return f"{label} is in the past"
        notice = tx.settings.min_notice_hours
        if notice and starts_at < tx.now + timedelta(hours=notice):
            return f"{label} starts in less than the minimum booking notice of {notice} h"
    assert teacher.id is not None and student.id is not None
    availability = tx.locked_weeks.availability((teacher.id, week), day)
    closed = [slot for slot in range(start, end) if availability[slot] != "1"]
    if closed and not history:
        return (
            f"{teacher.handle} is not available {label} ({grid.format_slot(closed[0])} is closed)"
        )
    clashes = overlapping(tx, [teacher.id, student.id], week, day, start, end, exclude=exclude)
    if clashes:
        return f"{label} clashes with {describe(clashes[0])}"
    return None


def _require_active(teacher: Who, student: Who, category: What) -> None:
    for user in (teacher, student):
        if not user.active:
            raise RuleError(f"{user.role} {user.handle!r} is inactive")
    if not category.active:
        raise RuleError(f"category {category.name!r} is inactive")


def _new_lesson(
    tx: Tx,
    session: BookingSession,
    teacher: User,
    student: User,
    category: Category,
    week: date,
    day: int,
    start: int,
    end: int,
    price_cents: int,
    rate_cents: int | None,
) -> Reservation:
    grid, zone = tx.settings.grid, tx.settings.zone
    lesson = Reservation(
        teacher_id=teacher.id or 0,
        student_id=student.id or 0,
        category_id=category.id or 0,
        week=week,
        day=day,
        start_slot=start,
        end_slot=end,
        starts_at=grid.instant(zone, week, day, start),
        ends_at=grid.instant(zone, week, day, end),
        status="held",
        price_cents=price_cents,
        rate_cents=rate_cents,
        session_id=session.id,
        created_at=tx.now,
    )
    tx.session.add(lesson)
    return lesson


def _moved_price(tx: Tx, lesson: Reservation, start: int, end: int) -> tuple[int, int | None]:
    """A moved lesson keeps its hourly price: the new length at the rate it was chosen at, as
    a new booking at that rate would cost (lessons from before rates were kept: pro rata of
    their price)."""
    minutes = tx.settings.grid.minutes(start, end)
    if lesson.rate_cents is not None:
        return prorate(lesson.rate_cents, minutes), lesson.rate_cents
    old = tx.settings.grid.minutes(lesson.start_slot, lesson.end_slot)
    return (lesson.price_cents * minutes * 2 + old) // (2 * old), None


def _operation(
    tx: Tx,
    session: BookingSession,
    kind: str,
    target: int | None,
    new: int | None,
    waive_notice: bool = False,
) -> Operation:
    operation = Operation(
        session_id=session.id or 0,
        kind=kind,
        status="pending",
        target_id=target,
        new_id=new,
        created_at=tx.now,
        waive_notice=waive_notice,
    )
    tx.session.add(operation)
    session.touched_at = tx.now
    tx.session.add(session)
    tx.session.flush()
    return operation


def lessons_by_id(tx: Tx, ids: Iterable[int]) -> dict[int, LessonView]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = tx.session.execute(lesson_query().where(col(Reservation.id).in_(wanted)))
    return {view.id: view for view in (lesson_view(tx, row) for row in rows)}


# -- idempotency --------------------------------------------------------------------------------


def idempotent(
    tx: Tx,
    key: str | None,
    request: dict[str, Any],
    student_id: int,
    action: Callable[[], BookingResultView],
) -> BookingResultView:
    """Run ``action`` once per key: a retry returns the first result; another request is refused.

    The key is read after the student's account is locked (the lock that serialises their
    sessions), so concurrent retries of one call queue there and the later ones find the key
    the first one stored; a key reused for another student's request collides on the key's
    primary key, the transaction is retried and then finds the key.
    """
    if key is None:
        return action()
    if not _KEY.match(key):
        raise InputError(
            f"bad idempotency key {key!r}: use 1-200 printable characters without spaces"
        )
    canonical = json.dumps(request, sort_keys=True, default=str)
    tx.lock(accounts=[student_id])
    row = tx.session.get(IdempotencyKey, key)
    if row is not None:
        if row.request != canonical:
            raise RuleError(f"idempotency key {key!r} was already used for a different request")
        stored = json.loads(row.result)
        # the first call's ids, with what became of them since (a hold may have expired)
        ids = [lesson["id"] for lesson in stored["lessons"]]
        now = lessons_by_id(tx, ids)
        stored["lessons"] = [
            now.get(i) or LessonView(**old) for i, old in zip(ids, stored["lessons"], strict=True)
        ]
        if stored["kind"] == "cancel":
            operation = tx.session.get(Operation, stored["operation_id"])
            stored["status"] = operation.status if operation is not None else stored["status"]
        else:
            stored["status"] = stored["lessons"][0].status
        stored["replayed"] = True
        tx.audit(f"replay {key}", key=key)
        return BookingResultView(**stored)
    result = action()
    tx.session.add(
        IdempotencyKey(
            key=key, request=canonical, result=json.dumps(asdict(result)), created_at=tx.now
        )
    )
    return result


# -- reserve, cancel, move ---------------------------------------------------------------------


_BS = BookingSession.__table__  # type: ignore[attr-defined]
_R = Reservation.__table__  # type: ignore[attr-defined]
_OP = Operation.__table__  # type: ignore[attr-defined]
# The same SQL on SQLite and PostgreSQL: an upsert on the partial unique index "one open
# session per student" finds and touches the open session, or creates it.
OPEN_SESSION_UPSERT = Prepared(
    text(
        "INSERT INTO booking_sessions (student_id, status, created_at, touched_at)"
        " VALUES (:student, 'open', :now, :now)"
        " ON CONFLICT (student_id) WHERE status = 'open'"
        " DO UPDATE SET touched_at = excluded.touched_at RETURNING id"
    )
    .bindparams(bindparam("now", type_=_BS.c.touched_at.type))
    .columns(_BS.c.id)
)
NEW_LESSON = Prepared(insert(_R).returning(_R.c.id), keys=NEW_LESSON_COLUMNS)
NEW_OPERATION = Prepared(
    insert(_OP).returning(_OP.c.id),
    keys=("session_id", "kind", "status", "target_id", "new_id", "created_at"),
)


def _open_session_id(tx: Tx, student: Person, session_id: int | None) -> int:
    """session_for, touched now, in Core: one upsert finds (or opens) and touches it."""
    if session_id is not None:
        session = session_for(tx, student, session_id)
        session.touched_at = tx.now
        tx.session.add(session)
        return session.id or 0
    ((opened,),) = tx.run(OPEN_SESSION_UPSERT, {"student": student.id, "now": tx.now})
    return int(opened)


def reserve(
    tx: Tx,
    teacher_ref: str,
    student_ref: str,
    category_ref: str,
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    repeat: int = 1,
    session_id: int | None = None,
    key: str | None = None,
) -> BookingResultView:
    """Hold a lesson (or the same weekday and time for ``repeat`` weeks, all or nothing).

    The hottest path of the product: about ten prepared Core statements, locks included
    (compiled once, run on the driver's cursor; no ORM objects).
    """
    if not 1 <= repeat <= MAX_REPEAT:
        raise InputError(f"bad --repeat {repeat}: use 1..{MAX_REPEAT} weeks")
    teacher, student = find_pair(tx, teacher_ref, student_ref)
    category = find_category_ref(tx, category_ref)
    weeks = [week + timedelta(weeks=i) for i in range(repeat)]
    request = {
        "kind": "reserve",
        "teacher": teacher.id,
        "student": student.id,
        "category": category.id,
        "weeks": [w.isoformat() for w in weeks],
        "day": day,
        "start": start,
        "end": end,
        "session": session_id,
    }

    def action() -> BookingResultView:
        tx.lock(
            accounts=[student.id],  # the account also serialises the student's sessions
            weeks=[(person, w) for w in weeks for person in (teacher.id, student.id)],
        )
        _require_active(teacher, student, category)
        session = _open_session_id(tx, student, session_id)
        problems = []
        for w in weeks:
            problem = check_place(tx, teacher, student, w, day, start, end)
            if problem:
                problems.append(f"{format_week(w)}: {problem}" if repeat > 1 else problem)
        if problems:
            if repeat > 1:
                raise RuleError(
                    f"refused, {len(problems)} of {repeat} weeks clash — " + "; ".join(problems)
                )
            raise RuleError(f"refused: {problems[0]}")
        grid, zone = tx.settings.grid, tx.settings.zone
        price = prorate(category.price_cents, grid.minutes(start, end))
        rows = [
            {
                "teacher_id": teacher.id,
                "student_id": student.id,
                "category_id": category.id,
                "week": w,
                "day": day,
                "start_slot": start,
                "end_slot": end,
                "starts_at": grid.instant(zone, w, day, start),
                "ends_at": grid.instant(zone, w, day, end),
                "status": "held",
                "price_cents": price,
                "rate_cents": category.price_cents,
                "session_id": session,
                "unfunded": False,
                "late_cancel": False,
                "created_at": tx.now,
            }
            for w in weeks
        ]
        lesson_ids = [tx.run(NEW_LESSON, row)[0].id for row in rows]
        operation_ids = [
            tx.run(
                NEW_OPERATION,
                {
                    "session_id": session,
                    "kind": "reserve",
                    "status": "pending",
                    "target_id": None,
                    "new_id": lesson_id,
                    "created_at": tx.now,
                },
            )[0].id
            for lesson_id in lesson_ids
        ]
        names = {"teacher": teacher.handle, "student": student.handle, "category": category.name}
        lessons = [
            lesson_view(tx, SimpleNamespace(id=i, pending=None, **names, **row))
            for i, row in zip(lesson_ids, rows, strict=True)
        ]
        tx.audit(
            f"reserve {teacher.handle}/{student.handle}",
            users=[teacher.id, student.id],
            session_id=session,
            reservations=lesson_ids,
            operations=operation_ids,
            weeks=[format_week(w) for w in weeks],
            day=DAY_NAMES[day],
            hours=grid.format_range(start, end),
            category=category.name,
        )
        return BookingResultView(
            session_id=session,
            operation_id=operation_ids[0],
            reservation_id=lesson_ids[0],
            status="held",
            kind="reserve",
            operation_ids=operation_ids,
            reservation_ids=lesson_ids,
            lessons=lessons,
        )

    return idempotent(tx, key, request, student.id, action)


def _booked_target(
    tx: Tx, reservation_id: int, extra_weeks: Iterable[WeekKey] = ()
) -> tuple[Reservation, User, User]:
    lesson = tx.session.get(Reservation, reservation_id)
    if lesson is None:
        raise NotFoundError(f"no lesson {reservation_id}")
    keys = {(lesson.teacher_id, lesson.week), (lesson.student_id, lesson.week), *extra_weeks}
    tx.lock(accounts=[lesson.student_id], weeks=keys)
    tx.session.refresh(lesson)  # re-read under the lock
    if lesson.status != "booked":
        raise RuleError(
            f"lesson {reservation_id} is {lesson.status}: only a booked lesson can be cancelled or moved"
        )
    pending = tx.session.exec(
        select(Operation).where(Operation.target_id == lesson.id, Operation.status == "pending")
    ).first()
    if pending is not None:
        raise RuleError(
            f"lesson {reservation_id} already has a pending {pending.kind} "
            f"(operation {pending.id} in session {pending.session_id})"
        )
    if lesson.starts_at <= tx.now:
        raise RuleError(f"lesson {reservation_id} has already started")
    teacher = tx.session.get(User, lesson.teacher_id)
    student = tx.session.get(User, lesson.student_id)
    assert teacher is not None and student is not None
    return lesson, teacher, student


def _lesson_or_missing(tx: Tx, reservation_id: int) -> Reservation:
    lesson = tx.session.get(Reservation, reservation_id)
    if lesson is None:
        raise NotFoundError(f"no lesson {reservation_id}")
    return lesson


def late_by_notice(tx: Tx, starts_at: Any) -> bool:
    """Whether a cancel or move applied now is inside the cancellation notice (SPEC §5)."""
    return bool(starts_at - tx.now < timedelta(hours=tx.settings.cancel_notice_hours))


def cancel(
    tx: Tx,
    reservation_id: int,
    *,
    session_id: int | None = None,
    key: str | None = None,
    waive_notice: bool = False,
) -> BookingResultView:
    """Plan the cancellation of a booked lesson in the student's open session.

    Inside the cancellation notice it is a late cancel (not refunded) unless staff waive the
    notice (``waive_notice``: a full refund, e.g. the teacher is ill; recorded in history).
    """
    request = {
        "kind": "cancel",
        "reservation": reservation_id,
        "session": session_id,
        "waive_notice": waive_notice,
    }
    student_id = _lesson_or_missing(tx, reservation_id).student_id

    def action() -> BookingResultView:
        lesson, teacher, student = _booked_target(tx, reservation_id)
        session = session_for(tx, student, session_id)
        operation = _operation(tx, session, "cancel", lesson.id, None, waive_notice)
        tx.audit(
            f"cancel lesson {lesson.id}",
            users=[teacher.id or 0, student.id or 0],
            session_id=session.id,
            reservation=lesson.id,
            operation=operation.id,
            **({"waive_notice": True} if waive_notice else {}),
        )
        views = lessons_by_id(tx, [reservation_id])
        return BookingResultView(
            session_id=session.id or 0,
            operation_id=operation.id or 0,
            reservation_id=lesson.id,
            status="pending",
            kind="cancel",
            operation_ids=[operation.id or 0],
            reservation_ids=[lesson.id or 0],
            lessons=list(views.values()),
        )

    return idempotent(tx, key, request, student_id, action)


def move(
    tx: Tx,
    reservation_id: int,
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    session_id: int | None = None,
    key: str | None = None,
    waive_notice: bool = False,
) -> BookingResultView:
    """Plan a move (any week, day, time or length): holds the new place at once.

    Inside the cancellation notice a move is refused unless staff waive the notice."""
    request = {
        "kind": "move",
        "reservation": reservation_id,
        "week": week.isoformat(),
        "day": day,
        "start": start,
        "end": end,
        "session": session_id,
        "waive_notice": waive_notice,
    }
    original = _lesson_or_missing(tx, reservation_id)

    def action() -> BookingResultView:
        extra = [(original.teacher_id, week), (original.student_id, week)]
        lesson, teacher, student = _booked_target(tx, reservation_id, extra)
        if (lesson.week, lesson.day, lesson.start_slot, lesson.end_slot) == (week, day, start, end):
            raise RuleError(f"lesson {lesson.id} is already at that place")
        if late_by_notice(tx, lesson.starts_at) and not waive_notice:
            raise RuleError(
                f"lesson {lesson.id} starts in less than the {tx.settings.cancel_notice_hours} h "
                "cancellation notice: a late move is refused (staff may give --waive-notice)"
            )
        category = tx.session.get(Category, lesson.category_id)
        assert category is not None
        _require_active(teacher, student, category)
        session = session_for(tx, student, session_id)
        problem = check_place(tx, teacher, student, week, day, start, end, exclude=[lesson.id or 0])
        if problem:
            raise RuleError(f"refused: {problem}")
        new = _new_lesson(
            tx,
            session,
            teacher,
            student,
            category,
            week,
            day,
            start,
            end,
            *_moved_price(tx, lesson, start, end),
        )
        tx.session.flush()
        operation = _operation(tx, session, "move", lesson.id, new.id, waive_notice)
        tx.audit(
            f"move lesson {lesson.id}",
            users=[teacher.id or 0, student.id or 0],
            session_id=session.id,
            reservation=lesson.id,
            new_reservation=new.id,
            operation=operation.id,
            to=_place_label(tx, week, day, start, end),
            **({"waive_notice": True} if waive_notice else {}),
        )
        views = lessons_by_id(tx, [new.id or 0, lesson.id or 0])
        return BookingResultView(
            session_id=session.id or 0,
            operation_id=operation.id or 0,
            reservation_id=new.id,
            status="held",
            kind="move",
            operation_ids=[operation.id or 0],
            reservation_ids=[new.id or 0],
            lessons=[views[new.id or 0], views[lesson.id or 0]],
        )

    return idempotent(tx, key, request, original.student_id, action)


# -- drop and abandon ----------------------------------------------------------------------------


def _lock_operations(tx: Tx, operations: list[Operation]) -> dict[int, Reservation]:
    """Lock the weeks of every lesson these operations hold or target; return those lessons.

    Call it with the student's account already locked, so the operations cannot change meanwhile.
    """
    ids = {i for op in operations for i in (op.new_id, op.target_id) if i is not None}
    found: list[Reservation] = []
    if ids:
        found = list(
            tx.session.exec(select(Reservation).where(col(Reservation.id).in_(sorted(ids))))
        )
    lessons = {r.id: r for r in found if r.id is not None}
    tx.lock(
        weeks={
            key
            for r in lessons.values()
            for key in ((r.teacher_id, r.week), (r.student_id, r.week))
        }
    )
    return lessons


def release(
    tx: Tx, operation: Operation, lessons: dict[int, Reservation], status: str = "abandoned"
) -> None:
    """Abandon a pending operation and release the hold it made, if any."""
    operation.status = status
    operation.applied_at = tx.now
    tx.session.add(operation)
    if operation.new_id is not None:
        held = lessons[operation.new_id]
        if held.status == "held":
            held.status = "released"
            tx.session.add(held)


def pending_operations(tx: Tx, session_id: int) -> list[Operation]:
    return list(
        tx.session.exec(
            select(Operation)
            .where(Operation.session_id == session_id, Operation.status == "pending")
            .order_by(col(Operation.id))
        )
    )


def drop(tx: Tx, session_id: int, operation_id: int) -> SessionView:
    """Remove one operation from an open session and release its hold."""
    session = get_session(tx, session_id)
    operation = tx.session.get(Operation, operation_id)
    if operation is None or operation.session_id != session_id:
        raise NotFoundError(f"session {session_id} has no operation {operation_id}")
    tx.lock(accounts=[session.student_id])
    lessons = _lock_operations(tx, [operation])
    tx.session.refresh(session)
    tx.session.refresh(operation)
    require_status(session, "open")
    if operation.status != "pending":
        raise RuleError(f"operation {operation_id} is {operation.status}, not pending")
    release(tx, operation, lessons)
    session.touched_at = tx.now
    tx.session.add(session)
    tx.audit(
        f"drop operation {operation_id}",
        users=_people(lessons),
        session_id=session_id,
        operation=operation_id,
        kind=operation.kind,
    )
    return show_session(tx, session_id)


def abandon(tx: Tx, session_id: int) -> SessionView:
    """Release everything a session holds; it becomes ``abandoned``."""
    session = get_session(tx, session_id)
    tx.lock(accounts=[session.student_id])  # no operation can be added or settled meanwhile
    operations = pending_operations(tx, session_id)
    lessons = _lock_operations(tx, operations)
    tx.session.refresh(session)
    require_status(session, "open", "payment_failed", doing="be abandoned")
    for operation in operations:
        release(tx, operation, lessons)
    session.status = "abandoned"
    session.closed_at = session.touched_at = tx.now
    tx.session.add(session)
    tx.audit(
        f"abandon session {session_id}",
        users=[*_people(lessons), session.student_id],
        session_id=session_id,
        operations=[op.id for op in operations],
    )
    return show_session(tx, session_id)


def _people(lessons: dict[int, Reservation]) -> list[int]:
    return sorted({p for r in lessons.values() for p in (r.teacher_id, r.student_id)})


# -- reading ----------------------------------------------------------------------------------


def show_session(tx: Tx, session_id: int) -> SessionView:
    session = get_session(tx, session_id)
    student = tx.session.get(User, session.student_id)
    assert student is not None
    operations = list(
        tx.session.exec(
            select(Operation).where(Operation.session_id == session_id).order_by(col(Operation.id))
        )
    )
    lessons = lessons_by_id(
        tx, [i for op in operations for i in (op.new_id, op.target_id) if i is not None]
    )
    zone = tx.settings.zone
    expires = None
    if session.status == "open":
        expires = (
            (session.touched_at + timedelta(minutes=tx.settings.hold_minutes))
            .astimezone(zone)
            .isoformat()
        )
    elif session.status == "awaiting_payment" and session.payment_started_at is not None:
        deadline = session.payment_started_at + timedelta(minutes=tx.settings.payment_minutes)
        expires = deadline.astimezone(zone).isoformat()
    return SessionView(
        id=session.id or 0,
        student=student.handle,
        student_id=student.id or 0,
        status=session.status,
        created_at=session.created_at.astimezone(zone).isoformat(),
        touched_at=session.touched_at.astimezone(zone).isoformat(),
        expires_at=expires,
        operations=[
            OperationView(
                id=op.id or 0,
                kind=op.kind,
                status=op.status,
                lesson=lessons.get(op.new_id) if op.new_id else None,
                target=lessons.get(op.target_id) if op.target_id else None,
                waive_notice=op.waive_notice,
                note=op.note,
            )
            for op in operations
        ],
    )


SESSION_STATUSES = (
    "open",
    "awaiting_payment",
    "paid",
    "payment_failed",
    "applied",
    "abandoned",
    "expired",
)


def list_sessions(
    tx: Tx, student_ref: str | None = None, status: str | None = None
) -> SessionListView:
    query = select(BookingSession, User.handle).join(
        User, col(User.id) == BookingSession.student_id
    )
    if student_ref is not None:
        student = find_user(tx, student_ref, role="student")
        query = query.where(BookingSession.student_id == student.id)
    if status is not None:
        if status not in SESSION_STATUSES:
            raise InputError(f"bad status {status!r}: use one of {', '.join(SESSION_STATUSES)}")
        query = query.where(BookingSession.status == status)
    rows = list(tx.session.exec(query.order_by(col(BookingSession.id).desc()).limit(500)))
    ids = [s.id for s, _ in rows if s.id is not None]
    counts: dict[int, int] = {}
    if ids:
        for op in tx.session.exec(
            select(Operation).where(
                col(Operation.session_id).in_(ids), Operation.status == "pending"
            )
        ):
            counts[op.session_id] = counts.get(op.session_id, 0) + 1
    zone = tx.settings.zone
    return SessionListView(
        sessions=[
            SessionSummaryView(
                id=s.id or 0,
                student=handle,
                status=s.status,
                created_at=s.created_at.astimezone(zone).isoformat(),
                touched_at=s.touched_at.astimezone(zone).isoformat(),
                pending_operations=counts.get(s.id or 0, 0),
            )
            for s, handle in rows
        ]
    )


def history(
    tx: Tx,
    user_ref: str | None = None,
    session_id: int | None = None,
    since: Any = None,
    limit: int = 1000,
    before: int | None = None,
) -> HistoryView:
    """The newest ``limit`` entries matching (older than entry ``before``), oldest first."""
    query = select(History)
    entry: Any = col(History.id)
    if user_ref is not None:
        # through the (user, entry) link: its primary key is read newest first, from ``before``
        user = find_user(tx, user_ref)
        entry = col(HistoryUser.history_id)
        query = query.join(HistoryUser, entry == col(History.id)).where(
            HistoryUser.user_id == user.id
        )
    if before is not None:
        query = query.where(entry < before)
    if session_id is not None:
        query = query.where(History.session_id == session_id)
    if since is not None:
        query = query.where(col(History.at) >= since)
    rows = list(tx.session.exec(query.order_by(entry.desc()).limit(limit)))
    zone = tx.settings.zone
    return HistoryView(
        entries=[
            HistoryEntryView(
                id=h.id or 0,
                at=h.at.astimezone(zone).isoformat(),
                actor=h.actor,
                command=h.command,
                subject=h.subject,
                session_id=h.session_id,
                user_ids=[int(u) for u in h.user_ids.strip(",").split(",") if u],
                details=json.loads(h.details),
            )
            for h in reversed(rows)
        ]
    )

"""Booking: reserve, cancel and move as operations in a student's open session.

A reserve (or a move's new place) creates a ``held`` lesson that blocks its slots for everyone
until the session ends; a cancel or move names a ``booked`` lesson and leaves it booked until
the session is applied (money: ``services.settlement``). Every rule of SPEC §5
(``services.placement``) is checked after the lock, against held and booked lessons of both
people.
"""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

from sqlmodel import select

from tutorctl.core.calendar import DAY_NAMES, format_week
from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.events import ChangePlanned, LessonsHeld
from tutorctl.core.money import prorate
from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus
from tutorctl.core.views import BookingResultView, LessonView
from tutorctl.db.schema import (
    BookingSession,
    Category,
    Operation,
    Reservation,
    User,
)
from tutorctl.db.uow import Tx
from tutorctl.services.holds import Place, Touch
from tutorctl.services.idempotency import idempotent
from tutorctl.services.ids import must_get, must_id
from tutorctl.services.lessons import insert_lessons, lesson_view, lessons_by_id, new_lesson_row
from tutorctl.services.operations import add_operation, insert_operation
from tutorctl.services.placement import (
    check_place,
    late_by_notice,
    moved_price,
    place_label,
    require_active,
)
from tutorctl.services.sessions import open_session_id, session_for
from tutorctl.services.users import find_category_ref, find_pair

MAX_REPEAT = 104


# -- reserve, cancel, move ---------------------------------------------------------------------


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
        "kind": OperationKind.RESERVE,
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
        touch = Touch.of(Place(teacher.id, student.id, w) for w in weeks)
        # the account also serialises the student's sessions
        tx.lock(accounts=[student.id], weeks=touch.weeks)
        require_active(teacher, student, category)
        cart = open_session_id(tx, student, session_id)
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
        grid = tx.settings.grid
        price = prorate(category.price_cents, grid.minutes(start, end))
        rows = [
            new_lesson_row(
                tx,
                teacher.id,
                student.id,
                category.id,
                w,
                day,
                start,
                end,
                status=LessonStatus.HELD,
                price_cents=price,
                rate_cents=category.price_cents,
                session_id=cart,
            )
            for w in weeks
        ]
        lesson_ids = insert_lessons(tx, rows)
        operation_ids = [
            insert_operation(tx, cart, OperationKind.RESERVE, None, lesson_id)
            for lesson_id in lesson_ids
        ]
        names = {"teacher": teacher.handle, "student": student.handle, "category": category.name}
        lessons = [
            lesson_view(tx, SimpleNamespace(id=i, pending=None, **names, **row))
            for i, row in zip(lesson_ids, rows, strict=True)
        ]
        tx.record(
            LessonsHeld(
                cart,
                must_id(teacher),
                teacher.handle,
                must_id(student),
                student.handle,
                tuple(lesson_ids),
                tuple(operation_ids),
                tuple(format_week(w) for w in weeks),
                DAY_NAMES[day],
                grid.format_range(start, end),
                category.name,
            )
        )
        return BookingResultView(
            session_id=cart,
            operation_id=operation_ids[0],
            reservation_id=lesson_ids[0],
            status=LessonStatus.HELD,
            kind=OperationKind.RESERVE,
            operation_ids=operation_ids,
            reservation_ids=lesson_ids,
            lessons=lessons,
        )

    return idempotent(tx, key, request, student.id, action)


def _booked_target(
    tx: Tx, reservation_id: int, moved_to: date | None = None
) -> tuple[Reservation, User, User]:
    """The booked lesson a cancel or move names, with its two people, read under the locks of
    the student's account and of its week (and of the week it moves to)."""
    lesson = _lesson_or_missing(tx, reservation_id)
    place = Place(lesson.teacher_id, lesson.student_id, lesson.week)
    places = (
        [place]
        if moved_to is None
        else [place, Place(place.teacher_id, place.student_id, moved_to)]
    )
    tx.lock(accounts=[lesson.student_id], weeks=Touch.of(places).weeks)
    if lesson.status != LessonStatus.BOOKED:
        raise RuleError(
            f"lesson {reservation_id} is {lesson.status}: only a booked lesson can be cancelled or moved"
        )
    pending = tx.orm.exec(
        select(Operation).where(
            Operation.target_id == lesson.id, Operation.status == OperationStatus.PENDING
        )
    ).first()
    if pending is not None:
        raise RuleError(
            f"lesson {reservation_id} already has a pending {pending.kind} "
            f"(operation {pending.id} in session {pending.session_id})"
        )
    if lesson.starts_at <= tx.now:
        raise RuleError(f"lesson {reservation_id} has already started")
    teacher = tx.orm.get(User, lesson.teacher_id)
    student = tx.orm.get(User, lesson.student_id)
    assert teacher is not None and student is not None
    return lesson, teacher, student


def _lesson_or_missing(tx: Tx, reservation_id: int) -> Reservation:
    return must_get(tx, Reservation, reservation_id, f"no lesson {reservation_id}")


def _plan(
    tx: Tx,
    booking: BookingSession,
    lesson: Reservation,
    kind: OperationKind,
    new_id: int | None,
    waive_notice: bool,
    to: str | None = None,
) -> Operation:
    """A cancel or move (to ``to``) of ``lesson`` added to the session, and its event."""
    operation = add_operation(tx, booking, kind, must_id(lesson), new_id, waive_notice)
    tx.record(
        ChangePlanned(
            kind,
            session_id=must_id(booking),
            lesson_id=must_id(lesson),
            people=(lesson.teacher_id, lesson.student_id),
            operation_id=must_id(operation),
            waive_notice=waive_notice,
            new_lesson_id=new_id,
            to=to,
        )
    )
    return operation


def _result(
    booking: BookingSession,
    operation: Operation,
    status: str,
    reservation_id: int,
    lessons: list[LessonView],
) -> BookingResultView:
    return BookingResultView(
        session_id=must_id(booking),
        operation_id=must_id(operation),
        reservation_id=reservation_id,
        status=status,
        kind=operation.kind,
        operation_ids=[must_id(operation)],
        reservation_ids=[reservation_id],
        lessons=lessons,
    )


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
        "kind": OperationKind.CANCEL,
        "reservation": reservation_id,
        "session": session_id,
        "waive_notice": waive_notice,
    }
    student_id = _lesson_or_missing(tx, reservation_id).student_id

    def action() -> BookingResultView:
        lesson, _teacher, student = _booked_target(tx, reservation_id)
        booking = session_for(tx, student, session_id)
        operation = _plan(tx, booking, lesson, OperationKind.CANCEL, None, waive_notice)
        return _result(
            booking,
            operation,
            OperationStatus.PENDING,
            reservation_id,
            list(lessons_by_id(tx, [reservation_id]).values()),
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
        "kind": OperationKind.MOVE,
        "reservation": reservation_id,
        "week": week.isoformat(),
        "day": day,
        "start": start,
        "end": end,
        "session": session_id,
        "waive_notice": waive_notice,
    }
    student_id = _lesson_or_missing(tx, reservation_id).student_id

    def action() -> BookingResultView:
        lesson, teacher, student = _booked_target(tx, reservation_id, moved_to=week)
        if (lesson.week, lesson.day, lesson.start_slot, lesson.end_slot) == (week, day, start, end):
            raise RuleError(f"lesson {reservation_id} is already at that place")
        if late_by_notice(tx, lesson.starts_at) and not waive_notice:
            raise RuleError(
                f"lesson {reservation_id} starts in less than the "
                f"{tx.settings.cancel_notice_hours} h cancellation notice: a late move is "
                "refused (staff may give --waive-notice)"
            )
        category = tx.orm.get(Category, lesson.category_id)
        assert category is not None
        require_active(teacher, student, category)
        booking = session_for(tx, student, session_id)
        problem = check_place(tx, teacher, student, week, day, start, end, exclude=[reservation_id])
        if problem:
            raise RuleError(f"refused: {problem}")
        price, rate = moved_price(tx, lesson, start, end)
        row = new_lesson_row(
            tx,
            lesson.teacher_id,
            lesson.student_id,
            lesson.category_id,
            week,
            day,
            start,
            end,
            status=LessonStatus.HELD,
            price_cents=price,
            rate_cents=rate,
            session_id=must_id(booking),
        )
        (new_id,) = insert_lessons(tx, [row])
        to = place_label(tx, week, day, start, end)
        operation = _plan(tx, booking, lesson, OperationKind.MOVE, new_id, waive_notice, to=to)
        views = lessons_by_id(tx, [new_id, reservation_id])
        return _result(
            booking, operation, LessonStatus.HELD, new_id, [views[new_id], views[reservation_id]]
        )

    return idempotent(tx, key, request, student_id, action)

"""``schedule off``: the teacher cannot come (SPEC §10).

In one transaction: close the teacher's slots that day, release every hold there (the
sessions that chose them go on without them), and cancel every booked lesson there with a full
refund — the notice is waived, it is the school's doing. Each student's cancellations are one
booking session of their own, applied at once through the same plan as ``session confirm``
(so the refund is exactly the lesson's funding, and `lesson show` tells the story).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlmodel import col, select

from tutorctl.core.errors import RuleError
from tutorctl.core.events import CancelledForTeacher, TeacherOff
from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus, Role, SessionStatus
from tutorctl.core.views import OffLessonView, TeacherOffView
from tutorctl.db.errors import Conflict
from tutorctl.db.schema import BookingSession, Operation, Reservation, User
from tutorctl.db.uow import Tx
from tutorctl.services.funding import apply_plan
from tutorctl.services.holds import release_holds, touched
from tutorctl.services.ids import must_id
from tutorctl.services.lessons import overlapping
from tutorctl.services.operations import add_operation
from tutorctl.services.resume import compute_plan
from tutorctl.services.users import find_user


def teacher_off(
    tx: Tx, teacher_ref: str, day: date, start: int | None, end: int | None, reason: str
) -> TeacherOffView:
    teacher = find_user(tx, teacher_ref, role=Role.TEACHER)
    teacher_id = must_id(teacher)
    grid = tx.settings.grid
    first, last = (0, grid.slots_per_day) if start is None or end is None else (start, end)
    week, weekday = day - timedelta(days=day.weekday()), day.weekday()

    def live_ids() -> dict[int, int]:
        """lesson id → student id of the live lessons there (one Core read)."""
        there = overlapping(tx, [teacher_id], week, weekday, first, last, as_teacher_only=True)
        return {lesson.id: lesson.student_id for lesson in there}

    # the students' accounts first (their sessions and money), then every week touched: the
    # teacher's, the students', and those of the holds a pending move of these lessons made.
    # Which accounts to lock depends on the lessons there, read before anything is locked:
    # read again under the accounts (rows fresh from the database, not the ORM's copies of
    # the first read: a student's payment may have booked a hold meanwhile), and once more
    # under the teacher's week; if another student's lesson came in meanwhile (a reserve that
    # held the week), the whole transaction runs again (Conflict).
    students = sorted(set(live_ids().values()))
    tx.lock(accounts=students)
    under_accounts = live_ids()
    if sorted(set(under_accounts.values())) != students:
        raise Conflict(f"{teacher.handle}'s lessons that day changed while locking")
    lessons = _fresh_lessons(tx, list(under_accounts))
    ops = _pending_operations(tx, [must_id(r) for r in lessons])
    holds = [op.new_id for op in ops if op.new_id is not None]
    touch = touched(tx, lessons=[*(must_id(r) for r in lessons), *holds])
    tx.lock(weeks={(teacher_id, week), *touch.weeks})
    if live_ids().keys() != under_accounts.keys():
        raise Conflict(f"{teacher.handle}'s lessons that day changed while locking")

    carts = _sessions(tx, {op.session_id for op in ops})
    for op in ops:
        if carts[op.session_id].status == SessionStatus.AWAITING_PAYMENT:
            raise RuleError(
                f"session {op.session_id} awaits its payment and holds a lesson of "
                f"{teacher.handle} that day: settle it first (`tutorctl session pay "
                f"{op.session_id}` or let `tutorctl expire` fail it)"
            )

    names = _handles(tx, students)
    held_by = {op.new_id: op for op in ops if op.new_id is not None}
    report: list[OffLessonView] = []
    to_cancel: dict[int, list[Reservation]] = defaultdict(list)
    note = f"teacher off: {reason}"[:200]
    for lesson in lessons:
        if lesson.starts_at <= tx.now:
            report.append(_line(tx, lesson, names, "kept (already started)"))
            continue
        if lesson.status == LessonStatus.HELD:
            report.append(
                _line(tx, lesson, names, LessonStatus.RELEASED, held_by[must_id(lesson)].session_id)
            )
        # whatever a session planned for this lesson no longer makes sense
        planned = [op for op in ops if lesson.id in (op.target_id, op.new_id)]
        for op in planned:
            op.note = note
            tx.orm.add(op)
        release_holds(tx, operations=[must_id(op) for op in planned])
        if lesson.status == LessonStatus.BOOKED:
            to_cancel[lesson.student_id].append(lesson)

    for student_id, cancelled in sorted(to_cancel.items()):
        report.extend(_cancel_with_refund(tx, student_id, cancelled, reason, names))

    closed = _close(tx, teacher, week, weekday, first, last)
    tx.record(
        TeacherOff(
            teacher_id,
            teacher.handle,
            day.isoformat(),
            grid.format_range(first, last),
            reason,
            (teacher_id, *students),
            tuple((line.lesson_id, line.action) for line in report),
        )
    )
    return TeacherOffView(
        teacher=teacher.handle,
        date=day.isoformat(),
        hours=grid.format_range(first, last),
        reason=reason,
        closed_slots=closed,
        currency=tx.settings.currency,
        lessons=sorted(report, key=lambda line: (line.start, line.lesson_id)),
    )


def _fresh_lessons(tx: Tx, ids: list[int]) -> list[Reservation]:
    """These lessons as they are now (``populate_existing``: any ORM copy loaded earlier in
    the transaction is overwritten), by start slot."""
    if not ids:
        return []
    query = (
        select(Reservation)
        .where(col(Reservation.id).in_(ids))
        .execution_options(populate_existing=True)
    )
    return sorted(tx.orm.exec(query), key=lambda r: (r.start_slot, must_id(r)))


def _cancel_with_refund(
    tx: Tx, student_id: int, lessons: list[Reservation], reason: str, names: dict[int, str]
) -> list[OffLessonView]:
    """One session of cancels (notice waived) applied at once: the full refund of each."""
    booking = BookingSession(
        student_id=student_id,
        status=SessionStatus.APPLIED,
        created_at=tx.now,
        touched_at=tx.now,
        closed_at=tx.now,
    )
    tx.orm.add(booking)
    tx.orm.flush()
    ops = [
        add_operation(tx, booking, OperationKind.CANCEL, r.id, None, waive_notice=True)
        for r in lessons
    ]
    plan = compute_plan(tx, booking, ops)
    student = tx.orm.get(User, student_id)
    assert student is not None
    cause = CancelledForTeacher(student.handle, tuple(must_id(r) for r in lessons), reason)
    people = [student_id, *{r.teacher_id for r in lessons}]
    apply_plan(
        tx,
        booking,
        student,
        plan,
        ops,
        (cause, people),
        reason=f"the teacher cannot come: {reason}",
    )
    refunds = {refund.lesson.id: refund for refund in plan.refunds}
    lines = []
    for lesson in lessons:
        refund = refunds[must_id(lesson)]
        lines.append(
            _line(
                tx,
                lesson,
                names,
                LessonStatus.CANCELLED,
                booking.id,
                refunded_cents=refund.to_balance_cents,
                refunded_minutes=sum(p.minutes for p in refund.to_purchases),
                was=LessonStatus.BOOKED,
            )
        )
    return lines


def _close(tx: Tx, teacher: User, week: date, day: int, start: int, end: int) -> int:
    """Close [start, end) that day in the teacher's (locked) week; the number of slots closed."""
    key = (must_id(teacher), week)
    available = tx.locked_weeks.week(key)
    closed = sum(1 for slot in range(start, end) if available.is_open(day, slot))
    tx.locked_weeks.store(key, available.with_slots(day, range(start, end), open_=False))
    return closed


def _line(
    tx: Tx,
    lesson: Reservation,
    names: dict[int, str],
    action: str,
    session_id: int | None = None,
    refunded_cents: int = 0,
    refunded_minutes: int = 0,
    was: str | None = None,
) -> OffLessonView:
    grid = tx.settings.grid
    return OffLessonView(
        lesson_id=must_id(lesson),
        student=names[lesson.student_id],
        start=grid.format_slot(lesson.start_slot),
        end=grid.format_slot(lesson.end_slot),
        was=was or lesson.status,
        action=action,
        session_id=session_id,
        refunded_cents=refunded_cents,
        refunded_minutes=refunded_minutes,
    )


def _pending_operations(tx: Tx, lesson_ids: list[int]) -> list[Operation]:
    if not lesson_ids:
        return []
    return list(
        tx.orm.exec(
            select(Operation)
            .where(
                Operation.status == OperationStatus.PENDING,
                col(Operation.target_id).in_(lesson_ids) | col(Operation.new_id).in_(lesson_ids),
            )
            .order_by(col(Operation.id))
        )
    )


def _sessions(tx: Tx, ids: set[int]) -> dict[int, BookingSession]:
    if not ids:
        return {}
    found = tx.orm.exec(select(BookingSession).where(col(BookingSession.id).in_(sorted(ids))))
    return {s.id: s for s in found if s.id is not None}


def _handles(tx: Tx, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {must_id(u): u.handle for u in tx.orm.exec(select(User).where(col(User.id).in_(ids)))}

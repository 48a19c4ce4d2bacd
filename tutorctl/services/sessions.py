"""Booking sessions (a student's cart of operations): find or open one, show and list them,
drop an operation, abandon a session."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, text
from sqlmodel import col, select

from tutorctl.core.errors import InputError, NotFoundError, RuleError
from tutorctl.core.events import OperationDropped, SessionAbandoned
from tutorctl.core.status import OperationStatus, Role, SessionStatus
from tutorctl.core.views import OperationView, SessionListView, SessionSummaryView, SessionView
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import BookingSession, Operation, User
from tutorctl.db.tables import booking_sessions as _BS
from tutorctl.db.uow import Tx
from tutorctl.services.holds import lock_session, release_holds
from tutorctl.services.ids import must_get, must_id
from tutorctl.services.lessons import lessons_by_id
from tutorctl.services.operations import pending_operations
from tutorctl.services.placement import Who
from tutorctl.services.users import Person, find_user

SESSION_STATUSES = tuple(status.value for status in SessionStatus)


def get_session(tx: Tx, session_id: int) -> BookingSession:
    missing = f"no session {session_id}: see `tutorctl session list`"
    return must_get(tx, BookingSession, session_id, missing)


def require_status(
    booking: BookingSession, *statuses: SessionStatus, doing: str = "accept changes"
) -> None:
    if booking.status not in statuses:
        wanted = " or ".join(statuses)
        raise RuleError(
            f"session {booking.id} is {booking.status}: only a session that is {wanted} can {doing}"
        )


OPEN_SESSION = select(BookingSession).where(
    BookingSession.student_id == bindparam("student"),
    BookingSession.status == SessionStatus.OPEN,
)


def session_for(tx: Tx, student: Who, session_id: int | None) -> BookingSession:
    """The named session (open, this student's) or the student's open one, created if none."""
    if session_id is not None:
        booking = get_session(tx, session_id)
        if booking.student_id != student.id:
            raise RuleError(
                f"session {session_id} belongs to another student, not {student.handle}"
            )
        require_status(booking, SessionStatus.OPEN)
        return booking
    current = tx.orm.exec(OPEN_SESSION, params={"student": student.id}).first()
    if current is not None:
        return current
    assert student.id is not None
    created = BookingSession(
        student_id=student.id, status=SessionStatus.OPEN, created_at=tx.now, touched_at=tx.now
    )
    tx.orm.add(created)
    tx.orm.flush()
    return created


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


def open_session_id(tx: Tx, student: Person, session_id: int | None) -> int:
    """session_for, touched now, in Core: one upsert finds (or opens) and touches it."""
    if session_id is not None:
        booking = session_for(tx, student, session_id)
        booking.touched_at = tx.now
        tx.orm.add(booking)
        return must_id(booking)
    ((opened,),) = tx.run(OPEN_SESSION_UPSERT, {"student": student.id, "now": tx.now})
    return int(opened)


# -- drop and abandon ----------------------------------------------------------------------------


def drop(tx: Tx, session_id: int, operation_id: int) -> SessionView:
    """Remove one operation from an open session and release its hold."""
    booking = get_session(tx, session_id)
    operation = tx.orm.get(Operation, operation_id)
    if operation is None or operation.session_id != session_id:
        raise NotFoundError(f"session {session_id} has no operation {operation_id}")
    touch = lock_session(tx, booking, operations=[operation_id], pending_only=False)
    require_status(booking, SessionStatus.OPEN)
    if operation.status != OperationStatus.PENDING:
        raise RuleError(f"operation {operation_id} is {operation.status}, not pending")
    release_holds(tx, operations=[operation_id], note="dropped from the session (session drop)")
    booking.touched_at = tx.now
    tx.orm.add(booking)
    tx.record(OperationDropped(session_id, operation_id, operation.kind, tuple(touch.people)))
    return show_session(tx, session_id)


def abandon(tx: Tx, session_id: int) -> SessionView:
    """Release everything a session holds; it becomes ``abandoned``."""
    booking = get_session(tx, session_id)
    touch = lock_session(tx, booking)  # no operation can be added or settled meanwhile
    operations = [must_id(op) for op in pending_operations(tx, session_id)]
    require_status(booking, SessionStatus.OPEN, SessionStatus.PAYMENT_FAILED, doing="be abandoned")
    release_holds(tx, sessions=[session_id], note="the session was abandoned (session abandon)")
    booking.status = SessionStatus.ABANDONED
    booking.closed_at = booking.touched_at = tx.now
    tx.orm.add(booking)
    people = (*touch.people, booking.student_id)
    tx.record(SessionAbandoned(session_id, people, tuple(operations)))
    return show_session(tx, session_id)


# -- reading ----------------------------------------------------------------------------------


def show_session(tx: Tx, session_id: int) -> SessionView:
    booking = get_session(tx, session_id)
    student = tx.orm.get(User, booking.student_id)
    assert student is not None
    operations = list(
        tx.orm.exec(
            select(Operation).where(Operation.session_id == session_id).order_by(col(Operation.id))
        )
    )
    lessons = lessons_by_id(tx, [i for op in operations for i in (op.new_id, op.target_id)])
    zone = tx.settings.zone
    expires = None
    if booking.status == SessionStatus.OPEN:
        expires = (
            (booking.touched_at + timedelta(minutes=tx.settings.hold_minutes))
            .astimezone(zone)
            .isoformat()
        )
    elif booking.status == SessionStatus.AWAITING_PAYMENT and booking.payment_started_at:
        deadline = booking.payment_started_at + timedelta(minutes=tx.settings.payment_minutes)
        expires = deadline.astimezone(zone).isoformat()
    return SessionView(
        id=must_id(booking),
        student=student.handle,
        student_id=must_id(student),
        status=booking.status,
        created_at=booking.created_at.astimezone(zone).isoformat(),
        touched_at=booking.touched_at.astimezone(zone).isoformat(),
        expires_at=expires,
        operations=[
            OperationView(
                id=must_id(op),
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


def list_sessions(
    tx: Tx, student_ref: str | None = None, status: str | None = None
) -> SessionListView:
    query = select(BookingSession, User.handle).join(
        User, col(User.id) == BookingSession.student_id
    )
    if student_ref is not None:
        student = find_user(tx, student_ref, role=Role.STUDENT)
        query = query.where(BookingSession.student_id == student.id)
    if status is not None:
        if status not in SESSION_STATUSES:
            raise InputError(f"bad status {status!r}: use one of {', '.join(SESSION_STATUSES)}")
        query = query.where(BookingSession.status == status)
    rows = [
        (must_id(s), s, handle)
        for s, handle in tx.orm.exec(query.order_by(col(BookingSession.id).desc()).limit(500))
    ]
    counts: dict[int, int] = {}
    if rows:
        for op in tx.orm.exec(
            select(Operation).where(
                col(Operation.session_id).in_([i for i, _, _ in rows]),
                Operation.status == OperationStatus.PENDING,
            )
        ):
            counts[op.session_id] = counts.get(op.session_id, 0) + 1
    zone = tx.settings.zone
    return SessionListView(
        sessions=[
            SessionSummaryView(
                id=i,
                student=handle,
                status=s.status,
                created_at=s.created_at.astimezone(zone).isoformat(),
                touched_at=s.touched_at.astimezone(zone).isoformat(),
                pending_operations=counts.get(i, 0),
            )
            for i, s, handle in rows
        ]
    )

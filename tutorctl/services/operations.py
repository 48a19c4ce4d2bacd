"""The operations of a booking session: adding one, listing the pending ones, and abandoning
those time has overtaken between choosing and paying (SPEC §5)."""

from __future__ import annotations

from sqlalchemy import insert
from sqlmodel import col, select

from tutorctl.core.events import OperationsAbandoned
from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import BookingSession, Category, Operation, Reservation, User
from tutorctl.db.tables import operations as _OP
from tutorctl.db.uow import Tx
from tutorctl.services.holds import release_holds
from tutorctl.services.ids import must_id
from tutorctl.services.placement import late_by_notice

NEW_OPERATION = Prepared(
    insert(_OP).returning(_OP.c.id),
    keys=("session_id", "kind", "status", "target_id", "new_id", "created_at"),
)


def insert_operation(
    tx: Tx, session_id: int, kind: OperationKind, target: int | None, new: int | None
) -> int:
    """A pending operation in Core (the reserve path); its id."""
    row = {
        "session_id": session_id,
        "kind": kind,
        "status": OperationStatus.PENDING,
        "target_id": target,
        "new_id": new,
        "created_at": tx.now,
    }
    return int(tx.run(NEW_OPERATION, row)[0].id)


def add_operation(
    tx: Tx,
    booking: BookingSession,
    kind: OperationKind,
    target: int | None,
    new: int | None,
    waive_notice: bool = False,
) -> Operation:
    """A pending operation in the session (an ORM row, flushed); the session is touched."""
    operation = Operation(
        session_id=must_id(booking),
        kind=kind,
        status=OperationStatus.PENDING,
        target_id=target,
        new_id=new,
        created_at=tx.now,
        waive_notice=waive_notice,
    )
    tx.orm.add(operation)
    booking.touched_at = tx.now
    tx.orm.add(booking)
    tx.orm.flush()
    return operation


def pending_operations(tx: Tx, session_id: int) -> list[Operation]:
    return list(
        tx.orm.exec(
            select(Operation)
            .where(Operation.session_id == session_id, Operation.status == OperationStatus.PENDING)
            .order_by(col(Operation.id))
        )
    )


def stale_reason(tx: Tx, operation: Operation) -> str | None:
    """Why a pending operation no longer makes sense now, or None: a held lesson only while it
    has not started; a cancel or move only while its target is booked and has not started (a
    move inside the cancellation notice only if staff waived it)."""
    now = tx.now
    new = tx.orm.get(Reservation, operation.new_id) if operation.new_id else None
    if new is not None and new.starts_at <= now:
        return f"lesson {new.id} had already started"
    if new is not None:  # a lesson is only booked with an active teacher, student and category
        for user_id in (new.teacher_id, new.student_id):
            user = tx.orm.get(User, user_id)
            if user is not None and not user.active:
                return f"{user.role} {user.handle!r} is inactive"
        category = tx.orm.get(Category, new.category_id)
        if category is not None and not category.active:
            return f"category {category.name!r} is inactive"
    if operation.target_id is None:
        return None
    target = tx.orm.get(Reservation, operation.target_id)
    assert target is not None
    if target.status != LessonStatus.BOOKED:
        return f"lesson {target.id} is {target.status}, no longer booked"
    if target.starts_at <= now:
        return f"lesson {target.id} had already started"
    if operation.kind == OperationKind.MOVE and late_by_notice(tx, target.starts_at):
        if not operation.waive_notice:
            return (
                f"lesson {target.id} now starts in less than the "
                f"{tx.settings.cancel_notice_hours} h notice: a late move (not waived)"
            )
    return None


def partition_stale(
    tx: Tx, operations: list[Operation]
) -> tuple[list[Operation], list[tuple[Operation, str]]]:
    viable, stale = [], []
    for operation in operations:
        why = stale_reason(tx, operation)
        if why is None:
            viable.append(operation)
        else:
            stale.append((operation, why))
    return viable, stale


def abandon_stale(tx: Tx, booking: BookingSession, operations: list[Operation]) -> list[Operation]:
    """Abandon (with the reason, holds released) the operations time has overtaken; the rest,
    which go on. Called under the session's locks by whatever applies operations."""
    viable, stale = partition_stale(tx, operations)
    for operation, why in stale:
        operation.note = why[:200]
        tx.orm.add(operation)
    if stale:
        release_holds(tx, operations=[must_id(op) for op, _ in stale])
        reasons = tuple((must_id(op), reason) for op, reason in stale)
        tx.record(OperationsAbandoned(must_id(booking), booking.student_id, reasons))
    return viable

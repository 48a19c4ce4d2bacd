"""The history reader of typed events: each event a service records (``tx.record``) becomes
its history rows here — the same subjects, details and people links the services used to
write by hand — while ``outbox.py`` turns the same events into messages at commit.

One event, its readers::

    service ── tx.record(event) ──┬─> history rows (this module, when recorded: buffered by
                                  │   ``audit.AuditLog`` and written at commit)
                                  └─> outbox rows (``outbox.queue``, at commit)

The rows are made when the event is recorded, so a transaction's history keeps the order its
changes happened in, whether they came from events or ``tx.audit``. A set-based event
(``expire``'s sessions and lessons: many ids) stays set-based: one ``INSERT … SELECT`` of its
history rows when recorded, never a loop over ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, cast, literal, select

from tutorctl.core.events import (
    BalanceChanged,
    CancelledForTeacher,
    ChangePlanned,
    Confirmed,
    Event,
    LessonsDone,
    LessonsHeld,
    OperationDropped,
    OperationsAbandoned,
    PackageBought,
    PackageSettled,
    PaidFor,
    PaymentFailed,
    PaymentStarted,
    SessionAbandoned,
    SessionApplied,
    SessionClosed,
    SessionsSettled,
    TeacherOff,
)
from tutorctl.db import outbox, tables

if TYPE_CHECKING:
    from tutorctl.db.audit import AuditLog
    from tutorctl.db.uow import Tx

_S, _R = tables.booking_sessions, tables.reservations


def finish(tx: Tx, log: AuditLog, recorded: Sequence[Event]) -> None:
    """At commit: the history rows (with those of ``tx.audit``), then the recorded events'
    messages."""
    log.finish(tx)
    if recorded and outbox.wanted(tx):
        outbox.queue(tx, recorded)


def write_history(tx: Tx, log: AuditLog, event: Event) -> None:
    """Append ``event``'s history rows to ``log`` (in the order events are recorded)."""
    if isinstance(event, SessionApplied):
        _applied(tx, log, event)
    elif isinstance(event, LessonsHeld | ChangePlanned | OperationDropped):
        _planned(tx, log, event)
    elif isinstance(event, OperationsAbandoned):
        log.add(
            tx,
            f"abandon {len(event.why)} operation(s) of session {event.session_id}: time passed",
            [event.student_id],
            event.session_id,
            operations={str(operation): why for operation, why in event.why},
        )
    elif isinstance(event, SessionAbandoned):
        log.add(
            tx,
            f"abandon session {event.session_id}",
            event.people,
            event.session_id,
            operations=list(event.operation_ids),
        )
    elif isinstance(event, PaymentStarted):
        log.add(
            tx,
            f"payment start session {event.session_id}",
            [event.student_id],
            event.session_id,
            payment=event.payment_id,
            amount_cents=event.amount_cents,
            method=event.method,
        )
    elif isinstance(event, PaymentFailed):
        log.add(
            tx,
            f"payment {event.what} session {event.session_id}",
            [event.student_id],
            event.session_id,
            payment=event.payment_id,
        )
    elif isinstance(event, SessionClosed):
        log.add(tx, f"confirm session {event.session_id}", [event.student_id], event.session_id)
    elif isinstance(event, SessionsSettled):
        log.add_from(tx, _settled_rows(tx, event))
    elif isinstance(event, LessonsDone):
        log.add_from(tx, _done_rows(tx, event))
    elif isinstance(event, BalanceChanged):
        log.add(
            tx,
            f"{event.kind} {event.student_handle}",
            [event.student_id],
            None,
            amount_cents=event.amount_cents,
            reason=event.reason,
        )
    elif isinstance(event, PackageBought):
        log.add(
            tx,
            f"purchase {event.student_handle}",
            [event.student_id, event.teacher_id],
            None,
            purchase=event.purchase_id,
            bought_minutes=event.bought_minutes,
            paid_minutes=event.paid_minutes,
            price_cents=event.price_cents,
            paid_cents=event.paid_cents,
            method=event.method,
            category=event.category,
        )
    elif isinstance(event, PackageSettled):
        log.add(
            tx,
            f"settle package {event.purchase_id}",
            [event.student_id, event.teacher_id],
            None,
            purchase=event.purchase_id,
            minutes=event.minutes,
            amount_cents=event.amount_cents,
            method=event.method,
        )
    elif isinstance(event, TeacherOff):
        log.add(
            tx,
            f"teacher off {event.teacher_handle} {event.day}",
            event.people,
            None,
            date=event.day,
            hours=event.hours,
            reason=event.reason,
            lessons={str(lesson): action for lesson, action in event.lessons},
        )
    else:  # pragma: no cover - a new kind of event must say what its history is
        raise TypeError(f"no history for {type(event).__name__}")


def _planned(tx: Tx, log: AuditLog, event: LessonsHeld | ChangePlanned | OperationDropped) -> None:
    """The row of an operation added to (or dropped from) a session."""
    if isinstance(event, LessonsHeld):
        log.add(
            tx,
            f"reserve {event.teacher_handle}/{event.student_handle}",
            [event.teacher_id, event.student_id],
            event.session_id,
            reservations=list(event.lesson_ids),
            operations=list(event.operation_ids),
            weeks=list(event.weeks),
            day=event.day,
            hours=event.hours,
            category=event.category,
        )
    elif isinstance(event, ChangePlanned):
        details: dict[str, Any] = {"reservation": event.lesson_id, "operation": event.operation_id}
        if event.new_lesson_id is not None:
            details.update(new_reservation=event.new_lesson_id, to=event.to)
        if event.waive_notice:
            details["waive_notice"] = True
        log.add(tx, f"{event.kind} lesson {event.lesson_id}", event.people, event.session_id,
                **details)  # fmt: skip
    else:
        log.add(
            tx,
            f"drop operation {event.operation_id}",
            event.people,
            event.session_id,
            operation=event.operation_id,
            kind=event.kind,
        )


def _applied(tx: Tx, log: AuditLog, event: SessionApplied) -> None:
    """The row of an applied session names what applied it (its cause)."""
    cause, sid = event.cause, event.session_id
    details: dict[str, Any]
    if isinstance(cause, PaidFor):
        subject = f"payment succeeded session {sid}"
        details = {"payment": cause.payment_id, "amount_cents": cause.amount_cents}
    elif isinstance(cause, Confirmed):
        subject = f"confirm session {sid}"
        details = {
            "operations": list(cause.operation_ids),
            "cancels": cause.cancels,
            "moves": cause.moves,
        }
    elif isinstance(cause, CancelledForTeacher):
        subject = f"teacher off: cancel {len(cause.lesson_ids)} lesson(s) of {cause.student_handle}"
        details = {
            "reservations": list(cause.lesson_ids),
            "reason": cause.why,
            "waive_notice": True,
        }
    else:  # pragma: no cover
        raise TypeError(f"no history for {type(cause).__name__}")
    log.add(tx, subject, event.people, sid, **details)


def _settled_rows(tx: Tx, event: SessionsSettled) -> Any:
    """One row per settled session, with its session and student."""
    return select(
        (literal(f"{event.status} session ") + cast(_S.c.id, String)).label("subject"),
        (literal(",") + cast(_S.c.student_id, String) + literal(",")).label("user_ids"),
        _S.c.id.label("session_id"),
        literal(f'{{"status": "{event.status}", "was": "{event.was}"}}').label("details"),
    ).where(tx.one_of(_S.c.id, event.session_ids))


def _done_rows(tx: Tx, event: LessonsDone) -> Any:
    """One row per lesson, with both people and the session that booked it."""
    lesson_id = cast(_R.c.id, String)
    return select(
        (literal("lesson ") + lesson_id + literal(" done")).label("subject"),
        (
            literal(",")
            + cast(_R.c.teacher_id, String)
            + literal(",")
            + cast(_R.c.student_id, String)
            + literal(",")
        ).label("user_ids"),
        _R.c.session_id.label("session_id"),
        (literal('{"reservation": ') + lesson_id + literal("}")).label("details"),
    ).where(tx.one_of(_R.c.id, event.lesson_ids))

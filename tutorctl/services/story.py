"""``lesson show``: one lesson's story — the lesson, its funding, and what happened to it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, or_, select

from tutorctl.core.errors import NotFoundError
from tutorctl.core.money import format_amount
from tutorctl.core.status import LedgerKind, LessonStatus, OperationKind, OperationStatus
from tutorctl.core.views import FundingPartView, LessonDetailView, LessonEventView
from tutorctl.db.schema import Funding, LedgerEntry, Operation, Reservation
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import lesson_query, lesson_view

_MONEY_WORDS: dict[str, str] = {
    LedgerKind.LESSON: "paid from the balance",
    LedgerKind.REFUND: "refunded to the balance",
    LedgerKind.MOVE_REFUND: "refunded to the balance (shortened by a move)",
    LedgerKind.PAYMENT: "payment surplus to the balance",
}


def show_lesson(tx: Tx, lesson_id: int) -> LessonDetailView:
    row = tx.run(lesson_query().where(R.c.id == lesson_id)).first()
    lesson = tx.orm.get(Reservation, lesson_id)
    if row is None or lesson is None:
        raise NotFoundError(f"no lesson {lesson_id}")
    view = lesson_view(tx, row)
    zone, currency = tx.settings.zone, tx.settings.currency
    funding = [
        FundingPartView(
            source=f.source,
            minutes=f.minutes,
            amount_cents=f.amount_cents,
            purchase_id=f.purchase_id,
            payment_id=f.payment_id,
        )
        for f in tx.orm.exec(
            select(Funding).where(Funding.reservation_id == lesson_id).order_by(col(Funding.id))
        )
    ]
    events: list[tuple[datetime, int, LessonEventView]] = []

    def event(at: datetime, what: str, session: int | None = None, op: int | None = None) -> None:
        events.append(
            (at, len(events), LessonEventView(at.astimezone(zone).isoformat(), what, session, op))
        )

    operations = list(
        tx.orm.exec(
            select(Operation)
            .where(or_(Operation.new_id == lesson_id, Operation.target_id == lesson_id))
            .order_by(col(Operation.id))
        )
    )
    made_by = next((op for op in operations if op.new_id == lesson_id), None)
    if made_by is None:
        event(lesson.created_at, f"imported as {'unfunded ' if lesson.unfunded else ''}history")
    else:
        origin = f" of lesson {made_by.target_id}" if made_by.kind == OperationKind.MOVE else ""
        event(
            lesson.created_at,
            f"held by a {made_by.kind}{origin}",
            made_by.session_id,
            made_by.id,
        )
    for op in operations:
        when = op.applied_at or op.created_at
        if op.new_id == lesson_id:
            if op.status == OperationStatus.APPLIED:
                event(when, LessonStatus.BOOKED, op.session_id, op.id)
            elif op.status == OperationStatus.ABANDONED:
                event(when, f"released{': ' + op.note if op.note else ''}", op.session_id, op.id)
            continue
        waived = " (notice waived)" if op.waive_notice else ""
        if op.status == OperationStatus.PENDING:
            event(op.created_at, f"{op.kind} planned{waived}", op.session_id, op.id)
        elif op.status == OperationStatus.ABANDONED:
            why = f": {op.note}" if op.note else ""
            event(when, f"{op.kind} abandoned{why}", op.session_id, op.id)
        elif op.kind == OperationKind.MOVE:
            event(when, f"moved to lesson {op.new_id}{waived}", op.session_id, op.id)
        else:
            late = " late: not refunded" if lesson.late_cancel else ""
            event(when, f"cancelled{waived}{late}", op.session_id, op.id)
    for entry in tx.orm.exec(
        select(LedgerEntry)
        .where(LedgerEntry.reservation_id == lesson_id)
        .order_by(col(LedgerEntry.id))
    ):
        words = _MONEY_WORDS.get(entry.kind, entry.kind)
        event(
            entry.at,
            f"{format_amount(abs(entry.amount_cents), currency)} {words}",
            entry.session_id,
        )
    if lesson.status == LessonStatus.DONE:
        event(lesson.ends_at, LessonStatus.DONE)
    return LessonDetailView(
        lesson=view,
        unfunded=lesson.unfunded,
        late_cancel=lesson.late_cancel,
        currency=currency,
        funding=funding,
        events=[e for _at, _n, e in sorted(events, key=lambda item: (item[0], item[1]))],
    )

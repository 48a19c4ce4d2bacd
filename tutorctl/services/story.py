"""``lesson show``: one lesson's story — the lesson, its funding, and what happened to it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, or_, select

from tutorctl.core.errors import NotFoundError
from tutorctl.core.money import format_amount, format_hours
from tutorctl.core.status import (
    FundingSource,
    LedgerKind,
    LessonStatus,
    OperationKind,
    OperationStatus,
)
from tutorctl.core.views import FundingPartView, LessonDetailView, LessonEventView
from tutorctl.db.schema import Funding, LedgerEntry, Operation, Reservation
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import lesson_query, lesson_view

# at one instant, a story reads in this order: held, paid, booked, changed, refunded, done
HELD, PAID, BOOKED, CHANGED, REFUNDED, DONE = range(6)

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
    # one part per source: a lengthening move funds its extra time from the same package again
    parts: dict[tuple[str, int | None, int | None], FundingPartView] = {}
    for f in tx.orm.exec(
        select(Funding).where(Funding.reservation_id == lesson_id).order_by(col(Funding.id))
    ):
        key = (f.source, f.purchase_id, f.payment_id)
        before = parts.get(key)
        parts[key] = FundingPartView(
            source=f.source,
            minutes=f.minutes + (before.minutes if before else 0),
            amount_cents=f.amount_cents + (before.amount_cents if before else 0),
            purchase_id=f.purchase_id,
            payment_id=f.payment_id,
        )
    funding = list(parts.values())
    events: list[tuple[datetime, int, int, LessonEventView]] = []

    def event(
        at: datetime, rank: int, what: str, session: int | None = None, op: int | None = None
    ) -> None:
        view = LessonEventView(at.astimezone(zone).isoformat(), what, session, op)
        events.append((at, rank, len(events), view))

    operations = list(
        tx.orm.exec(
            select(Operation)
            .where(or_(Operation.new_id == lesson_id, Operation.target_id == lesson_id))
            .order_by(col(Operation.id))
        )
    )
    made_by = next((op for op in operations if op.new_id == lesson_id), None)
    booked_by = made_by if made_by and made_by.status == OperationStatus.APPLIED else None
    if made_by is None:
        event(
            lesson.created_at,
            HELD,
            f"imported as {'unfunded ' if lesson.unfunded else ''}history",
        )
    else:
        origin = f" of lesson {made_by.target_id}" if made_by.kind == OperationKind.MOVE else ""
        event(
            lesson.created_at,
            HELD,
            f"held by a {made_by.kind}{origin}",
            made_by.session_id,
            made_by.id,
        )
    for op in operations:
        when = op.applied_at or op.created_at
        if op.new_id == lesson_id:
            if op.status == OperationStatus.APPLIED:
                event(when, BOOKED, LessonStatus.BOOKED, op.session_id, op.id)
            elif op.status == OperationStatus.ABANDONED:
                why = f": {op.note}" if op.note else ""
                event(when, CHANGED, f"released{why}", op.session_id, op.id)
            continue
        waived = " (notice waived)" if op.waive_notice else ""
        if op.status == OperationStatus.PENDING:
            event(op.created_at, CHANGED, f"{op.kind} planned{waived}", op.session_id, op.id)
        elif op.status == OperationStatus.ABANDONED:
            why = f": {op.note}" if op.note else ""
            event(when, CHANGED, f"{op.kind} abandoned{why}", op.session_id, op.id)
        elif op.kind == OperationKind.MOVE:
            event(when, CHANGED, f"moved to lesson {op.new_id}{waived}", op.session_id, op.id)
        else:
            late = " late: not refunded" if lesson.late_cancel else ""
            event(when, CHANGED, f"cancelled{waived}{late}", op.session_id, op.id)
    for entry in tx.orm.exec(
        select(LedgerEntry)
        .where(LedgerEntry.reservation_id == lesson_id)
        .order_by(col(LedgerEntry.id))
    ):
        words = _MONEY_WORDS.get(entry.kind, entry.kind)
        event(
            entry.at,
            PAID if entry.kind == LedgerKind.LESSON else REFUNDED,
            f"{format_amount(abs(entry.amount_cents), currency)} {words}",
            entry.session_id,
        )
    # what paid for it outside the balance (the balance's part is a ledger entry, above)
    paid_at = booked_by.applied_at if booked_by and booked_by.applied_at else lesson.created_at
    for part in funding:
        if part.source == FundingSource.PAYMENT:
            amount = format_amount(part.amount_cents, currency)
            event(paid_at, PAID, f"{amount} paid by payment {part.payment_id}")
        elif part.source == FundingSource.PURCHASE:
            event(paid_at, PAID, f"{format_hours(part.minutes)} from package {part.purchase_id}")
    if lesson.status == LessonStatus.DONE:
        event(lesson.ends_at, DONE, LessonStatus.DONE)
    return LessonDetailView(
        lesson=view,
        unfunded=lesson.unfunded,
        late_cancel=lesson.late_cancel,
        currency=currency,
        funding=funding,
        events=[e for *_order, e in sorted(events, key=lambda item: item[:3])],
    )

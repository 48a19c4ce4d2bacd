"""Applying a plan: refunds, funding carried by moves, charges to packages, the balance or a
payment; lessons and operations move on. Exactly the plan computed under the session's locks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlmodel import select

from tutorctl.core import resume as rs
from tutorctl.core.events import Cause, NotApplied, PaidFor
from tutorctl.core.status import (
    FundingSource,
    LedgerKind,
    LessonStatus,
    OperationKind,
    OperationStatus,
)
from tutorctl.db.schema import (
    Account,
    BookingSession,
    Funding,
    Operation,
    Purchase,
    Reservation,
    User,
)
from tutorctl.db.uow import Tx
from tutorctl.services.accounts import account_of, post
from tutorctl.services.ids import must_id
from tutorctl.services.notify.telling import applied_event


def _fund(
    tx: Tx,
    lesson_id: int,
    parts: tuple[rs.Part, ...],
    account: Account,
    session_id: int,
    payment_id: int | None,
) -> None:
    for part in parts:
        if part.source == FundingSource.PURCHASE and part.purchase_id is not None:
            purchase = tx.orm.get(Purchase, part.purchase_id)
            assert purchase is not None
            purchase.consumed_minutes += part.minutes
            tx.orm.add(purchase)
        elif part.source == FundingSource.BALANCE and part.amount_cents:
            post(
                tx,
                account,
                -part.amount_cents,
                LedgerKind.LESSON,
                f"lesson {lesson_id}",
                session_id=session_id,
                reservation_id=lesson_id,
            )
        tx.orm.add(
            Funding(
                reservation_id=lesson_id,
                source=part.source,
                purchase_id=part.purchase_id,
                payment_id=payment_id if part.source == FundingSource.PAYMENT else part.payment_id,
                minutes=part.minutes,
                amount_cents=part.amount_cents,
            )
        )


def apply_plan(
    tx: Tx,
    booking: BookingSession,
    student: User,
    plan: rs.Plan,
    operations: list[Operation],
    applied: tuple[Cause, Iterable[int]],
    payment_id: int | None = None,
    reason: str | None = None,
    dropped: tuple[NotApplied, ...] = (),
) -> None:
    """Apply exactly ``plan``: refunds, carried funding, charges; lessons and operations move on;
    a payment's surplus (what it took beyond what the plan asks: lessons started while it was
    pending) goes to the balance. What it did is recorded as one ``SessionApplied`` event:
    ``applied`` is what applied it and the people its history row is about, ``dropped`` what
    time overtook as it was paid for; its messages (SPEC §11) come from the same event."""
    account = account_of(tx, student)
    sid = must_id(booking)
    for refund in plan.refunds:
        lesson = tx.orm.get(Reservation, refund.lesson.id)
        assert lesson is not None
        if refund.kind == OperationKind.CANCEL:
            lesson.status = LessonStatus.CANCELLED
            lesson.late_cancel = refund.late
            tx.orm.add(lesson)
        for part in refund.to_purchases:
            purchase = tx.orm.get(Purchase, part.purchase_id)
            assert purchase is not None
            purchase.consumed_minutes -= part.minutes
            tx.orm.add(purchase)
    for carry in plan.carries:
        old = tx.orm.get(Reservation, carry.old.id)
        new = tx.orm.get(Reservation, carry.new.id)
        assert old is not None and new is not None
        for row in tx.orm.exec(select(Funding).where(Funding.reservation_id == old.id)):
            tx.orm.delete(row)
        old.status, new.status = LessonStatus.CANCELLED, LessonStatus.BOOKED
        new.unfunded = old.unfunded  # an unfunded imported lesson stays unfunded (SPEC §4)
        # the same calendar event, one revision on (SPEC §11)
        new.lineage_id, new.revision = old.lineage_id or old.id, old.revision + 1
        new.booked_at = tx.now  # its reminder: decided when `notify send` runs (SPEC §11)
        tx.orm.add_all([old, new])
        tx.orm.flush()
        for part in carry.parts:
            tx.orm.add(
                Funding(
                    reservation_id=must_id(new),
                    source=part.source,
                    purchase_id=part.purchase_id,
                    payment_id=part.payment_id,
                    minutes=part.minutes,
                    amount_cents=part.amount_cents,
                )
            )
    # money back after carries, so a shortened move refunds onto its new lesson
    for refund in plan.refunds:
        if refund.to_balance_cents:
            target = refund.lesson.id
            if refund.kind == "shortened move":
                target = next(c.new.id for c in plan.carries if c.old.id == refund.lesson.id)
            post(
                tx,
                account,
                refund.to_balance_cents,
                LedgerKind.MOVE_REFUND if refund.kind == "shortened move" else LedgerKind.REFUND,
                f"refund lesson {refund.lesson.id}",
                session_id=sid,
                reservation_id=target,
            )
    for charge in plan.charges:
        lesson = tx.orm.get(Reservation, charge.lesson.id)
        assert lesson is not None
        lesson.status = LessonStatus.BOOKED
        if charge.kind == "reserve":
            lesson.booked_at = tx.now
        tx.orm.add(lesson)
        _fund(tx, must_id(lesson), charge.parts, account, sid, payment_id)
    for operation in operations:
        operation.status = OperationStatus.APPLIED
        operation.applied_at = tx.now
        tx.orm.add(operation)
    cause = applied[0]
    if isinstance(cause, PaidFor) and cause.amount_cents > plan.to_pay_cents:
        post(
            tx,
            account,
            cause.amount_cents - plan.to_pay_cents,
            LedgerKind.PAYMENT,
            f"payment {cause.payment_id} surplus",
            session_id=sid,
            payment_id=cause.payment_id,
        )
    event = applied_event(
        tx, sid, must_id(student), plan, applied, reason, account.balance_cents, dropped
    )
    tx.record(event)


def net_package_minutes(plan: rs.Plan) -> dict[int, int]:
    """The package minutes a payment in progress holds, by purchase: what its charges take
    beyond what its own cancels and shortened moves give back to that package. The refunds
    are not applied until the payment succeeds, so the package still counts those minutes as
    consumed: holding them again would count them twice (issue 23.3), and like the reserved
    balance (balance before less after), a hold is what the session will take net."""
    net: dict[int, int] = defaultdict(int)
    for charge in plan.charges:
        for part in charge.parts:
            if part.source == FundingSource.PURCHASE and part.purchase_id is not None:
                net[part.purchase_id] += part.minutes
    for refund in plan.refunds:
        for back in refund.to_purchases:
            if back.purchase_id is not None:
                net[back.purchase_id] -= back.minutes
    return {purchase: minutes for purchase, minutes in net.items() if minutes > 0}

"""Settling a session: pay (start a payment, ask the provider, record its answer) and confirm.

Every step locks the student's account, then the weeks of every lesson the session ever held
or targeted (``holds.lock_session``), recomputes the resume there and applies exactly that
plan (``funding.apply_plan``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import select

from tutorctl.core.errors import NotFoundError, RuleError
from tutorctl.core.events import (
    Confirmed,
    NotApplied,
    PaidFor,
    PaymentFailed,
    PaymentStarted,
    SessionClosed,
    SessionMoney,
)
from tutorctl.core.money import format_amount
from tutorctl.core.status import (
    LedgerKind,
    LessonStatus,
    OperationKind,
    OperationStatus,
    PaymentMethod,
    PaymentStatus,
    SessionStatus,
)
from tutorctl.core.views import PayResultView
from tutorctl.db.schema import BookingSession, Operation, PackageHold, Payment, Reservation, User
from tutorctl.db.uow import Tx
from tutorctl.services.accounts import account_of, post
from tutorctl.services.funding import apply_plan, net_package_minutes
from tutorctl.services.holds import Touch, lock_session, release_holds
from tutorctl.services.ids import must_id
from tutorctl.services.notify.telling import not_applied
from tutorctl.services.operations import abandon_stale, pending_operations
from tutorctl.services.packages import payment_method
from tutorctl.services.placement import check_place
from tutorctl.services.resume import compute_plan
from tutorctl.services.sessions import get_session, require_status

if TYPE_CHECKING:
    from tutorctl.db.uow import Database
    from tutorctl.services.providers import PaymentProvider


def pay(
    db: Database,
    session_id: int,
    method: PaymentMethod,
    provider: PaymentProvider,
    *,
    reference: str | None = None,
    expect_total: int | None = None,
) -> PayResultView:
    """``session pay``: two transactions around the provider, so no lock is held while it
    answers. The first starts the payment (its amount fixed, the balance and package hours it
    uses reserved); the provider is asked; the second records its answer. No answer yet leaves
    the payment pending (``expire`` fails it in time)."""
    started = db.write(
        "session pay", lambda tx: start_payment(tx, session_id, method, reference, expect_total)
    )
    if started.payment_status != PaymentStatus.PENDING or started.payment_id is None:
        return started
    answer = provider.charge(started)
    if answer is None:
        return started
    payment_id = started.payment_id
    return db.write("payment result", lambda tx: finish_payment(tx, session_id, payment_id, answer))


def _locked(tx: Tx, session_id: int) -> tuple[BookingSession, User, Touch]:
    """The session, its student and what it ever touched, under the session's locks."""
    booking = get_session(tx, session_id)
    touch = lock_session(tx, booking, pending_only=False)
    student = tx.orm.get(User, booking.student_id)
    assert student is not None
    return booking, student, touch


def _users(touch: Touch, operations: list[Operation], student: User) -> list[int]:
    """The people of these operations' lessons, and the student (the history links)."""
    ids = {i for op in operations for i in (op.new_id, op.target_id) if i is not None}
    lessons = Touch({i: place for i, place in touch.lessons.items() if i in ids})
    return sorted({*lessons.people, must_id(student)})


def _pay_view(
    tx: Tx, booking: BookingSession, payment: Payment | None, message: str
) -> PayResultView:
    return PayResultView(
        session_id=must_id(booking),
        status=booking.status,
        payment_id=payment.id if payment else None,
        payment_status=payment.status if payment else None,
        method=payment.method if payment else None,
        amount_cents=payment.amount_cents if payment else 0,
        currency=tx.settings.currency,
        message=message,
    )


def _payment(tx: Tx, session_id: int, status: PaymentStatus) -> Payment | None:
    return tx.orm.exec(
        select(Payment).where(Payment.session_id == session_id, Payment.status == status)
    ).first()


def start_payment(
    tx: Tx, session_id: int, method: str, reference: str | None, expect_total: int | None
) -> PayResultView:
    """Open → awaiting_payment with one pending payment of exactly what the resume asks."""
    paid_by = payment_method(method)
    booking, _student, _touch = _locked(tx, session_id)
    done = _payment(tx, session_id, PaymentStatus.SUCCEEDED)
    # a payment taken that went to the balance (payment_failed) is not taken again either
    if booking.status in (SessionStatus.PAID, SessionStatus.APPLIED) or done is not None:
        return _pay_view(
            tx,
            booking,
            done,
            f"session {session_id} is already {booking.status}: nothing was taken again",
        )
    if booking.status == SessionStatus.AWAITING_PAYMENT:
        pending = _payment(tx, session_id, PaymentStatus.PENDING)
        if pending is not None:
            _expect(tx, pending.amount_cents, expect_total)
            return _pay_view(tx, booking, pending, "a payment is already pending for this session")
    require_status(booking, SessionStatus.OPEN, doing="be paid")
    plan = compute_plan(tx, booking, abandon_stale(tx, booking, pending_operations(tx, session_id)))
    _expect(tx, plan.to_pay_cents, expect_total)
    if plan.to_pay_cents == 0:
        raise RuleError(
            f"session {session_id} has nothing to pay: run `tutorctl session confirm {session_id}`"
        )
    payment = Payment(
        session_id=session_id,
        method=paid_by,
        amount_cents=plan.to_pay_cents,
        reference=reference,
        status=PaymentStatus.PENDING,
        created_at=tx.now,
    )
    tx.orm.add(payment)
    booking.status = SessionStatus.AWAITING_PAYMENT
    booking.reserved_cents = max(0, plan.balance_before_cents - plan.balance_after_cents)
    tx.orm.add_all(
        PackageHold(session_id=session_id, purchase_id=purchase, minutes=minutes)
        for purchase, minutes in sorted(net_package_minutes(plan).items())
    )
    booking.payment_started_at = booking.touched_at = tx.now
    tx.orm.add(booking)
    tx.orm.flush()
    tx.record(
        PaymentStarted(
            session_id, booking.student_id, must_id(payment), payment.amount_cents, paid_by
        )
    )
    return _pay_view(tx, booking, payment, "payment started")


def _expect(tx: Tx, to_pay: int, expected: int | None) -> None:
    if expected is not None and expected != to_pay:
        currency = tx.settings.currency
        raise RuleError(
            f"the resume changed: it asks {format_amount(to_pay, currency)}, you expected "
            f"{format_amount(expected, currency)}; show the resume again"
        )


def _failed(
    tx: Tx,
    booking: BookingSession,
    payment: Payment,
    why: str,
    what: str,
    message: str,
    dropped: list[tuple[Operation, str]] | None = None,
) -> PayResultView:
    """The payment did not pay for the session: it is ``payment_failed``, every new place is
    released and the reserves abandoned (``why``); cancels and moves wait for confirm (a move
    re-checks its place then). One taken all the same (``dropped``: what time overtook) goes
    to the balance; the student's message says so, with the lessons not booked and why."""
    booking.status = SessionStatus.PAYMENT_FAILED
    tx.orm.add_all([payment, booking])
    money: SessionMoney | None = None
    told: tuple[NotApplied, ...] = ()
    if dropped is not None:
        student = tx.orm.get(User, booking.student_id)
        assert student is not None
        account = account_of(tx, student)
        post(
            tx,
            account,
            payment.amount_cents,
            LedgerKind.PAYMENT,
            f"payment {payment.id} ({what}: to the balance)",
            session_id=booking.id,
            payment_id=payment.id,
        )
        taken = payment.amount_cents
        money = SessionMoney(0, 0, taken, 0, 0, account.balance_cents, surplus_cents=taken)
        waiting = pending_operations(tx, must_id(booking))
        told = not_applied(tx, dropped + [(op, why) for op in waiting if op.kind == "reserve"])
    release_holds(tx, sessions=[must_id(booking)], abandon=(OperationKind.RESERVE,), note=why)
    tx.record(
        PaymentFailed(
            must_id(booking), booking.student_id, must_id(payment), what, why, money, told
        )
    )
    return _pay_view(tx, booking, payment, message)


def finish_payment(tx: Tx, session_id: int, payment_id: int, succeeded: bool) -> PayResultView:
    """Record the provider's answer. Success applies the session at once (status ``paid``),
    what time overtook left out, the surplus to the balance; a payment short of what is left,
    or with nothing left, goes to the balance whole: ``payment_failed`` (README)."""
    booking, student, touch = _locked(tx, session_id)
    payment = tx.orm.get(Payment, payment_id)
    if payment is None or payment.session_id != session_id:
        raise NotFoundError(f"session {session_id} has no payment {payment_id}")
    if payment.status != PaymentStatus.PENDING or booking.status != SessionStatus.AWAITING_PAYMENT:
        return _pay_view(
            tx, booking, payment, f"payment {payment_id} was already settled ({payment.status})"
        )
    waiting = pending_operations(tx, session_id)
    payment.settled_at = booking.touched_at = tx.now
    if not succeeded:
        payment.status = PaymentStatus.FAILED
        return _failed(
            tx,
            booking,
            payment,
            f"payment {payment_id} failed",
            "failed",
            "payment refused: the new lessons were released; "
            f"cancels and moves wait for `tutorctl session confirm {session_id}`",
        )
    payment.status = PaymentStatus.SUCCEEDED
    tx.orm.add(payment)
    operations = abandon_stale(tx, booking, waiting)
    dropped = [(op, op.note or "") for op in waiting if op not in operations]
    if not operations:  # time overtook every operation: nothing was bought
        return _failed(
            tx,
            booking,
            payment,
            f"payment {payment_id} came after every lesson of it had started: "
            "nothing was left to apply",
            "unused",
            "payment accepted, but nothing was left to apply: it went to the balance "
            f"({format_amount(payment.amount_cents, tx.settings.currency)})",
            dropped,
        )
    # the payment pays for what it was taken for: the balance spends what it held for it, not
    # money that came in meanwhile (a top-up, another session's surplus), unless needed
    plan = compute_plan(tx, booking, operations, balance_cap=booking.reserved_cents)
    if plan.to_pay_cents > payment.amount_cents:
        plan = compute_plan(tx, booking, operations)
    if plan.to_pay_cents > payment.amount_cents:
        return _failed(
            tx,
            booking,
            payment,
            f"payment {payment_id} no longer covered the resume: it went to the balance",
            "short",
            "the resume changed while paying: the payment went to the balance; "
            "the new lessons were released",
            dropped,
        )
    paid = PaidFor(payment_id, payment.amount_cents)
    people = _users(touch, operations, student)
    told = not_applied(tx, dropped)
    apply_plan(tx, booking, student, plan, operations, (paid, people), payment_id, None, told)
    booking.status = SessionStatus.PAID
    tx.orm.add(booking)
    surplus = format_amount(payment.amount_cents - plan.to_pay_cents, tx.settings.currency)
    # the session is `paid`, not `applied`, until someone (or expire) closes it
    message = (
        "payment accepted: the lessons are booked, the cancels and moves done; the session "
        f"stays paid until `tutorctl session confirm {session_id}` closes it "
        f"(or `expire`, after {tx.settings.hold_minutes} min)"
        + (f"; {len(dropped)} operation(s) left out (see `session show`)" if dropped else "")
        + (
            f"; {surplus} of it went to the balance"
            if payment.amount_cents > plan.to_pay_cents
            else ""
        )
    )
    return _pay_view(tx, booking, payment, message)


def confirm(
    tx: Tx, session_id: int, *, cancels: bool = False, moves: bool = False
) -> PayResultView:
    booking, student, touch = _locked(tx, session_id)
    operations = pending_operations(tx, session_id)
    if booking.status == SessionStatus.PAID:
        booking.status = SessionStatus.APPLIED
        booking.closed_at = booking.touched_at = tx.now
        tx.orm.add(booking)
        tx.record(SessionClosed(session_id, must_id(student)))
        succeeded = _payment(tx, session_id, PaymentStatus.SUCCEEDED)
        return _pay_view(tx, booking, succeeded, "confirmed")
    if booking.status == SessionStatus.OPEN:
        operations = abandon_stale(tx, booking, operations)
        plan = compute_plan(tx, booking, operations)
        if plan.to_pay_cents:
            raise RuleError(
                f"session {session_id} has "
                f"{format_amount(plan.to_pay_cents, tx.settings.currency)} to pay: "
                f"run `tutorctl session pay {session_id} --method …` first"
            )
        applied = _confirmed(touch, operations, student, cancels, moves)
        apply_plan(tx, booking, student, plan, operations, applied)
        message = "applied (nothing to pay)"
    elif booking.status == SessionStatus.PAYMENT_FAILED:
        wanted = {OperationKind.CANCEL: cancels, OperationKind.MOVE: moves}
        chosen = abandon_stale(
            tx, booking, [op for op in operations if wanted.get(OperationKind(op.kind), False)]
        )
        for op in chosen:
            if op.kind == OperationKind.MOVE:
                _rehold(tx, op)
        plan = compute_plan(tx, booking, chosen)
        if plan.to_pay_cents:
            needy = [c.operation_id for c in plan.charges if c.external_cents]
            raise RuleError(
                f"the move(s) of operation {', '.join(map(str, needy))} need "
                f"{format_amount(plan.to_pay_cents, tx.settings.currency)} more: "
                "confirm with --no-moves"
            )
        # its history names every waiting operation, the chosen and the abandoned
        applied = _confirmed(touch, operations, student, cancels, moves)
        apply_plan(tx, booking, student, plan, chosen, applied)
        for op in operations:
            if op not in chosen and op.status == OperationStatus.PENDING:
                op.status = OperationStatus.ABANDONED
                op.note = f"not chosen at confirm (confirmed without --{op.kind}s)"
                op.applied_at = tx.now
                tx.orm.add(op)
        message = (
            f"applied {len(chosen)} of {len(operations)} waiting operation(s); the rest abandoned"
        )
    else:
        raise RuleError(
            f"session {session_id} is {booking.status}: only an open, paid or payment_failed "
            "session can be confirmed"
        )
    booking.status = SessionStatus.APPLIED
    booking.closed_at = booking.touched_at = tx.now
    tx.orm.add(booking)
    return _pay_view(tx, booking, None, message)


def _confirmed(
    touch: Touch, operations: list[Operation], student: User, cancels: bool, moves: bool
) -> tuple[Confirmed, list[int]]:
    """What applies a confirmed session, and the people its history row is about."""
    ids = tuple(must_id(op) for op in operations)
    return Confirmed(ids, cancels, moves), _users(touch, operations, student)


def _rehold(tx: Tx, operation: Operation) -> None:
    """A move confirmed after a failed payment: its place was released; take it again if free
    (its weeks are locked: the session's lock covers every lesson it ever held)."""
    new = tx.orm.get(Reservation, operation.new_id)
    assert new is not None and operation.target_id is not None and new.id is not None
    teacher = tx.orm.get(User, new.teacher_id)
    student = tx.orm.get(User, new.student_id)
    assert teacher is not None and student is not None
    problem = check_place(
        tx,
        teacher,
        student,
        new.week,
        new.day,
        new.start_slot,
        new.end_slot,
        exclude=[operation.target_id, new.id],
    )
    if problem:
        raise RuleError(f"the move of lesson {operation.target_id} cannot be confirmed: {problem}")
    new.status = LessonStatus.HELD
    tx.orm.add(new)

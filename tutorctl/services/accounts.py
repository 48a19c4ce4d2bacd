"""Student accounts: the balance and its append-only ledger, credit and debit, and the money
a payment in progress has reserved."""

from __future__ import annotations

from sqlmodel import col, func, select

from tutorctl.core.errors import NotFoundError, RuleError
from tutorctl.core.events import BalanceChanged
from tutorctl.core.money import format_amount
from tutorctl.core.status import LedgerKind, Role, SessionStatus
from tutorctl.core.views import AccountView, LedgerLineView, LedgerView
from tutorctl.db.schema import Account, BookingSession, LedgerEntry, User
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_id
from tutorctl.services.packages import purchase_lines
from tutorctl.services.users import find_user


def account_of(tx: Tx, student: User) -> Account:
    account = (
        tx.accounts().get(must_id(student))
        or tx.orm.exec(select(Account).where(Account.student_id == student.id)).first()
    )
    if account is None:
        raise NotFoundError(f"{student.handle} has no account (not a student?)")
    return account


def post(
    tx: Tx, account: Account, amount: int, kind: LedgerKind, reason: str, **refs: int | None
) -> None:
    """Append a ledger entry and move the cached balance with it (never below zero)."""
    if account.balance_cents + amount < 0:
        raise RuleError(
            f"insufficient funds: the balance is {format_amount(account.balance_cents, tx.settings.currency)}"
        )
    account.balance_cents += amount
    tx.orm.add(account)
    tx.orm.add(
        LedgerEntry(
            account_id=must_id(account),
            amount_cents=amount,
            kind=kind,
            reason=reason[:200],
            actor=tx.actor,
            at=tx.now,
            **refs,
        )
    )


def credit(tx: Tx, student_ref: str, amount_cents: int, reason: str | None = None) -> AccountView:
    student = find_user(tx, student_ref, role=Role.STUDENT)
    tx.lock(accounts=[must_id(student)])
    account = account_of(tx, student)
    post(tx, account, amount_cents, LedgerKind.CREDIT, reason or "credit")
    tx.record(
        BalanceChanged("credit", must_id(student), student.handle, amount_cents, reason or "credit")
    )
    return show_account(tx, student_ref)


def debit(tx: Tx, student_ref: str, amount_cents: int, reason: str) -> AccountView:
    """Pay money out of a student's balance (back to the family, or a correction): never below
    zero, never money a pending payment has reserved."""
    student = find_user(tx, student_ref, role=Role.STUDENT)
    tx.lock(accounts=[must_id(student)])
    account = account_of(tx, student)
    available = available_cents(tx, account)
    reserved = account.balance_cents - available
    if amount_cents > available:
        currency = tx.settings.currency
        held = f" ({format_amount(reserved, currency)} reserved for a payment in progress)"
        raise RuleError(
            f"insufficient funds: {student.handle} has {format_amount(available, currency)} "
            f"available{held if reserved else ''}, not {format_amount(amount_cents, currency)}"
        )
    post(tx, account, -amount_cents, LedgerKind.DEBIT, reason)
    tx.record(BalanceChanged("debit", must_id(student), student.handle, amount_cents, reason))
    return show_account(tx, student_ref)


def show_account(tx: Tx, student_ref: str) -> AccountView:
    student = find_user(tx, student_ref, role=Role.STUDENT)
    account = account_of(tx, student)
    return AccountView(
        student=student.handle,
        student_id=must_id(student),
        balance_cents=account.balance_cents,
        reserved_cents=reserved_cents(tx, must_id(student)),
        currency=tx.settings.currency,
        purchases=[line for line in purchase_lines(tx, student.id) if line.remaining_minutes > 0],
    )


def reserved_cents(tx: Tx, student_id: int, excluding: int | None = None) -> int:
    """Balance money reserved by the student's sessions awaiting their payment (SPEC §4): no
    other session may spend it until that payment is settled."""
    query = select(func.coalesce(func.sum(BookingSession.reserved_cents), 0)).where(
        BookingSession.student_id == student_id,
        BookingSession.status == SessionStatus.AWAITING_PAYMENT,
    )
    if excluding is not None:
        query = query.where(BookingSession.id != excluding)
    return int(tx.orm.exec(query).one())


def available_cents(tx: Tx, account: Account, excluding: int | None = None) -> int:
    """What may be spent from this balance now (by a debit, or by the plan of the session
    ``excluding``): the balance less what other payments in progress reserved (SPEC §4)."""
    return account.balance_cents - reserved_cents(tx, account.student_id, excluding)


def account_history(tx: Tx, student_ref: str) -> LedgerView:
    student = find_user(tx, student_ref, role=Role.STUDENT)
    account = account_of(tx, student)
    rows = tx.orm.exec(
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account.id)
        .order_by(col(LedgerEntry.id))
    )
    zone = tx.settings.zone
    return LedgerView(
        student=student.handle,
        currency=tx.settings.currency,
        balance_cents=account.balance_cents,
        entries=[
            LedgerLineView(
                id=must_id(e),
                at=e.at.astimezone(zone).isoformat(),
                amount_cents=e.amount_cents,
                reason=e.reason,
                session_id=e.session_id,
                reservation_id=e.reservation_id,
                payment_id=e.payment_id,
                actor=e.actor,
            )
            for e in rows
        ],
    )

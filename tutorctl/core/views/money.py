"""Accounts, ledgers, packages and payments."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PurchaseLine:
    """A prepaid hour package: bought, paid, consumed, remaining and owed minutes."""

    id: int
    student: str
    teacher: str
    category: str
    date: str
    price_cents: int
    bought_minutes: int
    paid_minutes: int
    consumed_minutes: int
    remaining_minutes: int
    owed_minutes: int
    owed_cents: int = 0  # the price of the owed hours, pro rata (what settling them costs)


@dataclass(frozen=True)
class PurchaseListView:
    """`purchase list`."""

    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class PayResultView:
    """What `session pay` / `session confirm` ended with."""

    session_id: int
    status: str
    payment_id: int | None
    payment_status: str | None
    method: str | None
    amount_cents: int
    currency: str
    message: str


@dataclass(frozen=True)
class AccountView:
    """A student's balance and prepaid packages (`account show`, `account credit`)."""

    student: str
    student_id: int
    balance_cents: int
    reserved_cents: int  # held by a session awaiting its payment (SPEC §4)
    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class LedgerLineView:
    """One balance movement of a student's account."""

    id: int
    at: str
    amount_cents: int
    reason: str
    session_id: int | None
    reservation_id: int | None
    payment_id: int | None
    actor: str


@dataclass(frozen=True)
class LedgerView:
    """A student's account ledger (`account history`)."""

    student: str
    currency: str
    balance_cents: int
    entries: list[LedgerLineView]

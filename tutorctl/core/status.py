"""The words of SPEC §4 as types: every status, operation kind, ledger kind, payment method, role
and funding source.

They are ``StrEnum``s, so a member *is* its lower-case word: it is stored in the database, printed
in JSON and compared with what a row holds without conversion. Code names the member
(``LessonStatus.BOOKED``), never the bare string, so a typo is an attribute error, not a silent
mismatch. Standard library only: completion imports this module.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user is (fixed when the user is added)."""

    TEACHER = "teacher"
    STUDENT = "student"


class LessonStatus(StrEnum):
    """A reservation (a lesson)."""

    HELD = "held"  # chosen in an open booking session; it blocks the slot
    BOOKED = "booked"
    CANCELLED = "cancelled"
    RELEASED = "released"  # a hold abandoned, expired or whose payment failed
    DONE = "done"  # its end has passed


LIVE = (LessonStatus.HELD, LessonStatus.BOOKED)  # a lesson that occupies its slot


class SessionStatus(StrEnum):
    """A booking session (a student's cart)."""

    OPEN = "open"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"
    APPLIED = "applied"
    ABANDONED = "abandoned"
    EXPIRED = "expired"


CLOSED_SESSION = (SessionStatus.APPLIED, SessionStatus.ABANDONED, SessionStatus.EXPIRED)


class OperationKind(StrEnum):
    RESERVE = "reserve"
    CANCEL = "cancel"
    MOVE = "move"


class OperationStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    ABANDONED = "abandoned"


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class PaymentMethod(StrEnum):
    """How money reaches the school."""

    CARD = "card"
    WECHAT = "wechat"
    CASH = "cash"
    TRANSFER = "transfer"


class LedgerKind(StrEnum):
    """Why a balance changed (one ledger entry)."""

    CREDIT = "credit"  # a top-up
    DEBIT = "debit"  # money paid back or a wrong credit reversed
    LESSON = "lesson"  # a lesson paid from the balance
    REFUND = "refund"  # a cancellation refunded to the balance
    MOVE_REFUND = "move-refund"  # a move to a cheaper place
    PAYMENT = "payment"  # an external payment's surplus kept on the balance


class FundingSource(StrEnum):
    """Where part of a lesson's price came from (one funding part)."""

    PURCHASE = "purchase"  # a package's minutes
    BALANCE = "balance"  # money from the student's balance
    PAYMENT = "payment"  # money from an external payment


def sql_one_of(column: str, words: type[StrEnum]) -> str:
    """A CHECK constraint's text that allows exactly these words: ``role IN ('teacher', ...)``.
    Only for the schema's constants (never input): the text is the same as when it was written
    out, so an upgraded database and a fresh one still compare equal."""
    return f"{column} IN ({', '.join(repr(w.value) for w in words)})"

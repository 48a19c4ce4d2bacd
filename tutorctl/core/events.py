"""Typed events: what a change did, recorded by the service on its transaction.

A service records the facts of a change (``tx.record(event)``); when the transaction
finishes, the unit of work hands them to their readers — the history log and the outbox of
messages to the people concerned (SPEC §11) — so that no service writes a message by hand and a
new reader (a webhook, a calendar feed) is one more consumer of the same events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LessonFact:
    """A lesson as a message tells it. ``lineage`` is the id of the first row of its lineage
    (a move makes a new row): the calendar UID; ``revision`` grows with each move."""

    id: int
    lineage: int
    revision: int
    teacher_id: int
    student_id: int
    category: str
    starts_at: datetime
    ends_at: datetime
    price_cents: int


@dataclass(frozen=True)
class LessonBooked:
    lesson: LessonFact


@dataclass(frozen=True)
class LessonMoved:
    old: LessonFact
    new: LessonFact
    refund_cents: int = 0  # a shortened move gives money back
    extra_cents: int = 0  # a lengthened one costs more


@dataclass(frozen=True)
class LessonCancelled:
    lesson: LessonFact
    refund_cents: int
    refund_minutes: int
    late: bool


LessonChange = LessonBooked | LessonMoved | LessonCancelled


@dataclass(frozen=True)
class SessionMoney:
    """The money of an applied session, as its receipt tells it."""

    package_minutes: int  # package hours used
    balance_cents: int  # balance money used
    payment_cents: int  # external payment taken
    refund_cents: int  # money back to the balance
    refund_minutes: int  # package minutes given back
    balance_after_cents: int


@dataclass(frozen=True)
class SessionApplied:
    """A session's operations were applied (pay, confirm, a settled payment, schedule off)."""

    session_id: int
    student_id: int
    changes: tuple[LessonChange, ...]
    money: SessionMoney
    reason: str | None = None  # why, when it was not the student's doing (teacher off)


@dataclass(frozen=True)
class PaymentsFailed:
    """These sessions' payments failed (the provider refused, or ``expire`` gave up on
    them): nothing was booked."""

    session_ids: tuple[int, ...]
    why: str


Event = SessionApplied | PaymentsFailed

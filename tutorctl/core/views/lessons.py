"""A lesson, and its funding and story (`lesson show`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LessonView:
    """A held, booked or done lesson as seen in a week (or a list)."""

    id: int
    teacher: str
    student: str
    teacher_id: int
    student_id: int
    category: str
    week: str
    date: str
    day: int
    start: str
    end: str
    duration_minutes: int
    starts_at: str
    ends_at: str
    status: str
    pending: str | None = None  # "cancel" or "move" while a session plans it
    session_id: int | None = None
    price_cents: int = 0


@dataclass(frozen=True)
class FundingPartView:
    """Where part of a lesson's price came from: package minutes, the balance or a payment.
    The payment resume plans with these same parts (``tutorctl.core.resume.Part``)."""

    source: str  # purchase | balance | payment
    minutes: int
    amount_cents: int = 0
    purchase_id: int | None = None
    payment_id: int | None = None


@dataclass(frozen=True)
class LessonEventView:
    """One step of a lesson's story."""

    at: str
    what: str
    session_id: int | None = None
    operation_id: int | None = None


@dataclass(frozen=True)
class LessonDetailView:
    """`lesson show`: the lesson, its funding and its story."""

    lesson: LessonView
    unfunded: bool
    late_cancel: bool
    currency: str
    funding: list[FundingPartView]
    events: list[LessonEventView]

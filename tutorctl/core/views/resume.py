"""The payment resume of a session (`session resume`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutorctl.core.views.money import PurchaseLine


@dataclass(frozen=True)
class PackageHoursView:
    """Hours of one package a resume line takes from it or gives back to it."""

    purchase_id: int
    minutes: int
    on_credit_minutes: int = 0  # of those minutes, hours of the package not paid yet (owed)


@dataclass(frozen=True)
class CancelGroupView:
    """The resume's cancelled lessons of one teacher and category, and their refunds."""

    teacher: str
    category: str
    lessons: int
    minutes: int
    refunded_minutes_to_purchases: int
    refunded_cents_to_balance: int
    late_lessons: int
    lesson_ids: list[int]
    to_purchases: list[PackageHoursView] = field(default_factory=list)  # which package, how much


@dataclass(frozen=True)
class NewGroupView:
    """The resume's new lessons of one teacher and category, and how they are paid."""

    teacher: str
    category: str
    lessons: int
    minutes: int
    price_cents: int
    from_purchases_minutes: int
    from_balance_cents: int
    external_cents: int
    lesson_ids: list[int]
    on_credit_minutes: int = 0  # of the package minutes, those of hours not paid yet (owed)
    from_purchases: list[PackageHoursView] = field(default_factory=list)  # which, how much


@dataclass(frozen=True)
class MoveLineView:
    """A move of the resume and what it changes: a same length move keeps its funding and
    costs nothing; a longer one is charged its extra time (in the new lessons); a shorter one
    gives the cut time back (in the cancellations)."""

    operation_id: int
    lesson_id: int  # the booked lesson that moves
    new_lesson_id: int  # its new place (held until the session is applied)
    teacher: str
    category: str
    from_date: str
    from_time: str
    to_date: str
    to_time: str
    old_minutes: int
    new_minutes: int
    change: str  # same length | longer | shorter
    kept_purchase_minutes: int  # funding carried to the new place: package hours …
    kept_cents: int  # … and money (balance or payment)


@dataclass(frozen=True)
class TotalsView:
    """What each section of a resume adds up first: its lessons and their minutes."""

    lessons: int = 0
    minutes: int = 0


@dataclass(frozen=True)
class CancelTotalsView(TotalsView):
    """The cancellations of a resume, added up."""

    refunded_minutes_to_purchases: int = 0
    refunded_cents_to_balance: int = 0
    late_lessons: int = 0


@dataclass(frozen=True)
class NewTotalsView(TotalsView):
    """The new lessons of a resume, added up."""

    price_cents: int = 0
    from_purchases_minutes: int = 0
    on_credit_minutes: int = 0
    from_balance_cents: int = 0
    external_cents: int = 0


@dataclass(frozen=True)
class ResumeView:
    """The payment resume of a session: balance and packages before, between, after."""

    session_id: int
    student: str
    status: str
    currency: str
    balance_before_cents: int
    purchases_before: list[PurchaseLine]
    cancellations: list[CancelGroupView]
    balance_between_cents: int
    purchases_between: list[PurchaseLine]
    new_lessons: list[NewGroupView]
    to_pay_cents: int
    balance_after_cents: int
    notes: list[str]
    moves: list[MoveLineView] = field(default_factory=list)
    cancellation_totals: CancelTotalsView = field(default_factory=CancelTotalsView)
    new_lesson_totals: NewTotalsView = field(default_factory=NewTotalsView)

"""The reports (`report revenue | hours | balances | occupancy`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportPeriod:
    """The period of a report: whole days in the school zone, ``first_date`` to ``last_date``
    (inclusive), i.e. the instants ``starts_at`` (included) to ``ends_at`` (excluded)."""

    label: str  # "2026-11" or "2026-W45..2026-W48"
    first_date: str
    last_date: str
    starts_at: str
    ends_at: str


@dataclass(frozen=True)
class RevenueRow:
    """Money of one group (teacher, category, month, or ``(account)``) over the period.

    ``taken`` = payments + package payments + credits (money received); ``net`` = taken −
    paid out. ``refunded`` went back to students' balances (money the school still holds)."""

    name: str
    id: int | None
    payments_cents: int
    package_payments_cents: int
    credits_cents: int
    taken_cents: int
    refunded_cents: int
    paid_out_cents: int
    net_cents: int


@dataclass(frozen=True)
class RevenueReport:
    """`report revenue`: money taken, refunded and paid out over a period."""

    period: ReportPeriod
    by: str | None
    currency: str
    rows: list[RevenueRow]
    total: RevenueRow


@dataclass(frozen=True)
class HoursRow:
    """Lesson minutes of one group (teacher, student, category) over the period, by status.

    ``payable`` = done + late-cancelled: what a teacher is paid for. ``moved`` counts the old
    place of a moved lesson (cancelled by the move; the new place is counted where it is)."""

    name: str
    id: int | None
    lessons: int  # booked or done
    booked_minutes: int
    done_minutes: int
    cancelled_minutes: int
    late_cancelled_minutes: int
    moved_minutes: int
    payable_minutes: int


@dataclass(frozen=True)
class HoursReport:
    """`report hours`: booked, done, cancelled and late-cancelled lesson minutes."""

    period: ReportPeriod
    by: str
    rows: list[HoursRow]
    total: HoursRow


@dataclass(frozen=True)
class BalanceRow:
    """A student with money on the account, money reserved, or package hours owed.

    ``balance`` is what the school owes the student (to spend or to pay back); ``owed`` is what
    the student owes the school for package hours sold on credit."""

    student: str
    student_id: int | None  # None on the total row
    name: str
    balance_cents: int
    reserved_cents: int
    available_cents: int
    owed_minutes: int
    owed_cents: int


@dataclass(frozen=True)
class BalancesReport:
    """`report balances`: every student with a balance, reserved money or owed hours, now."""

    as_of: str
    currency: str
    rows: list[BalanceRow]
    total: BalanceRow


@dataclass(frozen=True)
class OccupancyRow:
    """One teacher's week: open minutes (availability) against booked (booked + done) and held
    minutes, counting only the days of the week inside the period."""

    teacher: str
    teacher_id: int
    week: str
    week_start: str
    open_minutes: int
    booked_minutes: int
    held_minutes: int


@dataclass(frozen=True)
class OccupancyReport:
    """`report occupancy`: per teacher and week, open hours against booked hours."""

    period: ReportPeriod
    weeks: list[str]
    rows: list[OccupancyRow]

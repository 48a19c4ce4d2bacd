"""The rules of a lesson's place and time (SPEC §5): where it may be held, who may take it,
what a moved lesson costs, and when a change is inside the cancellation notice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from tutorctl.core.calendar import DAY_NAMES, SlotGrid
from tutorctl.core.errors import RuleError
from tutorctl.core.money import pro_rata, prorate
from tutorctl.core.status import Role
from tutorctl.db.schema import Reservation
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import describe, overlapping


class Who(Protocol):
    """A user as the rules read it: an ORM ``User`` or a Core ``Person``."""

    @property
    def id(self) -> int | None: ...
    @property
    def handle(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


class What(Protocol):
    """A category as the rules read it: an ORM ``Category`` or a Core ``CategoryRef``."""

    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...


def missing_slot(
    grid: SlotGrid, zone: ZoneInfo, week: date, day: int, start: int, end: int
) -> int | None:
    """The first slot of the span that does not exist that day (the clocks spring forward
    inside it), or None."""
    missing = grid.missing_slots(zone, week, day, start, end)
    return missing[0] if missing else None


def real_minutes(
    grid: SlotGrid, zone: ZoneInfo, week: date, day: int, start: int, end: int
) -> int | None:
    """The real length in minutes of a span that covers a change of the clocks (it differs
    from the billed ``grid.minutes``), or None: a lesson cannot cover the hour that repeats."""
    real = grid.instant(zone, week, day, end) - grid.instant(zone, week, day, start)
    if real == timedelta(minutes=grid.minutes(start, end)):
        return None
    return int(real.total_seconds()) // 60


def roles_fit(teacher_role: str, student_role: str) -> bool:
    """A lesson's teacher is a teacher and its student a student."""
    return teacher_role == Role.TEACHER and student_role == Role.STUDENT


def take_new_lessons(teacher_active: bool, student_active: bool) -> bool:
    """Inactive people take no new lessons (history may still name them)."""
    return teacher_active and student_active


def place_label(tx: Tx, week: date, day: int, start: int, end: int) -> str:
    when = (week + timedelta(days=day)).isoformat()
    return f"{DAY_NAMES[day].capitalize()} {when} {tx.settings.grid.format_range(start, end)}"


def check_place(
    tx: Tx,
    teacher: Who,
    student: Who,
    week: date,
    day: int,
    start: int,
    end: int,
    *,
    exclude: Iterable[int] = (),
    history: bool = False,
) -> str | None:
    """Why this lesson cannot be held here, or None. The weeks must be locked already."""
    grid, zone = tx.settings.grid, tx.settings.zone
    label = place_label(tx, week, day, start, end)
    if end > grid.slots_per_day or start < 0 or start >= end:
        return f"{label}: a lesson starts before it ends, within one day"
    missing = missing_slot(grid, zone, week, day, start, end)
    if missing is not None:
        return (
            f"{label}: {grid.format_slot(missing)} does not exist in {tx.settings.timezone} "
            "that day (the clocks spring forward)"
        )
    real = real_minutes(grid, zone, week, day, start, end)
    if real is not None:
        return (
            f"{label} spans a change of the clocks in {tx.settings.timezone}: it would last "
            f"{real} real minutes but be billed {grid.minutes(start, end)}; a lesson "
            "cannot cover the hour that repeats when the clocks go back: book before or after it"
        )
    if not history:
        starts_at = grid.instant(zone, week, day, start)
        if starts_at < tx.now:
            return f"{label} is in the past"
        notice = tx.settings.min_notice_hours
        if notice and starts_at < tx.now + timedelta(hours=notice):
            return f"{label} starts in less than the minimum booking notice of {notice} h"
    assert teacher.id is not None and student.id is not None
    closed = tx.locked_weeks.week((teacher.id, week)).closed_slots(day, start, end)
    if closed and not history:
        return (
            f"{teacher.handle} is not available {label} ({grid.format_slot(closed[0])} is closed)"
        )
    clashes = overlapping(tx, [teacher.id, student.id], week, day, start, end, exclude=exclude)
    if clashes:
        return f"{label} clashes with {describe(clashes[0])}"
    return None


def require_active(teacher: Who, student: Who, category: What) -> None:
    if not take_new_lessons(teacher.active, student.active):
        user = teacher if not teacher.active else student
        raise RuleError(f"{user.role} {user.handle!r} is inactive")
    if not category.active:
        raise RuleError(f"category {category.name!r} is inactive")


def moved_price(tx: Tx, lesson: Reservation, start: int, end: int) -> tuple[int, int | None]:
    """A moved lesson keeps its hourly price: the new length at the rate it was chosen at, as
    a new booking at that rate would cost (lessons from before rates were kept: pro rata of
    their price)."""
    minutes = tx.settings.grid.minutes(start, end)
    if lesson.rate_cents is not None:
        return prorate(lesson.rate_cents, minutes), lesson.rate_cents
    old = tx.settings.grid.minutes(lesson.start_slot, lesson.end_slot)
    return pro_rata(lesson.price_cents, minutes, old), None


def late_by_notice(tx: Tx, starts_at: datetime) -> bool:
    """Whether a cancel or move applied now is inside the cancellation notice (SPEC §5)."""
    return bool(starts_at - tx.now < timedelta(hours=tx.settings.cancel_notice_hours))

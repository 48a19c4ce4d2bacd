"""The rules of a lesson's place and time (SPEC §5): where it may be held, who may take it,
what a moved lesson costs, and when a change is inside the cancellation notice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Protocol

from tutorctl.core.calendar import DAY_NAMES
from tutorctl.core.errors import RuleError
from tutorctl.core.money import pro_rata, prorate
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
    missing = grid.missing_slots(zone, week, day, start, end)
    if missing:
        return (
            f"{label}: {grid.format_slot(missing[0])} does not exist in {tx.settings.timezone} "
            "that day (the clocks spring forward)"
        )
    real = grid.instant(zone, week, day, end) - grid.instant(zone, week, day, start)
    billed = grid.minutes(start, end)
    if real != timedelta(minutes=billed):
        return (
            f"{label} spans a change of the clocks in {tx.settings.timezone}: it would last "
            f"{int(real.total_seconds()) // 60} real minutes but be billed {billed}; a lesson "
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
    availability = tx.locked_weeks.availability((teacher.id, week), day)
    closed = [slot for slot in range(start, end) if availability[slot] != "1"]
    if closed and not history:
        return (
            f"{teacher.handle} is not available {label} ({grid.format_slot(closed[0])} is closed)"
        )
    clashes = overlapping(tx, [teacher.id, student.id], week, day, start, end, exclude=exclude)
    if clashes:
        return f"{label} clashes with {describe(clashes[0])}"
    return None


def require_active(teacher: Who, student: Who, category: What) -> None:
    for user in (teacher, student):
        if not user.active:
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

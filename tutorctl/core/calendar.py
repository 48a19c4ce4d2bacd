"""Weeks, days and slots: parsing, formatting, and wall-clock → instant conversion.

A week is named by its Monday (a ``date``). Days are 0 (Monday) .. 6 (Sunday). A slot is an
index into the day: slot ``i`` starts at ``i * slot_minutes`` minutes after midnight, wall clock
in the school zone. Everything here is pure and deterministic.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from tutorctl.core.errors import InputError
from tutorctl.core.limits import MAX_YEAR, MIN_YEAR, check_year

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALLOWED_SLOT_MINUTES = tuple(m for m in range(5, 1441) if 1440 % m == 0)

WEEK_FORMS = "an ISO week (2026-W48), a date (2026-11-25), this, next, last, +N or -N"
DATE_FORMS = "YYYY-MM-DD, or a whole date with its year in four digits (Nov 25 2026)"
DAY_FORMS = "mon..sun or 1..7, a range mon-fri, or a list mon,wed,fri"

# re.ASCII: \d is 0-9 only (SPEC §6: only ASCII digits are digits; '٣' is not a 3)
_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})\Z", re.IGNORECASE | re.ASCII)
_REL_WEEK = re.compile(r"^[+-]\d{1,4}\Z", re.ASCII)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)
_ISO_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]", re.ASCII)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})\Z", re.ASCII)
_WORD = re.compile(r"[a-z]+", re.IGNORECASE | re.ASCII)


FIRST_MONDAY = date(MIN_YEAR, 1, 1)  # 1900-W01 (1900-01-01 is a Monday)
LAST_MONDAY = date.fromisocalendar(MAX_YEAR, 52, 1)  # 2999-W52: 2999 has no week 53


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def format_week(monday: date) -> str:
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_dates(monday: date) -> list[date]:
    return [monday + timedelta(days=i) for i in range(7)]


def parse_week(text: str, today: date) -> date:
    """Parse a week designation into its Monday. ``today`` anchors this/next/last/±N.
    The week must lie in the years 1900-2999 (SPEC §6 input limits)."""
    monday = _parse_week(text, today)
    if not FIRST_MONDAY <= monday <= LAST_MONDAY:
        # The date typed may lie in 1900-2999 while its ISO week does not (2999-12-30 is in
        # 3000-W01): say which week it is, not that the date is out of range.
        edge = "past the last" if monday > LAST_MONDAY else "before the first"
        accepted = format_week(LAST_MONDAY if monday > LAST_MONDAY else FIRST_MONDAY)
        sunday = monday + timedelta(days=6) if monday < date.max - timedelta(days=6) else ""
        week = f"ISO week {format_week(monday)} ({monday}..{sunday})"
        subject = f"{week} is" if _ISO_WEEK.match(text.strip()) else f"{text.strip()} is in {week},"
        raise InputError(f"bad week {text!r}: {subject} {edge} week tutorctl accepts ({accepted})")
    return monday


def _parse_week(text: str, today: date) -> date:
    value = text.strip().lower()
    this_monday = monday_of(today)
    if value == "this":
        return this_monday
    if value == "next":
        return this_monday + timedelta(weeks=1)
    if value == "last":
        return this_monday - timedelta(weeks=1)
    if _REL_WEEK.match(value):
        try:
            return this_monday + timedelta(weeks=int(value))
        except OverflowError:
            raise InputError(f"bad week {text!r}: use {WEEK_FORMS}") from None
    match = _ISO_WEEK.match(value)
    if match:
        year, week = int(match.group(1)), int(match.group(2))
        try:
            return date.fromisocalendar(year, week, 1)
        except ValueError:
            raise InputError(
                f"bad week {text!r}: {year} has no ISO week {week}; use {WEEK_FORMS}"
            ) from None
    return monday_of(_parse_date(text, WEEK_FORMS, "week"))


@lru_cache(maxsize=16384)
def _parse_date(text: str, forms: str, what: str) -> date:
    day = _parse_any_date(text, forms, what)
    check_year(day, text, what)
    return day


def _parse_any_date(text: str, forms: str, what: str) -> date:
    value = text.strip()
    if not value.isascii():  # dateutil reads other scripts' digits; SPEC §6 does not
        raise InputError(f"bad {what} {text!r}: use {forms}")
    iso = _iso_date(value, text, forms, what)
    if iso is not None:
        return iso
    from dateutil import parser  # only paid when a non-ISO date is typed

    # A weekday lets dateutil pick a day ("Wed Dec 2026" → the first Wednesday of December),
    # hiding that the day of the month is missing. Next to a whole date dateutil ignores it, so
    # the date is read without its weekday (the same day when whole, seen incomplete when not)
    # and the weekday is then checked against it. A weekday alone keeps its text: nothing is
    # left to read, and "no year, month or day" says so.
    bare = _WORD.sub(lambda m: " " if _info().weekday(m.group()) is not None else m.group(), value)
    bare = bare.strip(" ,.")
    iso = _iso_date(bare, text, forms, what) if bare != value else None
    if iso is not None:  # "Thu 2026-11-26" is ISO with a weekday, not a year-day-month
        _check_weekday(iso, value, text, forms, what)
        return iso
    read = bare if any(c.isalnum() for c in bare) else value
    try:
        # Parsed against two far-apart defaults: what dateutil fills in (from today's date on
        # the machine, by default) differs between them, so an incomplete date is seen, and
        # refused, instead of being completed from a clock that is not the one clock (--now).
        first = parser.parse(read, default=_FILL_A, yearfirst=True, parserinfo=_info()).date()
        other = parser.parse(read, default=_FILL_B, yearfirst=True, parserinfo=_info()).date()
        if first == other:
            second = parser.parse(
                read, default=_FILL_A, dayfirst=True, yearfirst=True, parserinfo=_info()
            ).date()
    except _TwoDigitYear:
        raise InputError(
            f"bad {what} {text!r}: give the year in four digits; use {forms}"
        ) from None
    except (ValueError, OverflowError):
        raise InputError(f"bad {what} {text!r}: use {forms}") from None
    if first != other:
        missing = [
            name
            for name, a, b in (
                ("year", first.year, other.year),
                ("month", first.month, other.month),
                ("day", first.day, other.day),
            )
            if a != b
        ]
        parts = ", ".join(missing[:-1]) + (" or " if len(missing) > 1 else "") + missing[-1]
        raise InputError(
            f"bad {what} {text!r}: not a whole date (no {parts}); give the year, month and day;"
            f" use {forms}"
        )
    if first != second:
        raise InputError(f"bad {what} {text!r}: ambiguous date ({first} or {second}); use {forms}")
    _check_weekday(first, value, text, forms, what)
    return first


def _iso_date(value: str, text: str, forms: str, what: str) -> date | None:
    """``value`` read as ISO 8601 if it is written so, else None."""
    if _ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InputError(f"bad {what} {text!r}: no such date; use {forms}") from None
    if _ISO_DATE_TIME.match(value):  # 2026-01-02 10:00 is ISO 8601, not a year-day-month
        with suppress(ValueError):
            return datetime.fromisoformat(value).date()
    return None


# Far-apart leap years (29 February completes in both), and days and months that differ.
_FILL_A, _FILL_B = datetime(1904, 1, 1), datetime(1908, 2, 2)


class _TwoDigitYear(ValueError):
    """dateutil would place '26' in the century of the machine's clock: refused instead."""


@lru_cache(maxsize=1)
def _info() -> Any:
    from dateutil import parser

    class FourDigitYears(parser.parserinfo):
        def convertyear(self, year: int, century_specified: bool = False) -> int:
            if year < 100 and not century_specified:
                raise _TwoDigitYear(year)
            return year

    return FourDigitYears()


def _check_weekday(day: date, value: str, text: str, forms: str, what: str) -> None:
    """dateutil ignores a weekday written next to a whole date: a contradiction is refused."""
    for word in _WORD.findall(value):
        weekday = _info().weekday(word)
        if weekday is not None and weekday != day.weekday():
            raise InputError(
                f"bad {what} {text!r}: {day} is a {day:%A}, not a {_WEEKDAYS[weekday]}; use {forms}"
            )


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def parse_date(text: str, what: str = "date") -> date:
    """A whole day: YYYY-MM-DD, or a date dateutil reads with its year, month and day."""
    return _parse_date(text, DATE_FORMS, what)


def parse_week_range(text: str, today: date) -> list[date]:
    """``W`` or ``W..W2`` (inclusive) into the list of Mondays."""
    if ".." in text:
        left, right = text.split("..", 1)
        first, last = parse_week(left, today), parse_week(right, today)
        if last < first:
            raise InputError(f"bad week range {text!r}: {right} is before {left}")
        count = (last - first).days // 7 + 1
        if count > 520:
            raise InputError(f"bad week range {text!r}: more than 520 weeks")
        return [first + timedelta(weeks=i) for i in range(count)]
    return [parse_week(text, today)]


def _parse_one_day(text: str, original: str) -> int:
    value = text.strip().lower()
    if value in DAY_NAMES:
        return DAY_NAMES.index(value)
    if value in ("1", "2", "3", "4", "5", "6", "7"):
        return int(value) - 1
    raise InputError(f"bad day {original!r}: use {DAY_FORMS}")


def parse_days(text: str) -> list[int]:
    """Days as sorted unique indexes 0..6: ``mon``, ``1``, ``mon-fri``, ``mon,wed,fri``."""
    days: set[int] = set()
    if not text.strip():
        raise InputError(f"bad day {text!r}: use {DAY_FORMS}")
    for part in text.split(","):
        if "-" in part:
            left, right = part.split("-", 1)
            first, last = _parse_one_day(left, text), _parse_one_day(right, text)
            if last < first:
                raise InputError(
                    f"bad day range {text!r}: {right} comes before {left}; use {DAY_FORMS}"
                )
            days.update(range(first, last + 1))
        else:
            days.add(_parse_one_day(part, text))
    return sorted(days)


def parse_day(text: str) -> int:
    days = parse_days(text)
    if len(days) != 1:
        raise InputError(f"bad day {text!r}: name exactly one day (mon..sun or 1..7)")
    return days[0]


@dataclass(frozen=True)
class SlotGrid:
    """The slot grid of a school: ``slot_minutes`` divides 1440."""

    slot_minutes: int

    def __post_init__(self) -> None:
        if self.slot_minutes not in ALLOWED_SLOT_MINUTES:
            raise InputError(
                f"bad slot length {self.slot_minutes}: it must divide 1440 (e.g. 60, 30, 15)"
            )

    @property
    def slots_per_day(self) -> int:
        return 1440 // self.slot_minutes

    def forms(self) -> str:
        return f"HH:MM on the {self.slot_minutes}-minute grid, 24:00 ends a day"

    def parse_time(self, text: str, *, is_end: bool = False) -> int:
        """``HH:MM`` on a slot boundary into a slot index (``24:00`` only as an end)."""
        return _parse_time(self, text, is_end)

    def _parse_time_uncached(self, text: str, is_end: bool) -> int:
        match = _TIME.match(text.strip())
        if not match:
            raise InputError(f"bad time {text!r}: use {self.forms()}")
        hours, minutes = int(match.group(1)), int(match.group(2))
        total = hours * 60 + minutes
        if minutes >= 60 or total > 1440 or (total == 1440 and not is_end):
            raise InputError(f"bad time {text!r}: use {self.forms()}")
        if total % self.slot_minutes:
            raise InputError(f"bad time {text!r}: not on a slot boundary; use {self.forms()}")
        return total // self.slot_minutes

    def parse_range(self, text: str) -> tuple[int, int]:
        """``HH:MM-HH:MM`` into ``(start_slot, end_slot)`` with start < end."""
        if text.count("-") != 1:
            raise InputError(f"bad time range {text!r}: use HH:MM-HH:MM ({self.forms()})")
        left, right = text.split("-")
        start = self.parse_time(left)
        end = self.parse_time(right, is_end=True)
        if end <= start:
            raise InputError(f"bad time range {text!r}: the end must be after the start")
        return start, end

    def format_slot(self, slot: int) -> str:
        total = slot * self.slot_minutes
        return f"{total // 60:02d}:{total % 60:02d}"

    def format_range(self, start: int, end: int) -> str:
        return f"{self.format_slot(start)}-{self.format_slot(end)}"

    def minutes(self, start: int, end: int) -> int:
        return (end - start) * self.slot_minutes

    def wall_clock(self, monday: date, day: int, slot: int) -> datetime:
        """Naive wall-clock start of a slot (``slot == slots_per_day`` is next midnight)."""
        return datetime.combine(monday + timedelta(days=day), time()) + timedelta(
            minutes=slot * self.slot_minutes
        )

    def instant(self, zone: ZoneInfo, monday: date, day: int, slot: int) -> datetime:
        """Aware UTC instant of a slot boundary. Ambiguous wall times mean the first occurrence."""
        return _instant(zone, monday + timedelta(days=day), slot * self.slot_minutes)

    def missing_slots(
        self, zone: ZoneInfo, monday: date, day: int, start: int, end: int
    ) -> list[int]:
        """Slots in [start, end) whose start does not exist on that date (clocks spring forward)."""
        missing = _missing_minutes(zone, monday + timedelta(days=day))
        if not missing:
            return []
        return [slot for slot in range(start, end) if slot * self.slot_minutes in missing]


@lru_cache(maxsize=4096)
def _parse_time(grid: SlotGrid, text: str, is_end: bool) -> int:
    return grid._parse_time_uncached(text, is_end)


@lru_cache(maxsize=65536)
def _instant(zone: ZoneInfo, day: date, minute: int) -> datetime:
    return to_utc(datetime.combine(day, time()) + timedelta(minutes=minute), zone)


@lru_cache(maxsize=4096)
def _missing_minutes(zone: ZoneInfo, day: date) -> frozenset[int]:
    """Minutes after midnight that do not exist on ``day`` in ``zone`` (none on most days)."""
    midnight = datetime.combine(day, time())
    before = midnight.replace(tzinfo=zone).utcoffset()
    after = (midnight + timedelta(days=1)).replace(tzinfo=zone).utcoffset()
    if before == after:
        return frozenset()
    return frozenset(
        m for m in range(1440) if not wall_time_exists(midnight + timedelta(minutes=m), zone)
    )


def to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def wall_time_exists(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone, fold=0)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def load_zone(name: str) -> ZoneInfo:
    from zoneinfo import ZoneInfoNotFoundError

    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"bad timezone {name!r}: use an IANA name such as Europe/Paris or UTC"
        ) from None

"""A teacher's availability for one week: seven days of slot flags.

Each day is a string with one character per slot of the school's grid: ``"1"`` open, ``"0"``
closed. The ``calendar_weeks`` row stores the days in columns ``d0`` (Monday) .. ``d6``
(Sunday); this module is the only code that knows those names and characters: every reader
asks ``WeekAvailability.is_open`` (SQL that counts open slots uses ``OPEN``, a new row's days
are ``empty_day``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DAY_COLUMNS = ("d0", "d1", "d2", "d3", "d4", "d5", "d6")
OPEN, CLOSED = "1", "0"


def empty_day(slots_per_day: int) -> str:
    """A day with every slot closed (a week row the lock creates)."""
    return CLOSED * slots_per_day


@dataclass(frozen=True, slots=True)
class WeekAvailability:
    """Immutable: the ``with_*`` methods return a new week."""

    days: tuple[str, ...]  # seven strings, Monday first

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"a week has 7 days, not {len(self.days)}")

    @classmethod
    def empty(cls, slots_per_day: int) -> WeekAvailability:
        return cls((empty_day(slots_per_day),) * 7)

    @classmethod
    def from_row(cls, row: Any) -> WeekAvailability:
        """The week of anything with attributes ``d0`` .. ``d6`` (a ``CalendarWeek`` row)."""
        return cls(tuple(getattr(row, name) for name in DAY_COLUMNS))

    def day(self, day: int) -> str:
        """Day ``day`` (0 = Monday) as its string of slot flags."""
        return self.days[day]

    def is_open(self, day: int, slot: int) -> bool:
        return self.days[day][slot] == OPEN

    def closed_slots(self, day: int, start: int, end: int) -> list[int]:
        """The slots of ``day`` from ``start`` to ``end`` (excluded) that are closed."""
        return [slot for slot in range(start, end) if not self.is_open(day, slot)]

    def open_between(self, day: int, start: int, end: int) -> bool:
        """Whether every slot of ``day`` from ``start`` to ``end`` (excluded) is open."""
        return all(self.is_open(day, slot) for slot in range(start, end))

    def with_day(self, day: int, slots: str) -> WeekAvailability:
        if len(slots) != len(self.days[day]):
            raise ValueError(f"day {day} has {len(self.days[day])} slots, not {len(slots)}")
        return WeekAvailability((*self.days[:day], slots, *self.days[day + 1 :]))

    def with_slots(self, day: int, slots: Iterable[int], *, open_: bool) -> WeekAvailability:
        """The week with ``slots`` of ``day`` opened (``open_``) or closed."""
        flags = list(self.days[day])
        for slot in slots:
            flags[slot] = OPEN if open_ else CLOSED
        return self.with_day(day, "".join(flags))

    def to_values(self) -> dict[str, str]:
        """The row's column values: ``{"d0": …, …, "d6": …}``."""
        return dict(zip(DAY_COLUMNS, self.days, strict=True))

    def apply_to(self, row: Any) -> None:
        """Write the days into a row's ``d0`` .. ``d6`` (only the days that differ)."""
        for name, slots in zip(DAY_COLUMNS, self.days, strict=True):
            if getattr(row, name) != slots:
                setattr(row, name, slots)

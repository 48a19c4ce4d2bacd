"""The school settings (SPEC §4): the one shape of them.

The ``settings`` table stores it, the unit of work loads it into every transaction, ``db init``
and ``db info`` show it (it is also their read model: JSON and text list its fields).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property
from zoneinfo import ZoneInfo

from tutorctl.core.availability import empty_day
from tutorctl.core.calendar import SlotGrid, load_zone


@dataclass(frozen=True)
class SchoolSettings:
    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int
    notifications: bool = False
    mail_from: str | None = None
    reminder_hours: int = 24

    @cached_property
    def zone(self) -> ZoneInfo:
        return load_zone(self.timezone)

    @cached_property
    def grid(self) -> SlotGrid:
        return SlotGrid(self.slot_minutes)

    def empty_day(self) -> str:
        return empty_day(self.grid.slots_per_day)


SETTING_NAMES = tuple(f.name for f in fields(SchoolSettings))

DEFAULT_SETTINGS = SchoolSettings(
    timezone="Europe/Paris",
    slot_minutes=60,
    currency="EUR",
    hold_minutes=20,
    payment_minutes=30,
    cancel_notice_hours=24,
    min_notice_hours=0,
)

"""Read models: plain dataclasses that services return, the renderer draws and --json dumps.

Field names follow SPEC §6: ids ``id``/``*_id``, money ``*_cents``, durations ``*_minutes``,
instants ISO 8601 with offset, dates ISO, statuses lower-case words.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettingsView:
    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int


@dataclass(frozen=True)
class DbInfoView:
    url: str
    dialect: str
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class DbInitView:
    url: str
    schema_version_before: int | None
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class UserView:
    id: int
    handle: str
    name: str
    role: str
    active: bool
    balance_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class UserListView:
    users: list[UserView] = field(default_factory=list)


@dataclass(frozen=True)
class CategoryView:
    id: int
    name: str
    price_cents: int
    currency: str
    active: bool


@dataclass(frozen=True)
class CategoryListView:
    categories: list[CategoryView] = field(default_factory=list)

"""The database and the school settings (`db init`, `db info`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SettingsView:
    """The school settings (shown by `db init` and `db info`)."""

    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int


@dataclass(frozen=True)
class DbInfoView:
    """The database a command uses: masked URL, dialect, schema version, settings."""

    url: str
    dialect: str
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class DbInitView:
    """What `db init` did: the schema version before (None: new) and after."""

    url: str
    schema_version_before: int | None
    schema_version: int
    settings: SettingsView

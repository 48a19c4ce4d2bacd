"""The database and the school settings (`db init`, `db info`)."""

from __future__ import annotations

from dataclasses import dataclass

from tutorctl.core.settings import SchoolSettings

SettingsView = SchoolSettings  # the one settings shape is also its read model


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

"""The settings shape is declared once (core/settings.py): the table stores those fields, the
query every transaction starts with reads them."""

from __future__ import annotations

from tutorctl.core.settings import DEFAULT_SETTINGS, SETTING_NAMES, SchoolSettings
from tutorctl.db.schema import Settings
from tutorctl.db.settings import SETTINGS_QUERY, settings_of


def test_the_table_stores_the_fields_of_the_settings() -> None:
    columns = [c.name for c in Settings.__table__.columns]  # type: ignore[attr-defined]
    assert columns == ["id", *SETTING_NAMES]


def test_the_query_reads_the_version_and_every_setting() -> None:
    assert [c.key for c in SETTINGS_QUERY.statement.exported_columns] == [
        "version",
        *SETTING_NAMES,
    ]


def test_one_object_per_distinct_settings() -> None:
    row = (1, *(getattr(DEFAULT_SETTINGS, name) for name in SETTING_NAMES))
    first, again = (
        settings_of(row, "sqlite://", check=False),
        settings_of(row, "sqlite://", check=False),
    )
    assert first is again and first == DEFAULT_SETTINGS and isinstance(first, SchoolSettings)
    assert settings_of((None, *(None,) * 7), "sqlite://", check=False) is DEFAULT_SETTINGS

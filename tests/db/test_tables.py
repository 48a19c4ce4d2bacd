"""Every table of the schema has its named handle in db/tables.py."""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from tutorctl.db import tables


def test_every_table_has_a_handle_named_after_it() -> None:
    handles = {name: t for name, t in vars(tables).items() if isinstance(t, Table)}
    assert set(SQLModel.metadata.tables.values()) == set(handles.values())
    for name, table in handles.items():
        assert table.name == {"schema_versions": "tutorctl_schema"}.get(name, name)

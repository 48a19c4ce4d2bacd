"""What a database holds besides tutorctl's own tables, read from its catalog (every schema
of a PostgreSQL database, SQLite's one): the demo builds only where nothing else lives.
"""

from __future__ import annotations

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection

from tutorctl.db.migrations import OUR_TABLES

SYSTEM_SCHEMAS = ("information_schema",)  # and every pg_* schema


def foreign_tables(conn: Connection) -> tuple[list[str], bool]:
    """(every table or view that is not tutorctl's, in any schema; whether a tutorctl schema
    is there). Without tutorctl's ``tutorctl_schema`` table, every table is another's (an
    application's ``users`` is not tutorctl's)."""
    inspector = sa_inspect(conn)
    home: str | None = None  # SQLite: the one main schema
    schemas: list[str | None] = [None]
    if conn.dialect.name == "postgresql":
        home = inspector.default_schema_name
        schemas = [
            name
            for name in inspector.get_schema_names()
            if name not in SYSTEM_SCHEMAS and not name.startswith("pg_")
        ]
    found = {
        schema: inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema)
        for schema in schemas
    }
    ours = "tutorctl_schema" in found.get(home, [])
    known = OUR_TABLES if ours else frozenset()
    foreign = [
        name if schema == home else f"{schema}.{name}"
        for schema, names in found.items()
        for name in sorted(names)
        if schema != home or name not in known
    ]
    return foreign, ours

"""A database created by the first tutorctl, upgraded version by version by ``db init``, has the
schema a fresh ``db init`` creates: the same tables, columns (type, nullability, default),
primary keys, foreign keys, unique and check constraints and indexes (partial ones with their
condition), and on PostgreSQL the same constraints, triggers, functions and extensions as the
catalog lists them. Column order is left out: ``ALTER TABLE … ADD COLUMN`` can only append.

``schema_v1/*.sql`` is the schema version 1 created, taken once from the last commit at that
version (8c7058f): the CREATE statements its ``db init`` sent to an empty database, recorded
with a ``before_cursor_execute`` listener (a dump would not do: PostgreSQL prints a check
constraint in a form that, read back, is stored differently from what the DDL created).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, inspect

from tests.conftest import PgServer, fresh_database
from tutorctl.cli.app import main
from tutorctl.db.engine import dispose_engines, get_engine
from tutorctl.db.migrations import SCHEMA_VERSION

V1 = Path(__file__).parent / "schema_v1"

# what the PostgreSQL catalog says of a schema beyond what the inspector reads
PG_CATALOG = {
    "constraints": (
        "SELECT t.relname, c.conname, c.contype, pg_get_constraintdef(c.oid) FROM pg_constraint c"
        " JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace"
        " WHERE n.nspname = 'public' ORDER BY 1, 2"
    ),
    "triggers": (
        "SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
        " JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal ORDER BY 1, 2"
    ),
    "functions": (
        "SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " LEFT JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'"
        " WHERE n.nspname = 'public' AND d.objid IS NULL ORDER BY 1, 2"
    ),
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
}


def _load_version_1(url: str) -> None:
    """The version 1 schema in an empty database, at version 1 as its ``db init`` left it."""
    engine = get_engine(url)
    script = (V1 / f"{engine.dialect.name}.sql").read_text()
    with engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            driver.executescript(script)
        else:
            driver.execute(script)  # no parameters: one simple query of many statements
            driver.commit()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO tutorctl_schema (version, applied_at) VALUES (1, '2026-11-24 08:00:00')"
        )
    dispose_engines()


def _type(conn: Connection, declared: Any) -> str:
    """A column's type. SQLite has one integer type (64 bits, whatever the declaration says):
    its INTEGER, BIGINT and SMALLINT are one (money became BIGINT in the models when version 5
    widened it on PostgreSQL; SQLite's columns were already wide enough, and keep their name)."""
    text = str(declared)
    if conn.dialect.name == "sqlite" and "INT" in text.upper():
        return "INTEGER"
    return text


def _default(conn: Connection, default: str | None, column: dict[str, Any]) -> Any:
    """A server default as the value it gives the column (``0``, ``'0'`` and ``'0'::bigint``
    give a BIGINT column the same 0; ``false`` and ``0`` the same SQLite boolean); a sequence's
    default as its text (evaluating it would take a number)."""
    if default is None or "nextval(" in default:
        return default
    declared = column["type"].compile(dialect=conn.dialect)
    (value,) = conn.exec_driver_sql(f"SELECT CAST(({default}) AS {declared})").one()
    return (type(value).__name__, value)


def _schema(conn: Connection) -> dict[str, Any]:
    """Everything the inspector knows of each table (and the catalog, on PostgreSQL)."""
    found = inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(found.get_table_names()):
        tables[name] = {
            "columns": {
                c["name"]: (
                    _type(conn, c["type"]),
                    c["nullable"],
                    _default(conn, c.get("default"), c),
                )
                for c in found.get_columns(name)
            },
            "primary key": found.get_pk_constraint(name)["constrained_columns"],
            "foreign keys": sorted(
                (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                for fk in found.get_foreign_keys(name)
            ),
            "unique": sorted(
                (u["name"] or "", u["column_names"]) for u in found.get_unique_constraints(name)
            ),
            "checks": sorted(
                (c["name"] or "", c["sqltext"]) for c in found.get_check_constraints(name)
            ),
            "indexes": sorted(
                (
                    i["name"] or "",
                    i["column_names"],
                    bool(i["unique"]),
                    {k: str(v) for k, v in i.get("dialect_options", {}).items()},  # a where
                )
                for i in found.get_indexes(name)
            ),
        }
    schema: dict[str, Any] = {"tables": tables}
    if conn.dialect.name == "postgresql":
        for what, query in PG_CATALOG.items():
            schema[what] = [tuple(row) for row in conn.exec_driver_sql(query)]
    return schema


def _apart(upgraded: Any, fresh: Any) -> list[tuple[Any, Any]]:
    """The differing parts: of columns, each column that differs; else the whole value."""
    if upgraded == fresh:
        return []
    if isinstance(fresh, dict) and isinstance(upgraded, dict):
        names = sorted(fresh.keys() | upgraded.keys())
        return [
            ((name, upgraded.get(name)), (name, fresh.get(name)))
            for name in names
            if upgraded.get(name) != fresh.get(name)
        ]
    return [(upgraded, fresh)]


def test_version_1_upgraded_step_by_step_equals_a_fresh_schema(
    empty_db_url: str, pg_server: PgServer
) -> None:
    _load_version_1(empty_db_url)
    assert main(["--db", empty_db_url, "--now", "2026-11-24T09:00:00+01:00", "db", "init"]) == 0
    with get_engine(empty_db_url).connect() as conn:
        upgraded = _schema(conn)
        (version,) = conn.exec_driver_sql("SELECT max(version) FROM tutorctl_schema").one()
    backend = "postgresql" if empty_db_url.startswith("postgresql") else "sqlite"
    with fresh_database(backend, pg_server) as url, get_engine(url).connect() as conn:
        fresh = _schema(conn)
    assert version == SCHEMA_VERSION
    assert upgraded["tables"].keys() == fresh["tables"].keys()
    differences = [
        f"{table}.{part}: upgraded {mine!r}, fresh {theirs!r}"
        for table, parts in fresh["tables"].items()
        for part, value in parts.items()
        for mine, theirs in _apart(upgraded["tables"][table][part], value)
    ] + [
        f"{what}: upgraded {upgraded[what]!r}, fresh {fresh[what]!r}"
        for what in PG_CATALOG
        if what in fresh and upgraded[what] != fresh[what]
    ]
    assert not differences, "\n".join(differences)

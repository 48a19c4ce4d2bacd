"""The owner's tools: the desk role's grants (PostgreSQL) and an online backup (SQLite).

A desk role runs every daily command and nothing else (SPEC §2): it reads and writes rows
(DML on the tables; only SELECT on the schema version and the school settings, which
``db init`` alone writes), takes ids from the sequences, and creates the import's temporary
key table (TEMP on the database). It never creates, alters or drops anything.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
from pathlib import Path

from sqlalchemy import Connection, text
from sqlmodel import SQLModel

from tutorctl.core.errors import ConfigError, InputError
from tutorctl.db import tables

READ_ONLY = (tables.schema_versions.name, tables.settings.name)  # written by db init only
# tables of the migrations that no model declares: the PostgreSQL backstop's occupancy, written
# by triggers that run with the rights of the role whose statement fires them
BACKSTOP_TABLES = ("lesson_occupancy",)
ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")
SEQUENCES = text(
    "SELECT DISTINCT s.oid::regclass::text FROM pg_class AS s "
    "JOIN pg_depend AS d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
    "AND d.deptype IN ('a', 'i') "
    "WHERE s.relkind = 'S' AND d.refobjid = ANY(CAST(:tables AS regclass[])) ORDER BY 1"
)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def grant_statements(conn: Connection, role: str) -> list[str]:
    """The statements that give ``role`` exactly what daily work needs on this database
    (what it had on tutorctl's tables before is revoked first, so re-running is exact)."""
    if conn.dialect.name != "postgresql":
        raise ConfigError("`db grant` is for PostgreSQL: a SQLite file's rights are its mode")
    if not ROLE.match(role):
        raise InputError(f"bad role name {role!r}: letters, digits, _ and $ (a PostgreSQL name)")
    exists, superuser, database, schema = conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :role), "
            "COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = :role), false), "
            "current_database(), current_schema()"
        ),
        {"role": role},
    ).one()
    if not exists:
        raise ConfigError(
            f"no role {role!r} on this server: create it first (README: the desk role)"
        )
    names = sorted({*SQLModel.metadata.tables, *BACKSTOP_TABLES})
    present = (
        conn.execute(
            text(
                "SELECT n FROM unnest(CAST(:names AS text[])) AS n WHERE to_regclass(n) IS NOT NULL"
            ),
            {"names": names},
        )
        .scalars()
        .all()
    )
    if tables.schema_versions.name not in present:
        raise ConfigError("the database is not initialised: run `tutorctl db init` as the owner")
    owner = conn.execute(
        text("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(:t)"),
        {"t": tables.schema_versions.name},
    ).scalar_one()
    if superuser or role == owner:
        # the REVOKE ALL below would take the owner's own rights away (db init then fails)
        raise InputError(
            f"{role} owns tutorctl's tables: it needs no grant; `db grant` is for a desk role"
        )
    writes = [t for t in present if t not in READ_ONLY]
    sequences = conn.execute(SEQUENCES, {"tables": writes}).scalars().all()
    who = quote(role)
    writable = ", ".join(quote(t) for t in writes)
    read_only = ", ".join(quote(t) for t in present if t in READ_ONLY)
    every = ", ".join(quote(t) for t in present)
    statements = [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {quote(database)} TO {who}",
        f"GRANT USAGE ON SCHEMA {quote(schema)} TO {who}",
        # a CREATE given before would let the desk create tables: daily work creates none
        f"REVOKE CREATE ON SCHEMA {quote(schema)} FROM {who}",
        f"REVOKE ALL ON TABLE {every} FROM {who}",
        f"GRANT SELECT ON TABLE {read_only} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {writable} TO {who}",
    ]
    if sequences:
        statements.append(
            f"GRANT USAGE, SELECT, UPDATE ON SEQUENCE {', '.join(sequences)} TO {who}"
        )
    return statements


def public_create_warning(conn: Connection) -> str | None:
    """A warning when PUBLIC (every role, a desk too) may create in the schema: the default
    on ``public`` before PostgreSQL 15, which no grant to one role can take back."""
    schema, public_creates = conn.execute(
        text(
            "SELECT current_schema(), EXISTS (SELECT 1 FROM pg_namespace AS n, "
            "aclexplode(COALESCE(n.nspacl, acldefault('n', n.nspowner))) AS a "
            "WHERE n.nspname = current_schema() AND a.grantee = 0 "
            "AND a.privilege_type = 'CREATE')"
        )
    ).one()
    if not public_creates:
        return None
    return (
        f"warning: PUBLIC may create in schema {schema}, so the desk role can too: run "
        f"`REVOKE CREATE ON SCHEMA {quote(schema)} FROM PUBLIC` as the owner"
    )


def grant(conn: Connection, role: str, apply: bool) -> tuple[list[str], str | None]:
    """``grant_statements`` (run when ``apply``, in the caller's transaction) and
    ``public_create_warning``."""
    statements = grant_statements(conn, role)
    warning = public_create_warning(conn)
    if apply:
        # a GRANT by a role without the grant option is only a warning: refuse it before
        from tutorctl.db.errors import require_owner

        require_owner(conn, "db grant")
        for statement in statements:
            conn.exec_driver_sql(statement)
    return statements, warning


def backup_sqlite(source: Path, target: Path, busy_seconds: float) -> int:
    """Copy a live SQLite database to ``target`` with SQLite's online backup, in one step (one
    read snapshot: consistent while others write), into a private temporary file in the
    target's folder, renamed over ``target`` once complete (never a half-written backup). Its
    size in bytes."""
    if not source.exists():
        raise ConfigError(f"the database file {source} does not exist: nothing to back up")
    if target.is_dir() or (target.exists() and not target.is_file()):
        raise InputError(f"{target} is not a regular file: give the path of the backup file")
    if target.resolve() == source.resolve():
        raise InputError("the backup would replace the database itself: give another path")
    folder = target.parent
    if not folder.is_dir():
        raise InputError(f"no folder {folder}: create it first")
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)  # mkstemp made it 0600: the copy holds what the database holds
    try:
        reader = sqlite3.connect(source, timeout=busy_seconds)
        copy = sqlite3.connect(temporary)
        try:
            reader.backup(copy)  # pages=-1: every page in one step, under one read snapshot
        finally:
            copy.close()
            reader.close()
        with open(temporary, "rb") as done:
            os.fsync(done.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException as exc:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, sqlite3.Error | OSError):
            raise ConfigError(f"cannot back up {source} to {target}: {exc}") from None
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return target.stat().st_size

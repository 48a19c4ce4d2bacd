"""Versioned schema. A fresh database is created at the current version; an older one is
upgraded step by step (``UPGRADES[n]`` brings version n-1 to n). Re-running is a no-op."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, insert, inspect, select
from sqlmodel import SQLModel, col

from tutorctl.core.errors import ConfigError
from tutorctl.db.schema import SchemaVersion

SCHEMA_VERSION = 1

# version → function upgrading a database at version-1 to version (run in the init transaction)
UPGRADES: dict[int, Callable[[Connection], None]] = {}


def current_version(conn: Connection) -> int | None:
    """The schema version, or None when the database was never initialised."""
    if not inspect(conn).has_table(SchemaVersion.__tablename__):
        return None
    version = col(SchemaVersion.version)
    return conn.execute(select(version).order_by(version.desc()).limit(1)).scalar()


def migrate(conn: Connection, now: datetime) -> tuple[int | None, int]:
    """Create or upgrade the schema. Returns (version before, version after)."""
    before = current_version(conn)
    if before is None:
        SQLModel.metadata.create_all(conn)
        conn.execute(insert(SchemaVersion).values(version=SCHEMA_VERSION, applied_at=now))
        return None, SCHEMA_VERSION
    if before > SCHEMA_VERSION:
        raise ConfigError(
            f"the database schema is version {before}, newer than this tutorctl "
            f"({SCHEMA_VERSION}): upgrade tutorctl"
        )
    for version in range(before + 1, SCHEMA_VERSION + 1):
        UPGRADES[version](conn)
        conn.execute(insert(SchemaVersion).values(version=version, applied_at=now))
    return before, SCHEMA_VERSION

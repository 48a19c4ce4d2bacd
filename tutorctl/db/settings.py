"""Loading the school settings and checking the schema version, in one statement that every
transaction runs first."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, literal_column, select
from sqlalchemy.exc import DBAPIError

from tutorctl.core.config import mask_url
from tutorctl.core.errors import ConfigError
from tutorctl.core.settings import DEFAULT_SETTINGS, SETTING_NAMES, SchoolSettings
from tutorctl.db import migrations, pgbegin, tables
from tutorctl.db.engine import pg_session_settings
from tutorctl.db.prepared import Prepared, run, wrapped

_S = tables.settings
_ONE = select(literal_column("1").label("one")).subquery("o")
# the version, and the settings row if there is one (a fresh schema has none yet)
SETTINGS_QUERY = Prepared(
    select(
        select(func.max(tables.schema_versions.c.version)).scalar_subquery().label("version"),
        *(_S.c[name] for name in SETTING_NAMES),
    ).select_from(_ONE.outerjoin(_S, _S.c.id == literal_column("1")))
)


def load(conn: Connection, lock_timeout: float) -> Any:
    """The ``SETTINGS_QUERY`` row, the first statement of a transaction. On PostgreSQL the
    transaction's ``SET LOCAL``s go in the same round trip, before it (a simple query of three
    statements, run one after the other): the lock timeout then bounds the wait of this very
    statement too — a table locked by a migration or ``VACUUM FULL`` is met here first."""
    if conn.dialect.name != "postgresql":
        (row,) = run(conn, SETTINGS_QUERY)
        return row
    compiled = SETTINGS_QUERY.compiled(conn.dialect)
    driver: Any = conn.connection.driver_connection
    sql = pgbegin.take(driver) + pg_session_settings(lock_timeout) + compiled.sql
    try:
        cursor = driver.execute(sql)  # no parameters: psycopg sends it as one simple query
        while cursor.description is None and cursor.nextset():
            pass
        (row,) = compiled.rows(cursor)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, driver, sql, (), exc) from exc
    return row


_LOADED: dict[tuple[Any, ...], SchoolSettings] = {}


def not_initialised(url: str) -> ConfigError:
    return ConfigError(f"the database {mask_url(url)} is not initialised: run `tutorctl db init`")


def settings_of(row: Any, url: str, *, check: bool) -> SchoolSettings:
    """The settings of a ``SETTINGS_QUERY`` row; with ``check``, refuse a database that is not
    initialised or whose schema version is not this tutorctl's."""
    version, values = row[0], tuple(row[1:])
    if check:
        if version is None:
            raise not_initialised(url)
        if version < migrations.SCHEMA_VERSION:
            raise ConfigError(
                f"the database schema is version {version}, older than this tutorctl "
                f"({migrations.SCHEMA_VERSION}): run `tutorctl db init` to upgrade"
            )
        if version > migrations.SCHEMA_VERSION:
            raise ConfigError(
                f"the database schema is version {version}, newer than this tutorctl "
                f"({migrations.SCHEMA_VERSION}): upgrade tutorctl"
            )
    if values[0] is None:
        if check:
            raise not_initialised(url)
        return DEFAULT_SETTINGS
    settings = _LOADED.get(values)
    if settings is None:  # one object per distinct settings: its zone and grid are cached
        settings = SchoolSettings(*values)
        # SQLite's driver gives a boolean column back as 0/1
        settings = _LOADED[values] = replace(settings, notifications=bool(settings.notifications))
    return settings


def version_apart(connect: Callable[[], Connection]) -> int | None:
    """The schema version read on a connection of its own (None: none can be read): an older
    schema lacks a settings column ``SETTINGS_QUERY`` names, and on PostgreSQL the failed
    query has aborted the command's transaction."""
    try:
        with connect() as conn:
            return migrations.current_version(conn)
    except (DBAPIError, ConfigError):
        return None

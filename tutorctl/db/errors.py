"""What a database error means: a conflict to retry, or the tutorctl error it is reported as.

Errors name their real cause (SPEC §2). Where the server's message alone does not say it — is a
missing table a database nobody initialised, or one the role cannot see? which privilege does
"permission denied for table x" lack? — the catalog is asked, on a fresh connection, once the
failed transaction is over: never on the happy path.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tutorctl.core.config import mask_url, scrub
from tutorctl.core.errors import ConfigError, RuleError
from tutorctl.db import migrations, pgbegin, tables
from tutorctl.db.engine import pg_session_settings
from tutorctl.db.settings import not_initialised, settings_of, version_apart

# PostgreSQL: serialization failure, deadlock, lock not available, unique violation
RETRYABLE_PG_CODES = {"40001", "40P01", "55P03", "23505"}
# PostgreSQL: the server ended the session (admin shutdown, crash shutdown, cannot connect now)
LOST_PG_CODES = {"57P01", "57P02", "57P03"}
VERSIONS = tables.schema_versions.name  # the table whose presence means "initialised"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
_DENIED = re.compile(r"permission denied for (table|sequence|schema|database) (\S+)")


class Conflict(Exception):
    """What a transaction read before its locks changed under them: the unit of work re-runs
    the whole transaction (a fresh read, the same locks), as after a deadlock. For a service
    whose locks depend on what it reads (a lock-read-verify loop): never a user's error."""


def retryable(exc: DBAPIError) -> bool:
    """A conflict with another transaction, or a busy database: the transaction is re-run."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in RETRYABLE_PG_CODES:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


def translate(exc: DBAPIError, url: str, engine: Any = None) -> Exception:
    """Any other database error as the error a command reports (its exit code)."""
    code = getattr(exc.orig, "sqlstate", None)
    if code == "23P01":  # the PostgreSQL exclusion backstop
        return RuleError(
            "refused by the database: that would double-book a person (no_double_booking)"
        )
    reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc), url)
    where = mask_url(url)
    if exc.connection_invalidated or code in LOST_PG_CODES or (code or "").startswith("08"):
        outcome = (
            "whether its commit arrived is unknown: run `tutorctl check`"
            if exc.statement is None
            else "its transaction was not committed: nothing of it was written"
        )
        return ConfigError(f"lost the connection to the database {where} ({reason}); {outcome}")
    if engine is not None and (code == "42P01" or "no such table" in reason):
        if _schema_present(engine) is False:
            return not_initialised(url)
    if engine is not None and (code == "42703" or "no such column" in reason):
        # an older schema lacks a column this tutorctl names: say it is older (read apart)
        version = version_apart(engine.connect)
        if version is not None and version != migrations.SCHEMA_VERSION:
            try:
                settings_of((version, None), url, check=True)
            except ConfigError as older:
                return older
    if engine is not None and code == "42501":
        return ConfigError(_denied(engine, exc.statement or "", reason, where))
    return ConfigError(f"database error on {where}: {reason}")


def _schema_present(engine: Any) -> bool | None:
    """Whether the catalog lists tutorctl's schema (its versions table); None if it cannot
    be asked."""
    if engine.dialect.name == "postgresql":
        query = "SELECT to_regclass(:name) IS NOT NULL"
    else:
        query = "SELECT count(*) > 0 FROM sqlite_master WHERE name = :name"
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text(query), {"name": VERSIONS}).scalar_one())
    except DBAPIError:
        return None


def _denied(engine: Any, statement: str, reason: str, where: str) -> str:
    """A "permission denied" with the privilege it lacks, asked of the catalog."""
    found = _DENIED.search(reason)
    if found is None:
        return f"permission denied on {where}: {reason}"
    kind, name = found.groups()
    name = name.strip('"')
    role, lacking = _lacking(engine, kind, name)
    if not lacking:  # the catalog could not tell: the statement's own verb
        lacking = [_verb(statement)] if kind == "table" else []
    who = f"role {role}" if role else "this role"
    what = " and ".join(lacking) if lacking else "a privilege"
    fix = (
        "`db init` and upgrades need the schema's owner"
        if kind in ("schema", "database")
        else f"the owner grants what daily work needs with `tutorctl db grant {role or 'ROLE'}`"
    )
    return f"permission denied: {who} lacks {what} on {kind} {name} ({fix})"


_CHECKS = {  # each kind of object: the privileges daily work may lack on it, asked in one row
    "table": ("has_table_privilege", TABLE_PRIVILEGES),
    "sequence": ("has_sequence_privilege", ("USAGE",)),
    "schema": ("has_schema_privilege", ("USAGE", "CREATE")),
    "database": ("has_database_privilege", ("CONNECT", "TEMPORARY")),
}
_LACKING = {
    kind: text(
        "SELECT current_user, "
        + ", ".join(function + "(:name, '" + privilege + "')" for privilege in privileges)
    )
    for kind, (function, privileges) in _CHECKS.items()
}


def _lacking(engine: Any, kind: str, name: str) -> tuple[str | None, list[str]]:
    privileges = _CHECKS[kind][1]
    try:
        with engine.connect() as conn:
            row = conn.execute(_LACKING[kind], {"name": name}).one()
    except DBAPIError:
        return None, []
    return str(row[0]), [p for p, ok in zip(privileges, row[1:], strict=True) if not ok]


def _verb(statement: str) -> str:
    words = re.findall(r"[A-Za-z]+", statement.upper())
    body = [w for w in words if w in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")]
    verb = next((w for w in body if w != "WITH"), "SELECT")
    return "UPDATE" if verb == "SELECT" and "FOR UPDATE" in statement.upper() else verb


def begin(conn: Connection, lock_timeout: float) -> None:
    """Open a transaction whose first statement is not the settings query (``db init``,
    ``demo``'s look): its ``SET LOCAL``s on their own (PostgreSQL)."""
    if conn.dialect.name != "postgresql":
        return
    from tutorctl.db.prepared import wrapped

    driver: Any = conn.connection.driver_connection
    sql = pgbegin.take(driver) + pg_session_settings(lock_timeout)
    try:
        driver.execute(sql)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, driver, sql, (), exc) from exc


OWNER_QUERY = text(
    "SELECT current_user, current_schema(), pg_get_userbyid(c.relowner), "
    "pg_has_role(current_user, c.relowner, 'USAGE'), "
    "coalesce(has_schema_privilege(current_schema(), 'CREATE'), false) "
    "FROM (SELECT 1) AS o LEFT JOIN pg_class AS c ON c.oid = to_regclass(:name)"
)


def require_owner(conn: Connection, command: str = "db init") -> None:
    """``db init`` creates and alters tables, ``db grant`` gives rights on them: on PostgreSQL
    only the owner of the schema (a member of the role that owns the tables, or one that may
    create them) may run them."""
    if conn.dialect.name != "postgresql":
        return
    found = conn.execute(OWNER_QUERY, {"name": VERSIONS}).one()
    role, schema, owner, member, can_create = found
    if owner is not None and not member:
        raise ConfigError(
            f"`{command}` needs the owner of the schema: role {role} is not {owner}, which owns "
            "the tables (a desk role runs daily commands only); run it as the owner"
        )
    if owner is None and not can_create:
        raise ConfigError(
            f"`{command}` needs the owner of the schema: role {role} may not create tables in "
            f"schema {schema or '(none in search_path)'}; run it as the owner"
        )

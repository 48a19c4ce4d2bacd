"""Versioned schema. A fresh database is created at the current version; an older one is
upgraded step by step (``UPGRADES[n]`` brings version n-1 to n). Re-running is a no-op."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, insert, inspect, select
from sqlmodel import SQLModel, col

from tutorctl.core.errors import ConfigError
from tutorctl.db import tables
from tutorctl.db.backstop import (
    PG_BACKSTOP,
    PG_BACKSTOP_EXACT,
    PG_BACKSTOP_LIVE,
    PG_BACKSTOP_SET_BASED,
)
from tutorctl.db.schema import (
    SchemaVersion,
)

SCHEMA_VERSION = 9


ONE_OPEN_SESSION = (
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_booking_sessions_one_open"
    " ON booking_sessions (student_id) WHERE status = 'open'"
)


# packages with owed hours (sold on credit), for `report balances` (version 5; a partial
# index: only the few packages still owing are in it, the same SQL on both backends)
OWED_PACKAGES = (
    "CREATE INDEX IF NOT EXISTS ix_purchases_owed ON purchases (student_id)"
    " WHERE paid_minutes < bought_minutes"
)


def _partial_indexes(conn: Connection) -> None:
    """Part of versions 1 and 5 (partial indexes: dialect options on the models would import
    both dialects at start-up; the same SQL on both backends)."""
    conn.exec_driver_sql(ONE_OPEN_SESSION)
    conn.exec_driver_sql(OWED_PACKAGES)


def _backstop(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for statement in PG_BACKSTOP:
            conn.exec_driver_sql(statement)


def _backstop_live(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for statement in PG_BACKSTOP_LIVE:
            conn.exec_driver_sql(statement)


def _backstop_set_based(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for statement in PG_BACKSTOP_SET_BASED:
            conn.exec_driver_sql(statement)


# Version 5: time passes between choosing and paying (SPEC §5) — an operation records when it
# was applied or abandoned and why, and whether staff waived the notice; a session awaiting its
# payment reserves the balance money its plan takes (SPEC §4).
V5_COLUMNS = (
    "ALTER TABLE operations ADD COLUMN waive_notice BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE operations ADD COLUMN applied_at {timestamp}",
    "ALTER TABLE operations ADD COLUMN note VARCHAR(200)",
    "ALTER TABLE booking_sessions ADD COLUMN reserved_cents BIGINT NOT NULL DEFAULT 0",
    "ALTER TABLE reservations ADD COLUMN rate_cents BIGINT",
)
# money in 64 bits on PostgreSQL (SQLite's integers already are): a balance may add up past
# the 21,474,836.47 a 32-bit column holds, with every amount within the input limit
PG_MONEY_COLUMNS = (
    ("categories", "price_cents"),
    ("reservations", "price_cents"),
    ("accounts", "balance_cents"),
    ("payments", "amount_cents"),
    ("ledger", "amount_cents"),
    ("purchases", "price_cents"),
    ("fundings", "amount_cents"),
)


# … and a package's price is money: its payments are recorded (a database written before
# gets one payment per package for its paid hours, pro rata to the cent, as cash)
V5_BACKFILL_PACKAGE_PAYMENTS = (
    "INSERT INTO package_payments (purchase_id, method, minutes, amount_cents, actor, at)"
    " SELECT id, 'cash', paid_minutes,"
    " (price_cents * paid_minutes * 2 + bought_minutes) / (2 * bought_minutes),"
    " 'db init (recorded before package payments)', created_at"
    " FROM purchases WHERE paid_minutes > 0"
)


# … reports read through indexes (SPEC §10) …
V5_INDEXES = (
    (tables.reservations, "ix_reservations_starts"),
    (tables.calendar_weeks, "ix_calendar_weeks_week"),
    (tables.accounts, "ix_accounts_balance"),
    (tables.payments, "ix_payments_settled"),
    (tables.ledger, "ix_ledger_kind_at"),
    (tables.fundings, "ix_fundings_payment"),
)

# … and `history --user` reads through a (user, entry) link instead of a LIKE on the text
# column ``history.user_ids`` (",5,12,"): the links of a database written before are split out
# of that column in one statement
V5_BACKFILL_HISTORY_USERS = {
    "postgresql": (
        "INSERT INTO history_users (user_id, history_id)"
        " SELECT DISTINCT u.id::integer, h.id FROM history AS h,"
        " unnest(string_to_array(trim(both ',' from h.user_ids), ',')) AS u(id)"
        " WHERE u.id <> ''"
    ),
    "sqlite": (
        "INSERT OR IGNORE INTO history_users (user_id, history_id)"
        " WITH RECURSIVE split(history_id, rest, user_id) AS ("
        " SELECT id, substr(user_ids, 2), NULL FROM history"
        " UNION ALL SELECT history_id, substr(rest, instr(rest, ',') + 1),"
        " CAST(substr(rest, 1, instr(rest, ',') - 1) AS INTEGER)"
        " FROM split WHERE instr(rest, ',') > 0)"
        " SELECT user_id, history_id FROM split WHERE user_id IS NOT NULL"
    ),
}


# Version 6: the operation that made a lesson is found through an index on both backends
# (``lesson show`` and ``schedule off`` ask "new_id = L or target_id = L"; without it SQLite
# scanned every operation). PostgreSQL has had it since version 3 (its backstop's lineage).
OPERATIONS_NEW = "CREATE INDEX IF NOT EXISTS ix_operations_new ON operations (new_id)"


def _backstop_exact(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        for statement in PG_BACKSTOP_EXACT:
            conn.exec_driver_sql(statement)


def _lesson_lookups(conn: Connection) -> None:
    conn.exec_driver_sql(OPERATIONS_NEW)


def _time_passes(conn: Connection) -> None:
    timestamp = "TIMESTAMP WITHOUT TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for statement in V5_COLUMNS:
        conn.exec_driver_sql(statement.format(timestamp=timestamp))
    if conn.dialect.name == "postgresql":
        for table, column in PG_MONEY_COLUMNS:
            conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE BIGINT")
    tables.package_payments.create(conn)
    conn.exec_driver_sql(V5_BACKFILL_PACKAGE_PAYMENTS)
    tables.package_holds.create(conn)
    for indexed, name in V5_INDEXES:
        (index,) = (i for i in indexed.indexes if i.name == name)
        index.create(conn)
    conn.exec_driver_sql(OWED_PACKAGES)
    tables.history_users.create(conn)
    conn.exec_driver_sql(V5_BACKFILL_HISTORY_USERS[conn.dialect.name])


# Version 7 (SPEC §11): people's emails and wish to hear, the school's message settings, the
# lineage and revision a lesson's calendar event keeps across moves, when its reminder is due,
# and the outbox. One reminder per lesson row: a partial unique index (the same SQL on both
# backends), the backstop when two `notify send` runs queue reminders at once.
V8_COLUMNS = (
    "ALTER TABLE users ADD COLUMN email VARCHAR(254)",
    "ALTER TABLE users ADD COLUMN notify BOOLEAN NOT NULL DEFAULT true",
    "ALTER TABLE settings ADD COLUMN notifications BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE settings ADD COLUMN mail_from VARCHAR(254)",
    "ALTER TABLE settings ADD COLUMN reminder_hours INTEGER NOT NULL DEFAULT 24",
    "ALTER TABLE reservations ADD COLUMN lineage_id INTEGER",
    "ALTER TABLE reservations ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE reservations ADD COLUMN remind_from {timestamp}",
)
# (when its reminder was due: version 9 replaced it by when it was booked, and the index with it)
V8_REMIND_INDEX = "CREATE INDEX ix_reservations_remind ON reservations (remind_from)"
ONE_REMINDER = (
    "CREATE UNIQUE INDEX IF NOT EXISTS uq_outbox_reminder ON outbox (lesson_id)"
    " WHERE kind = 'reminder'"
)


def _outbox_index(conn: Connection) -> None:
    conn.exec_driver_sql(ONE_REMINDER)


def _telling_people(conn: Connection) -> None:
    timestamp = "TIMESTAMP WITHOUT TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
    for statement in V8_COLUMNS:
        conn.exec_driver_sql(statement.format(timestamp=timestamp))
    conn.exec_driver_sql(V8_REMIND_INDEX)
    tables.outbox.create(conn)
    _outbox_index(conn)


# Version 9 (SPEC §11): a lesson keeps when it became booked, not when its reminder is due, so
# that `notify send` applies the school's current --reminder-hours to every booked lesson
# (imported ones too). A row that was due a reminder was booked before its window: it becomes
# booked when it was created (its reminder stays due); one that was due none (booked inside its
# window, reminders off, or never booked) becomes booked when it starts (it gets none, as
# before). The due window is a range on starts_at (ix_reservations_starts): no index of its own.
V9_BOOKED_AT = (
    "DROP INDEX ix_reservations_remind",
    "ALTER TABLE reservations RENAME COLUMN remind_from TO booked_at",
    "UPDATE reservations SET booked_at = CASE WHEN booked_at IS NULL THEN starts_at"
    " ELSE created_at END",
)


def _booked_at(conn: Connection) -> None:
    for statement in V9_BOOKED_AT:
        conn.exec_driver_sql(statement)


# version → function upgrading a database at version-1 to version (run in the init transaction)
UPGRADES: dict[int, Callable[[Connection], None]] = {
    2: _backstop,
    3: _backstop_live,
    4: _backstop_set_based,
    5: _time_passes,
    6: _lesson_lookups,
    7: _backstop_exact,
    8: _telling_people,
    9: _booked_at,
}
# what a fresh database needs beyond the tables of the models, in version order
FRESH: tuple[Callable[[Connection], None], ...] = (
    _partial_indexes,
    _backstop,
    _backstop_live,
    _backstop_set_based,
    _backstop_exact,
    _outbox_index,
)


# every table a fresh schema creates (the models', and the backstop's own on PostgreSQL)
OUR_TABLES = frozenset(SQLModel.metadata.tables) | {"lesson_occupancy"}


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
        taken = sorted(set(inspect(conn).get_table_names()) & OUR_TABLES)
        if taken:  # create_all would skip them and hang our keys on another's rows
            raise ConfigError(
                f"the database already has table(s) named as tutorctl's ({', '.join(taken)}) "
                "but no tutorctl schema: they belong to another application, and tutorctl "
                "needs a database of its own (nothing was changed)"
            )
        SQLModel.metadata.create_all(conn)
        for step in FRESH:
            step(conn)
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

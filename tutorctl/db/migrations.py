"""Versioned schema. A fresh database is created at the current version; an older one is
upgraded step by step (``UPGRADES[n]`` brings version n-1 to n). Re-running is a no-op."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, insert, inspect, select
from sqlmodel import SQLModel, col

from tutorctl.core.errors import ConfigError
from tutorctl.db import tables
from tutorctl.db.schema import (
    SchemaVersion,
)

SCHEMA_VERSION = 8

# The PostgreSQL backstop (version 2): a booked lesson occupies its teacher and its student;
# no person may be occupied twice at once, whatever code wrote the rows. Person and time are
# packed into one int8range (person × 10^10 + epoch seconds) so a plain GiST exclusion on
# ranges does it. (Version 3 below widens it to held lessons.)
PG_BACKSTOP = (
    "CREATE TABLE lesson_occupancy ("
    " reservation_id integer NOT NULL REFERENCES reservations(id) ON DELETE CASCADE,"
    " person_id integer NOT NULL,"
    " span int8range NOT NULL,"
    " CONSTRAINT no_double_booking EXCLUDE USING gist (span WITH &&))",
    "CREATE INDEX ix_lesson_occupancy_reservation ON lesson_occupancy (reservation_id)",
    "CREATE FUNCTION tutorctl_occupancy() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy WHERE reservation_id = NEW.id;\n"
    "  IF NEW.status = 'booked' THEN\n"
    "    INSERT INTO lesson_occupancy (reservation_id, person_id, span)\n"
    "    SELECT NEW.id, p, int8range(p * 10000000000 + extract(epoch FROM NEW.starts_at)::bigint,\n"
    "                                p * 10000000000 + extract(epoch FROM NEW.ends_at)::bigint)\n"
    "    FROM unnest(ARRAY[NEW.teacher_id, NEW.student_id]) AS p;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE TRIGGER reservations_occupancy AFTER INSERT OR UPDATE OF status, starts_at, ends_at,"
    " teacher_id, student_id ON reservations FOR EACH ROW EXECUTE FUNCTION tutorctl_occupancy()",
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span)"
    " SELECT r.id, p, int8range(p * 10000000000 + extract(epoch FROM r.starts_at)::bigint,"
    " p * 10000000000 + extract(epoch FROM r.ends_at)::bigint)"
    " FROM reservations r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p WHERE r.status = 'booked'",
)


# Version 3 extends the backstop to every live lesson, held as well as booked. The one
# legitimate overlap is a pending move: its held replacement may overlap the lesson it moves
# (SPEC invariant 1). Each occupancy row carries a lineage — the lesson's own id, or for a
# move's replacement the lineage of the lesson it moves — and rows of one lineage may overlap
# (``lineage WITH <>`` needs btree_gist, a trusted extension). The constraint is deferred to
# commit, because a move inserts its held lesson before the operation that names it.
PG_BACKSTOP_LIVE = (
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "CREATE INDEX IF NOT EXISTS ix_operations_new ON operations (new_id)",
    "ALTER TABLE lesson_occupancy DROP CONSTRAINT no_double_booking",
    "ALTER TABLE lesson_occupancy ADD COLUMN lineage integer",
    "DELETE FROM lesson_occupancy",
    # a person's stretch of time, packed as in version 2
    "CREATE OR REPLACE FUNCTION tutorctl_span(person integer, starts timestamp, ends timestamp)"
    " RETURNS int8range LANGUAGE sql IMMUTABLE AS $$"
    " SELECT int8range(person * 10000000000 + extract(epoch FROM starts)::bigint,"
    " person * 10000000000 + extract(epoch FROM ends)::bigint) $$",
    # a lesson's lineage: that of the lesson its move replaces (or that lesson's id), else its own
    "CREATE OR REPLACE FUNCTION tutorctl_lineage(lesson integer)"
    " RETURNS integer LANGUAGE sql STABLE AS $$ SELECT COALESCE("
    "(SELECT t.lineage FROM operations AS o"
    " JOIN lesson_occupancy AS t ON t.reservation_id = o.target_id"
    " WHERE o.new_id = lesson AND o.kind = 'move' ORDER BY o.id DESC LIMIT 1),"
    " (SELECT o.target_id FROM operations AS o"
    " WHERE o.new_id = lesson AND o.kind = 'move' ORDER BY o.id DESC LIMIT 1), lesson) $$",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy WHERE reservation_id = NEW.id;\n"
    "  IF NEW.status IN ('held', 'booked') THEN\n"
    "    INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "    SELECT NEW.id, p, tutorctl_span(p, NEW.starts_at, NEW.ends_at), tutorctl_lineage(NEW.id)\n"
    "    FROM unnest(ARRAY[NEW.teacher_id, NEW.student_id]) AS p;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE OR REPLACE FUNCTION tutorctl_move_lineage() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  IF NEW.kind = 'move' AND NEW.new_id IS NOT NULL THEN\n"
    "    UPDATE lesson_occupancy SET lineage = tutorctl_lineage(NEW.new_id)\n"
    "    WHERE reservation_id = NEW.new_id;\n"
    "  END IF;\n"
    "  RETURN NEW;\n"
    "END $$",
    "CREATE TRIGGER operations_move_lineage AFTER INSERT ON operations"
    " FOR EACH ROW EXECUTE FUNCTION tutorctl_move_lineage()",
    # backfill in two statements: a move's replacement reads the lineage of the lesson it moves,
    # which a single INSERT … SELECT could not yet see
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)"
    " SELECT r.id, p, tutorctl_span(p, r.starts_at, r.ends_at), r.id"
    " FROM reservations AS r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p"
    " WHERE r.status IN ('held', 'booked') AND NOT EXISTS"
    " (SELECT 1 FROM operations AS o WHERE o.new_id = r.id AND o.kind = 'move')",
    "INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)"
    " SELECT r.id, p, tutorctl_span(p, r.starts_at, r.ends_at), tutorctl_lineage(r.id)"
    " FROM reservations AS r, unnest(ARRAY[r.teacher_id, r.student_id]) AS p"
    " WHERE r.status IN ('held', 'booked') AND EXISTS"
    " (SELECT 1 FROM operations AS o WHERE o.new_id = r.id AND o.kind = 'move')",
    "ALTER TABLE lesson_occupancy ALTER COLUMN lineage SET NOT NULL",
    "ALTER TABLE lesson_occupancy ADD CONSTRAINT no_double_booking"
    " EXCLUDE USING gist (span WITH &&, lineage WITH <>) DEFERRABLE INITIALLY DEFERRED",
)

# Version 4 keeps the same occupancy rows but maintains them once per statement instead of once
# per row: two statement-level triggers read the changed lessons from transition tables, so
# expiring 100k holds is one set-based DELETE, not 100k calls of a plpgsql function. (A trigger
# with transition tables takes one event and no column list, hence two, and the UPDATE one
# keeps to rows whose status, times or people changed.)
PG_BACKSTOP_SET_BASED = (
    "DROP TRIGGER reservations_occupancy ON reservations",
    "DROP FUNCTION tutorctl_occupancy()",
    "CREATE FUNCTION tutorctl_occupancy_inserted() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tutorctl_span(p, n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM new_lessons AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p\n"
    "  WHERE n.status IN ('held', 'booked');\n"
    "  RETURN NULL;\n"
    "END $$",
    # lessons that stopped being live lose their rows (one set-based DELETE: what expire,
    # confirm and abandon do); lessons live after the update whose status, times or people
    # changed get their rows rewritten. The exclusion is checked at commit.
    "CREATE FUNCTION tutorctl_occupancy_updated() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy AS l USING new_lessons AS n\n"
    "  WHERE l.reservation_id = n.id AND n.status NOT IN ('held', 'booked');\n"
    "  WITH changed AS (\n"
    "    SELECT n.* FROM new_lessons AS n JOIN old_lessons AS o ON o.id = n.id\n"
    "    WHERE n.status IN ('held', 'booked') AND (n.status, n.starts_at, n.ends_at,\n"
    "      n.teacher_id, n.student_id) IS DISTINCT FROM\n"
    "      (o.status, o.starts_at, o.ends_at, o.teacher_id, o.student_id)),\n"
    "  gone AS (DELETE FROM lesson_occupancy AS l USING changed AS c\n"
    "    WHERE l.reservation_id = c.id)\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tutorctl_span(p, n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM changed AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p;\n"
    "  RETURN NULL;\n"
    "END $$",
    "CREATE TRIGGER reservations_occupancy_inserted AFTER INSERT ON reservations"
    " REFERENCING NEW TABLE AS new_lessons"
    " FOR EACH STATEMENT EXECUTE FUNCTION tutorctl_occupancy_inserted()",
    "CREATE TRIGGER reservations_occupancy_updated AFTER UPDATE ON reservations"
    " REFERENCING OLD TABLE AS old_lessons NEW TABLE AS new_lessons"
    " FOR EACH STATEMENT EXECUTE FUNCTION tutorctl_occupancy_updated()",
)


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


# Version 7: the backstop exact over every instant SPEC §6 allows (1900–2999). Packing person
# × 10^10 + epoch seconds into one int8range let a person's lesson after 2286 (or before 1970)
# collide with a neighbouring person's: each occupancy row now keeps its person apart
# (``person_id WITH =``, btree_gist) and its time as a tsrange of the lesson's UTC instants.
# The rows keep their person and lineage; their spans are rewritten from their lessons.
PG_BACKSTOP_EXACT = (
    "ALTER TABLE lesson_occupancy DROP CONSTRAINT no_double_booking",
    "ALTER TABLE lesson_occupancy ADD COLUMN during tsrange",
    "UPDATE lesson_occupancy AS l SET during = tsrange(r.starts_at, r.ends_at)"
    " FROM reservations AS r WHERE r.id = l.reservation_id",
    "ALTER TABLE lesson_occupancy DROP COLUMN span",
    "ALTER TABLE lesson_occupancy RENAME COLUMN during TO span",
    "ALTER TABLE lesson_occupancy ALTER COLUMN span SET NOT NULL",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy_inserted() RETURNS trigger"
    " LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tsrange(n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM new_lessons AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p\n"
    "  WHERE n.status IN ('held', 'booked');\n"
    "  RETURN NULL;\n"
    "END $$",
    "CREATE OR REPLACE FUNCTION tutorctl_occupancy_updated() RETURNS trigger"
    " LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  DELETE FROM lesson_occupancy AS l USING new_lessons AS n\n"
    "  WHERE l.reservation_id = n.id AND n.status NOT IN ('held', 'booked');\n"
    "  WITH changed AS (\n"
    "    SELECT n.* FROM new_lessons AS n JOIN old_lessons AS o ON o.id = n.id\n"
    "    WHERE n.status IN ('held', 'booked') AND (n.status, n.starts_at, n.ends_at,\n"
    "      n.teacher_id, n.student_id) IS DISTINCT FROM\n"
    "      (o.status, o.starts_at, o.ends_at, o.teacher_id, o.student_id)),\n"
    "  gone AS (DELETE FROM lesson_occupancy AS l USING changed AS c\n"
    "    WHERE l.reservation_id = c.id)\n"
    "  INSERT INTO lesson_occupancy (reservation_id, person_id, span, lineage)\n"
    "  SELECT n.id, p, tsrange(n.starts_at, n.ends_at), tutorctl_lineage(n.id)\n"
    "  FROM changed AS n, unnest(ARRAY[n.teacher_id, n.student_id]) AS p;\n"
    "  RETURN NULL;\n"
    "END $$",
    "DROP FUNCTION IF EXISTS tutorctl_span(integer, timestamp, timestamp)",
    "ALTER TABLE lesson_occupancy ADD CONSTRAINT no_double_booking EXCLUDE USING gist"
    " (person_id WITH =, span WITH &&, lineage WITH <>) DEFERRABLE INITIALLY DEFERRED",
)


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
    (index,) = (i for i in tables.reservations.indexes if i.name == "ix_reservations_remind")
    index.create(conn)
    tables.outbox.create(conn)
    _outbox_index(conn)


# version → function upgrading a database at version-1 to version (run in the init transaction)
UPGRADES: dict[int, Callable[[Connection], None]] = {
    2: _backstop,
    3: _backstop_live,
    4: _backstop_set_based,
    5: _time_passes,
    6: _lesson_lookups,
    7: _backstop_exact,
    8: _telling_people,
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

"""Upgrades: a database written by an older tutorctl is brought to the current schema by
``db init``, keeps its data, and works at once (both backends)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from tests.conftest import Cli, reserve, school
from tests.helpers import purchase_args
from tests.notify.conftest import book, mail_school
from tutorctl.db.engine import get_engine
from tutorctl.db.migrations import PG_MONEY_COLUMNS, SCHEMA_VERSION

# what version 5 added (time passes: waivers, when an operation was applied and why it was
# abandoned; the balance reserved by a session awaiting its payment)
V5_COLUMNS = (
    ("operations", "waive_notice"),
    ("operations", "applied_at"),
    ("operations", "note"),
    ("booking_sessions", "reserved_cents"),
    ("reservations", "rate_cents"),
)
# … and its tables and indexes (package payments, the history link, the reports' indexes)
V5_TABLES = ("history_users", "package_payments", "package_holds")
V5_INDEXES = (
    "ix_reservations_starts", "ix_calendar_weeks_week", "ix_accounts_balance",
    "ix_payments_settled", "ix_ledger_kind_at", "ix_fundings_payment", "ix_purchases_owed",
)  # fmt: skip


# what version 8 added (SPEC §11: people's emails, the school's message settings, a lesson's
# calendar lineage and reminder time, the outbox)
V8_COLUMNS = (
    ("users", "email"), ("users", "notify"), ("settings", "notifications"),
    ("settings", "mail_from"), ("settings", "reminder_hours"), ("reservations", "lineage_id"),
    ("reservations", "revision"), ("reservations", "remind_from"),
)  # fmt: skip


def drop_version_9(conn: Connection) -> None:
    """Take away what version 9 changed: a lesson's reminder time (none: the caller sets the
    rows that had one) instead of when it was booked, and its index."""
    conn.execute(text("ALTER TABLE reservations RENAME COLUMN booked_at TO remind_from"))
    conn.execute(text("UPDATE reservations SET remind_from = NULL"))
    conn.execute(text("CREATE INDEX ix_reservations_remind ON reservations (remind_from)"))


def drop_version_8(conn: Connection) -> None:
    """Take away what versions 9 and 8 added."""
    drop_version_9(conn)
    conn.execute(text("DROP TABLE outbox"))
    conn.execute(text("DROP INDEX ix_reservations_remind"))
    for table, column in V8_COLUMNS:
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))


def drop_version_5(conn: Connection) -> None:
    """Take away what version 5 added (the caller sets the version it wants to look like)."""
    for table, column in V5_COLUMNS:
        conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    for table in V5_TABLES:
        conn.execute(text(f"DROP TABLE {table}"))
    for index in V5_INDEXES:
        conn.execute(text(f"DROP INDEX {index}"))
    if conn.dialect.name == "postgresql":  # money was 32-bit there
        for table, column in PG_MONEY_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE INTEGER"))


def test_upgrade_from_version_4_adds_the_time_passing_columns(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "41.00")
    cli.ok(*purchase_args("3", "100.00", student="carl"), "--paid-hours", "1")
    held = reserve(cli, "--json").json()
    cli.ok("account", "debit", "bob", "1.00", "--reason", "x")  # a history row of bob's
    with get_engine(cli.url).begin() as conn:  # make it look like a version 4 database
        linked = sorted(conn.execute(text("SELECT user_id, history_id FROM history_users")))
        drop_version_8(conn)
        drop_version_5(conn)
        conn.execute(text("UPDATE tutorctl_schema SET version = 4"))
    assert "older" in cli.fails(4, "session", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (4, SCHEMA_VERSION)
    with get_engine(cli.url).begin() as conn:  # the links were split out of history.user_ids
        backfilled = sorted(conn.execute(text("SELECT user_id, history_id FROM history_users")))
    assert backfilled == linked and len({u for u, _h in linked}) == 4  # alice, bruno, bob, carl
    # the session written before the upgrade goes on: pay from the balance, waive a notice
    cli.ok("session", "confirm", str(held["session_id"]))
    planned = cli.json("cancel", str(held["reservation_id"]), "--waive-notice")
    cli.ok("session", "confirm", str(planned["session_id"]))
    # the package sold before payments were recorded has its payment, pro rata to the cent
    with get_engine(cli.url).begin() as conn:
        paid = conn.execute(text("SELECT minutes, amount_cents FROM package_payments")).all()
    assert [tuple(row) for row in paid] == [(60, 3333)]
    assert cli.json("account", "show", "bob") == {
        **cli.json("account", "show", "bob"),
        "balance_cents": 4000,
        "reserved_cents": 0,
    }


def test_money_adds_up_past_32_bits_on_both_databases(cli: Cli) -> None:
    school(cli)
    for _ in range(3):
        cli.ok("account", "credit", "bob", "10000000.00")  # the most one amount may be
    assert cli.json("account", "show", "bob")["balance_cents"] == 3_000_000_000
    cli.ok("account", "debit", "bob", "10000000.00", "--reason", "back to the family")
    assert cli.json("check")["ok"] is True


def test_upgrade_from_version_5_indexes_the_operation_that_made_a_lesson(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    with get_engine(cli.url).begin() as conn:  # make it look like a version 5 database
        drop_version_8(conn)
        conn.execute(text("DROP INDEX ix_operations_new"))
        conn.execute(text("UPDATE tutorctl_schema SET version = 5"))
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (5, SCHEMA_VERSION)
    with get_engine(cli.url).begin() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("operations")}
    assert "ix_operations_new" in indexes
    shown = cli.json("lesson", "show", str(held["reservation_id"]))
    assert shown["events"][0]["operation_id"] is not None  # found through the new index


def test_upgrade_from_version_7_adds_emails_settings_and_the_outbox(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    with get_engine(cli.url).begin() as conn:  # make it look like a version 7 database
        drop_version_8(conn)
        conn.execute(text("UPDATE tutorctl_schema SET version = 7"))
    assert "older" in cli.fails(4, "user", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (7, SCHEMA_VERSION)
    settings = upgraded["settings"]
    assert (settings["notifications"], settings["mail_from"], settings["reminder_hours"]) == (
        False, None, 24,
    )  # fmt: skip
    # people written before have no email and want messages once they have one
    bob = cli.json("user", "show", "bob")
    assert (bob["email"], bob["notify"]) == (None, True)
    assert cli.json("user", "set", "bob", "--email", "bob@example.org")["email"] == (
        "bob@example.org"
    )
    with get_engine(cli.url).begin() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("outbox")}
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 0
    assert {"ix_outbox_status_next", "uq_outbox_reminder"} <= indexes
    # the session written before the upgrade goes on, notifications on
    cli.ok("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card")
    cli.ok("session", "confirm", str(held["session_id"]))


def test_upgrade_from_version_8_keeps_when_lessons_were_booked_instead_of_their_reminder(
    cli: Cli,
) -> None:
    mail_school(cli)
    _s, ahead = book(cli, week="next", day="wed")  # Wed 2 Dec 10:00: version 8 set its reminder
    _s, today = book(cli, week="this", day="tue", time="15:00-16:00")  # inside the window: none
    with get_engine(cli.url).begin() as conn:  # make it look like a version 8 database
        drop_version_9(conn)
        conn.execute(
            text("UPDATE reservations SET remind_from = starts_at WHERE id = :id"), {"id": ahead}
        )
        conn.execute(text("UPDATE tutorctl_schema SET version = 8"))
    assert "older" in cli.fails(4, "lesson", "show", str(ahead)).err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (8, SCHEMA_VERSION)
    with get_engine(cli.url).begin() as conn:
        indexes = {i["name"] for i in inspect(conn).get_indexes("reservations")}
        rows = conn.execute(
            text(
                "SELECT id, booked_at = created_at, booked_at = starts_at FROM reservations"
                " ORDER BY id"
            )
        ).all()
    assert "ix_reservations_remind" not in indexes and "ix_reservations_starts" in indexes
    assert [tuple(r) for r in rows] == [(ahead, True, False), (today, False, True)]
    due = ("notify", "send", "--dry-run")
    assert cli.json("--now", "2026-11-24T14:30:00+01:00", *due)["reminders_queued"] == 0
    assert cli.json("--now", "2026-12-01T10:30:00+01:00", *due)["reminders_queued"] == 1

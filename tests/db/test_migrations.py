"""Upgrades: a database written by an older tutorctl is brought to the current schema by
``db init``, keeps its data, and works at once (both backends)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Cli, reserve, school
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


def test_upgrade_from_version_4_adds_the_time_passing_columns(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    cli.ok("purchase", "add", "--student", "carl", "--teacher", "alice", "--category", "maths",
           "--hours", "3", "--price", "100.00", "--paid-hours", "1")  # fmt: skip
    held = reserve(cli, "--json").json()
    with get_engine(cli.url).begin() as conn:  # make it look like a version 4 database
        for table, column in V5_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE package_holds"))
        conn.execute(text("DROP TABLE package_payments"))
        if conn.dialect.name == "postgresql":
            for table, column in PG_MONEY_COLUMNS:
                conn.execute(text(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE INTEGER"))
        conn.execute(text("UPDATE tutorctl_schema SET version = 4"))
    assert "older" in cli.fails(4, "session", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (4, SCHEMA_VERSION)
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

"""Upgrades: a database written by an older tutorctl is brought to the current schema by
``db init``, keeps its data, and works at once (both backends)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Cli, reserve, school
from tutorctl.db.engine import get_engine
from tutorctl.db.migrations import SCHEMA_VERSION

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
    held = reserve(cli, "--json").json()
    with get_engine(cli.url).begin() as conn:  # make it look like a version 4 database
        for table, column in V5_COLUMNS:
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
        conn.execute(text("DROP TABLE package_holds"))
        conn.execute(text("UPDATE tutorctl_schema SET version = 4"))
    assert "older" in cli.fails(4, "session", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (4, SCHEMA_VERSION)
    # the session written before the upgrade goes on: pay from the balance, waive a notice
    cli.ok("session", "confirm", str(held["session_id"]))
    planned = cli.json("cancel", str(held["reservation_id"]), "--waive-notice")
    cli.ok("session", "confirm", str(planned["session_id"]))
    assert cli.json("account", "show", "bob") == {
        **cli.json("account", "show", "bob"),
        "balance_cents": 4000,
        "reserved_cents": 0,
    }

"""The PostgreSQL backstop: even a raw INSERT cannot double-book a person."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Cli, booked, school
from tutorctl.db.engine import get_engine

RAW = text(
    "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
    " starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
    " VALUES (:t, :s, 1, '2026-11-23', 4, :a, :b, :sa, :ea, 'booked', 0, true, false, :sa)"
)


def _raw_booking(url: str, teacher: int, student: int, start_hour: int, end_hour: int) -> None:
    # Fri 2026-11-27 in Paris is UTC+1
    with get_engine(url).begin() as conn:
        conn.execute(
            RAW,
            {
                "t": teacher,
                "s": student,
                "a": start_hour,
                "b": end_hour,
                "sa": datetime(2026, 11, 27, start_hour - 1),
                "ea": datetime(2026, 11, 27, end_hour - 1),
            },
        )


def _ids(cli: Cli) -> dict[str, int]:
    return {u["handle"]: u["id"] for u in cli.json("user", "list")["users"]}


def test_raw_insert_of_an_overlapping_booking_fails(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("the exclusion backstop is PostgreSQL's; SQLite relies on BEGIN IMMEDIATE")
    school(cli)
    cli.ok("account", "credit", "bob", "100")
    lesson = booked(cli, day="fri", time="10:00-12:00")
    ids = _ids(cli)
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_booking(cli.url, ids["alice"], ids["carl"], 11, 12)  # the teacher is taken
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_booking(cli.url, ids["bruno"], ids["bob"], 9, 11)  # the student is taken
    _raw_booking(cli.url, ids["bruno"], ids["carl"], 10, 11)  # other people: fine
    planned = cli.json("cancel", str(lesson))
    cli.ok("session", "confirm", str(planned["session_id"]))
    _raw_booking(cli.url, ids["alice"], ids["bob"], 10, 11)  # the cancelled lesson freed them
    with get_engine(
        cli.url
    ).begin() as conn:  # remove the raw rows: the closing check is about tutorctl
        conn.execute(text("DELETE FROM reservations WHERE unfunded"))


def test_upgrade_from_version_1_adds_the_backstop(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("version 2 adds a PostgreSQL-only backstop")
    school(cli)
    cli.ok("account", "credit", "bob", "100")
    booked(cli, day="fri", time="10:00-12:00")
    with get_engine(cli.url).begin() as conn:  # make it look like a version 1 database
        conn.execute(text("DROP TRIGGER reservations_occupancy ON reservations"))
        conn.execute(text("DROP FUNCTION tutorctl_occupancy()"))
        conn.execute(text("DROP TABLE lesson_occupancy"))
        conn.execute(text("UPDATE tutorctl_schema SET version = 1"))
    assert "older" in cli.fails(4, "user", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (1, 2)
    ids = _ids(cli)
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_booking(
            cli.url, ids["alice"], ids["carl"], 11, 12
        )  # existing bookings were backfilled

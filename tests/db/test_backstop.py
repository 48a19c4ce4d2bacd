"""The PostgreSQL backstop: even a raw INSERT cannot double-book a person."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Cli, booked, school
from tests.db.test_migrations import drop_version_5, drop_version_8
from tests.helpers import move_args, reserve_args
from tutorctl.db.engine import get_engine
from tutorctl.db.migrations import SCHEMA_VERSION

RAW = text(
    "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
    " starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
    " VALUES (:t, :s, 1, '2026-11-23', 4, :a, :b, :sa, :ea, :status, 0, true, false, :sa)"
)


def _raw_booking(
    url: str, teacher: int, student: int, start_hour: int, end_hour: int, status: str = "booked"
) -> None:
    # Fri 2026-11-27 in Paris is UTC+1
    with get_engine(url).begin() as conn:
        conn.execute(
            RAW,
            {
                "t": teacher,
                "s": student,
                "status": status,
                "a": start_hour,
                "b": end_hour,
                "sa": datetime(2026, 11, 27, start_hour - 1),
                "ea": datetime(2026, 11, 27, end_hour - 1),
            },
        )


def _ids(cli: Cli) -> dict[str, int]:
    return {u["handle"]: u["id"] for u in cli.json("user", "list")["users"]}


def _pg_school(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("the exclusion backstop is PostgreSQL's; SQLite relies on BEGIN IMMEDIATE")
    school(cli)
    cli.ok("account", "credit", "bob", "100")


def test_raw_insert_of_an_overlapping_booking_fails(cli: Cli) -> None:
    _pg_school(cli)
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


def _raw_hold(url: str, teacher: int, student: int, start_hour: int, end_hour: int) -> None:
    _raw_booking(url, teacher, student, start_hour, end_hour, status="held")


def test_raw_insert_of_an_overlapping_hold_fails_but_a_move_may_overlap_its_lesson(
    cli: Cli,
) -> None:
    _pg_school(cli)
    held = cli.json(
        *reserve_args(day="fri", time="10:00-12:00"),
    )
    ids = _ids(cli)
    with pytest.raises(IntegrityError, match="no_double_booking"):  # checked at commit
        _raw_hold(cli.url, ids["alice"], ids["carl"], 11, 12)  # the hold occupies the teacher
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_booking(cli.url, ids["bruno"], ids["bob"], 9, 11)  # … and the student
    cli.ok("session", "confirm", str(held["session_id"]))
    lesson = held["reservation_id"]
    # a move's held replacement overlaps the lesson it moves: the one allowed overlap, and
    # it stays allowed across a second move of the moved lesson
    for time in ("11:00-13:00", "12:00-14:00"):
        moved = cli.json(*move_args(lesson, week="this", day="fri", time=time))
        cli.ok("session", "confirm", str(moved["session_id"]))
        lesson = moved["reservation_id"]
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_hold(cli.url, ids["bruno"], ids["bob"], 13, 14)  # the moved lesson occupies bob
    cli.fails(1, *reserve_args(teacher="bruno", day="fri", time="13:00-14:00"))


def _as_version_1(cli: Cli) -> None:
    with get_engine(cli.url).begin() as conn:  # make it look like a version 1 database
        conn.execute(text("DROP TRIGGER operations_move_lineage ON operations"))
        conn.execute(text("DROP FUNCTION tutorctl_move_lineage()"))
        conn.execute(text("DROP FUNCTION tutorctl_lineage(integer)"))
        conn.execute(text("DROP FUNCTION IF EXISTS tutorctl_span(integer, timestamp, timestamp)"))
        conn.execute(text("DROP INDEX ix_operations_new"))
        for event in ("inserted", "updated"):
            conn.execute(text(f"DROP TRIGGER reservations_occupancy_{event} ON reservations"))
            conn.execute(text(f"DROP FUNCTION tutorctl_occupancy_{event}()"))
        conn.execute(text("DROP TABLE lesson_occupancy"))
        drop_version_8(conn)
        drop_version_5(conn)
        conn.execute(text("UPDATE tutorctl_schema SET version = 1"))


def test_upgrade_from_version_1_adds_the_backstop_and_backfills_live_lessons(cli: Cli) -> None:
    _pg_school(cli)
    lesson = booked(cli, day="fri", time="10:00-12:00")
    moved = cli.json(*move_args(lesson, week="this", day="fri", time="11:00-13:00"))
    held = cli.json(
        *reserve_args(teacher="bruno", student="carl", day="fri", time="15:00-16:00"),
    )
    _as_version_1(cli)
    assert "older" in cli.fails(4, "user", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (1, SCHEMA_VERSION)
    assert cli.json("db", "init")["schema_version_before"] == SCHEMA_VERSION  # re-run: no-op
    ids = _ids(cli)
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_booking(cli.url, ids["alice"], ids["carl"], 11, 12)  # the booked lesson, backfilled
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw_hold(cli.url, ids["alice"], ids["carl"], 15, 16)  # carl's hold, backfilled
    # the backfilled move replacement still shares its lesson's lineage: confirming works
    cli.ok("session", "confirm", str(moved["session_id"]))
    cli.ok("session", "abandon", str(held["session_id"]))


OCCUPANCY = text("SELECT reservation_id, person_id FROM lesson_occupancy")
LIVE_PEOPLE = text(
    "SELECT id, p FROM reservations, unnest(ARRAY[teacher_id, student_id]) AS p"
    " WHERE status IN ('held', 'booked')"
)


def _occupancy(url: str) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    with get_engine(url).connect() as conn:
        occupied = {(r, p) for r, p in conn.execute(OCCUPANCY)}
        live = {(r, p) for r, p in conn.execute(LIVE_PEOPLE)}
    return occupied, live


def test_occupancy_follows_every_change_of_many_lessons_at_once(cli: Cli) -> None:
    """The statement-level triggers: inserts, set-based releases (expire), confirms, a cancel
    and an update of an unrelated column leave exactly the live lessons' people occupied."""
    _pg_school(cli)
    kept = booked(cli, day="mon", time="10:00-11:00", week="next")
    for day in ("tue", "wed", "thu"):  # three holds left to expire, in one session
        cli.ok(*reserve_args(student="carl", week="next", day=day, time="14:00-16:00"))
    occupied, live = _occupancy(cli.url)
    assert occupied == live and len(live) == 2 * 4
    cli.ok("expire", "--json")  # nothing stale yet
    assert _occupancy(cli.url)[0] == live
    stale = cli.json("--now", "2026-11-24T12:00:00+01:00", "expire")  # holds 3 hours old
    assert stale["released_holds"] == 3
    occupied, live = _occupancy(cli.url)
    assert occupied == live == {(kept, p) for _, p in live} and len(live) == 2
    with get_engine(cli.url).begin() as conn:  # a column the backstop does not read
        conn.execute(text("UPDATE reservations SET unfunded = NOT unfunded"))
    assert _occupancy(cli.url)[0] == live
    cancelled = cli.json("cancel", str(kept))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    assert _occupancy(cli.url) == (set(), set())
    # the released places are free again, for the database as well
    cli.ok(*reserve_args(week="next", day="tue", time="14:00-16:00"))

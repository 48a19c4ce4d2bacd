"""The import driver and the reservations kind, at the service level (no CLI, no files)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import text

from tests.conftest import NOW, Cli
from tests.helpers import schedule_set_args
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.errors import InputError
from tutorctl.core.views import ImportView
from tutorctl.db import locks
from tutorctl.db.uow import Database, Tx
from tutorctl.services import imports
from tutorctl.services.imports import driver
from tutorctl.services.imports.fields import RowError

HEADER = ("teacher", "student", "category", "date", "start", "end", "status")


def _school(cli: Cli) -> None:
    for handle, role in (("alice", "teacher"), ("tom", "teacher"), ("bob", "student"),
                         ("carol", "student")):  # fmt: skip
        cli.ok("user", "add", handle, "--name", handle.title(), "--role", role)
    cli.ok("category", "add", "maths", "--price", "40")


def _rows(*lines: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    return [(n, dict(zip(HEADER, values, strict=True))) for n, values in enumerate(lines, 2)]


def _import(cli: Cli, kind: str, rows: list[tuple[int, dict[str, str]]]) -> ImportView:
    db = Database(cli.url, Clock(parse_now(NOW)), actor="tester")

    def body(tx: Tx) -> ImportView:
        def again() -> Iterator[tuple[int, dict[str, str]]]:
            return iter([(line, dict(row)) for line, row in rows])

        return imports.run_import(tx, kind, "lessons.csv", again)

    return db.write(f"import {kind}", body)


def _count(cli: Cli, sql: str) -> int:
    from tutorctl.db.engine import get_engine

    with get_engine(cli.url).connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


@pytest.fixture
def tiny_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of two rows and a spool flushed at every key: every boundary is crossed."""
    monkeypatch.setattr(driver, "BATCH", 2)
    monkeypatch.setattr(locks, "SPOOL", 1)


def test_a_bad_row_is_reported_with_its_line_and_nothing_is_written(cli: Cli) -> None:
    _school(cli)
    rows = _rows(
        ("alice", "bob", "maths", "2026-11-02", "10:00", "11:00", "done"),
        ("alice", "bob", "maths", "2026-11-03", "10:00", "11:00", "maybe"),
        ("alice", "nobody", "maths", "2026-11-04", "10:00", "11:00", "done"),
    )
    with pytest.raises(InputError) as caught:
        _import(cli, "reservations", rows)
    message = caught.value.message
    assert message.startswith("2 bad row(s) in lessons.csv; nothing was written")
    assert "line 3, column status: bad status 'maybe': use booked or done" in message
    assert "line 4, column student: no user 'nobody'" in message
    assert _count(cli, "SELECT count(*) FROM reservations") == 0
    assert _count(cli, "SELECT count(*) FROM calendar_weeks") == 0  # the locks rolled back too


@pytest.mark.usefixtures("tiny_chunks")
def test_an_overlap_across_batches_is_found_and_rolls_everything_back(cli: Cli) -> None:
    _school(cli)
    rows = _rows(
        ("alice", "bob", "maths", "2026-11-02", "10:00", "11:00", "done"),  # batch 1
        ("tom", "carol", "maths", "2026-11-09", "10:00", "11:00", "done"),
        ("tom", "carol", "maths", "2026-11-10", "10:00", "11:00", "done"),  # batch 2
        ("alice", "carol", "maths", "2026-11-02", "10:00", "12:00", "done"),  # alice at 10:00
        ("tom", "bob", "maths", "2026-11-02", "09:00", "11:00", "done"),  # batch 3: bob at 10:00
    )
    with pytest.raises(InputError) as caught:
        _import(cli, "reservations", rows)
    message = caught.value.message
    assert message.startswith("2 bad row(s)")
    assert "line 5, column start: overlaps lesson " in message  # written in an earlier batch
    assert "line 6, column start: overlaps lesson " in message
    assert _count(cli, "SELECT count(*) FROM reservations") == 0


@pytest.mark.usefixtures("tiny_chunks")
def test_every_week_is_locked_and_stamped_once_across_chunks(cli: Cli) -> None:
    _school(cli)
    cli.ok(*schedule_set_args("alice", "2026-W50", "mon", "09:00-12:00"), "--open")
    before = _count(cli, "SELECT stamp FROM calendar_weeks")
    rows = _rows(
        ("alice", "bob", "maths", "2026-12-07", "10:00", "11:00", "booked"),  # needs availability
        ("alice", "bob", "maths", "2026-11-02", "10:00", "11:00", "done"),
        ("alice", "carol", "maths", "2026-11-03", "10:00", "11:00", "done"),
        ("tom", "carol", "maths", "2026-11-16", "10:00", "11:00", "done"),
    )
    view = _import(cli, "reservations", rows)
    assert (view.rows, view.written) == (4, 4)
    weeks = {
        (handle, week): stamp
        for handle, week, stamp in _rows_of(
            cli,
            "SELECT u.handle, c.week, c.stamp FROM calendar_weeks c JOIN users u ON u.id = c.user_id",
        )
    }
    assert weeks == {
        ("alice", date(2026, 12, 7)): before + 1,  # an existing week: its stamp moved on
        ("bob", date(2026, 12, 7)): 1,
        ("alice", date(2026, 11, 2)): 1,  # two lessons that week, one lock
        ("bob", date(2026, 11, 2)): 1,
        ("carol", date(2026, 11, 2)): 1,
        ("tom", date(2026, 11, 16)): 1,
        ("carol", date(2026, 11, 16)): 1,
    }


def test_a_lesson_outside_the_teachers_availability_is_refused(cli: Cli) -> None:
    _school(cli)
    rows = _rows(("alice", "bob", "maths", "2026-12-07", "10:00", "11:00", "booked"))
    with pytest.raises(InputError) as caught:
        _import(cli, "reservations", rows)
    assert "line 2, column start: alice is not available then" in caught.value.message


def _rows_of(cli: Cli, sql: str) -> list[tuple[str, date, int]]:
    from tutorctl.db.engine import get_engine

    with get_engine(cli.url).connect() as conn:
        return [
            (h, w if isinstance(w, date) else date.fromisoformat(w), s)
            for h, w, s in conn.execute(text(sql))
        ]


def test_a_kind_parses_one_row_and_names_the_bad_column(cli: Cli) -> None:
    users = imports.KIND["users"]
    assert users.columns[:3] == ("handle", "name", "role")
    db = Database(cli.url, Clock(parse_now(NOW)), actor="tester")

    def parse(tx: Tx) -> None:
        seen: set[str] = set()
        keys = driver.Keys(tx)
        assert users.parse(tx, {"handle": "ann", "name": "Ann", "role": "student"}, keys, seen)
        with pytest.raises(RowError) as twice:
            users.parse(tx, {"handle": "ann", "name": "Ann", "role": "student"}, keys, seen)
        assert (twice.value.column, twice.value.reason) == (
            "handle",
            "'ann' appears twice in the file",
        )
        with pytest.raises(RowError) as role:
            users.parse(tx, {"handle": "bea", "name": "Bea", "role": "admin"}, keys, seen)
        assert role.value.column == "role"

    db.read(parse)


def test_problems_report_at_most_max_reported_in_line_order() -> None:
    problems = driver.Problems("f.csv")
    for line in range(driver.MAX_REPORTED + 5, 1, -1):
        problems.add(line, "start", "bad")
    with pytest.raises(InputError) as caught:
        problems.raise_if_any()
    lines = caught.value.message.splitlines()
    assert lines[0] == f"{driver.MAX_REPORTED + 4} bad row(s) in f.csv; nothing was written"
    assert lines[1] == "  line 6, column start: bad"  # the first 100 added, in line order
    assert lines[-1] == "  … and 4 more"


def test_availability_is_read_for_every_week_of_a_batch(cli: Cli) -> None:
    _school(cli)
    for week in ("2026-W50", "2026-W51"):
        cli.ok(*schedule_set_args("alice", week, "mon-fri", "09:00-12:00"), "--open")
    rows = _rows(
        ("alice", "bob", "maths", "2026-12-07", "10:00", "11:00", "booked"),
        ("alice", "carol", "maths", "2026-12-15", "09:00", "10:00", "booked"),
        ("alice", "bob", "maths", "2026-12-16", "11:00", "13:00", "booked"),  # closed at 12:00
        ("tom", "carol", "maths", "2026-12-16", "11:00", "12:00", "booked"),  # tom never opened
    )
    with pytest.raises(InputError) as caught:
        _import(cli, "reservations", rows)
    message = caught.value.message
    assert message.startswith("2 bad row(s)")
    assert "line 4, column start: alice is not available then" in message
    assert "line 5, column start: tom is not available then" in message
    assert _import(cli, "reservations", rows[:2]).written == 2


def test_a_lessons_span_and_people_are_checked_by_the_desks_rules(cli: Cli) -> None:
    """The import asks ``placement`` as the desk does (DST gap, clock change, roles, active),
    wording each problem for its row."""
    _school(cli)
    cli.ok("user", "set", "carol", "--inactive")
    rows = _rows(
        ("alice", "bob", "maths", "2026-03-29", "02:00", "03:00", "done"),  # clocks spring forward
        ("alice", "bob", "maths", "2026-10-25", "02:00", "03:00", "done"),  # 02:00-03:00 twice
        ("bob", "alice", "maths", "2026-11-02", "10:00", "11:00", "done"),
        ("alice", "carol", "maths", "2026-12-07", "10:00", "11:00", "booked"),
    )
    with pytest.raises(InputError) as caught:
        _import(cli, "reservations", rows)
    assert caught.value.message.splitlines()[1:] == [
        "  line 2, column start: 02:00 does not exist on 2026-03-29 (DST)",
        "  line 3, column end: spans a change of the clocks on 2026-10-25: it would last 120 "
        "real minutes but be billed 60",
        "  line 4, column teacher: teacher must be a teacher and student a student",
        "  line 5, column student: inactive people take no new lessons",
    ]

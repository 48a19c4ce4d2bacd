"""schedule set / copy / show through the CLI, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Cli
from tests.helpers import schedule_set_args
from tutorctl.db.engine import get_engine


def _school(cli: Cli, *init: str) -> None:
    if init:
        cli.ok("db", "init", *init)
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    cli.ok("user", "add", "bob", "--name", "Bob", "--role", "student")


def _open_slots(show: dict[str, Any], day: int) -> list[str]:
    return [s["time"] for s in show["days"][day]["slots"] if s["open"]]


@pytest.mark.pooled
def test_set_range_of_weeks_atomically(cli: Cli) -> None:
    _school(cli)
    change = cli.json(
        *schedule_set_args("alice", "this..+2", "mon-fri", "09:00-12:00"),
        "--open",
    )
    assert change["weeks"] == ["2026-W48", "2026-W49", "2026-W50"]
    assert change["changed_slots"] == 3 * 5 * 3
    assert set(change["stamps"].values()) == {1}
    for week in ("2026-W48", "2026-W50"):
        show = cli.json("schedule", "show", "alice", "--week", week)
        assert _open_slots(show, 0) == ["09:00", "10:00", "11:00"]
        assert _open_slots(show, 5) == []
    assert _open_slots(cli.json("schedule", "show", "alice", "--week", "2026-W51"), 0) == []


def test_show_json_shape(cli: Cli) -> None:
    _school(cli)
    show = cli.json("schedule", "show", "alice", "--week", "2026-11-25")
    assert {"week", "user", "stamp", "days", "lessons"} <= set(show)
    assert show["week"] == "2026-W48" and show["stamp"] == 0
    assert show["user"]["handle"] == "alice"
    assert [d["date"] for d in show["days"]] == [f"2026-11-{d}" for d in range(23, 30)]
    assert all(len(d["slots"]) == 24 for d in show["days"])
    assert show["lessons"] == []


@pytest.mark.pooled
def test_if_stamp_refuses_a_stale_edit_and_changes_nothing(cli: Cli) -> None:
    _school(cli)
    cli.ok(
        *schedule_set_args("alice", "this", "mon", "09:00-10:00"),
        "--open",
    )
    shown = cli.json("schedule", "show", "alice")["stamp"]
    cli.ok(
        *schedule_set_args("alice", "this", "tue", "09:00-10:00"),
        "--open",
        "--if-stamp",
        str(shown),
    )
    result = cli.fails(
        1,
        *schedule_set_args("alice", "this", "wed", "09:00-10:00"),
        "--open",
        "--if-stamp",
        str(shown),
    )
    assert "changed since it was shown" in result.err
    after = cli.json("schedule", "show", "alice")
    assert after["stamp"] == shown + 1
    assert _open_slots(after, 2) == []
    cli.fails(
        2,
        *schedule_set_args("alice", "this..next", "mon", "09:00-10:00"),
        "--open",
        "--if-stamp",
        "1",
    )


@pytest.mark.pooled
def test_copy_week_template(cli: Cli) -> None:
    _school(cli)
    cli.ok(
        *schedule_set_args("alice", "this", "mon,wed", "14:00-16:00"),
        "--open",
    )
    change = cli.json("schedule", "copy", "alice", "--from", "this", "--to", "next..+3")
    assert change["weeks"] == ["2026-W49", "2026-W50", "2026-W51"]
    assert change["changed_slots"] == 3 * 4
    source = cli.json("schedule", "show", "alice", "--week", "this")
    assert source["stamp"] == 1  # the template was read under lock, not touched
    target = cli.json("schedule", "show", "alice", "--week", "2026-W51")
    assert _open_slots(target, 0) == _open_slots(target, 2) == ["14:00", "15:00"]
    cli.fails(2, "schedule", "copy", "alice", "--from", "this", "--to", "this..next")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--week", "2026-W60"], "2026-W60"),
        (["--week", "someday"], "someday"),
        (["--days", "mon-funday"], "mon-funday"),
        (["--hours", "09:30-10:00"], "slot boundary"),
        (["--hours", "10:00-09:00"], "after the start"),
    ],
)
def test_bad_input_is_exit_2_and_names_the_value(cli: Cli, args: list[str], needle: str) -> None:
    _school(cli)
    base = {"--week": "this", "--days": "mon", "--hours": "09:00-10:00"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for pair in base.items() for x in pair]
    result = cli.fails(2, "schedule", "set", "alice", *flat, "--open")
    assert needle in result.err
    assert cli.json("schedule", "show", "alice")["stamp"] == 0


def test_refusals(cli: Cli) -> None:
    _school(cli)
    cli.fails(
        1,
        *schedule_set_args("bob", "this", "mon", "09:00-10:00"),
        "--open",
    )
    cli.fails(
        3,
        *schedule_set_args("nobody", "this", "mon", "09:00-10:00"),
        "--open",
    )
    cli.fails(2, *schedule_set_args("alice", "this", "mon", "09:00-10:00"))
    cli.fails(3, "schedule", "show", "alice", "--with", "nobody")


def test_dst_spring_forward_slot_cannot_be_opened(cli: Cli) -> None:
    _school(cli, "--slot-minutes", "30")
    result = cli.fails(
        1,
        *schedule_set_args("alice", "2026-W13", "sun", "02:00-03:00"),
        "--open",
    )
    assert "does not exist" in result.err and "02:00" in result.err
    change = cli.json(
        *schedule_set_args("alice", "2026-W13", "sat-sun", "00:00-24:00"),
        "--open",
    )
    assert change["skipped"] == ["Sun 2026-03-29 02:00-02:30", "Sun 2026-03-29 02:30-03:00"]
    show = cli.json("schedule", "show", "alice", "--week", "2026-W13")
    sunday = {s["time"]: s for s in show["days"][6]["slots"]}
    assert not sunday["02:00"]["exists"] and not sunday["02:00"]["open"]
    assert sunday["03:00"]["open"] and show["days"][5]["slots"][4]["open"]
    assert "n/a" in cli.ok("schedule", "show", "alice", "--week", "2026-W13").out


@pytest.mark.parametrize("slot", ["60", "30", "15"])
def test_fall_back_week_and_slot_lengths(cli: Cli, slot: str) -> None:
    _school(cli, "--slot-minutes", slot)
    cli.ok(
        *schedule_set_args("alice", "2026-W43..2026-W44", "sun", "00:00-04:00"),
        "--open",
    )
    for week in ("2026-W43", "2026-W44"):
        show = cli.json("schedule", "show", "alice", "--week", week)
        sunday = show["days"][6]["slots"]
        assert len(sunday) == 1440 // int(slot)
        assert all(s["exists"] for s in sunday)  # falling back never removes a wall time
        assert len(_open_slots(show, 6)) == 240 // int(slot)


def test_student_view_with_teacher_overlay(cli: Cli) -> None:
    _school(cli)
    cli.ok(
        *schedule_set_args("alice", "this", "mon", "09:00-11:00"),
        "--open",
    )
    show = cli.json("schedule", "show", "bob", "--with", "alice")
    assert show["with_user"]["handle"] == "alice" and show["with_stamp"] == 1
    monday = show["days"][0]["slots"]
    assert [s["time"] for s in monday if s["with_open"]] == ["09:00", "10:00"]
    assert "free" in cli.ok("schedule", "show", "bob", "--with", "alice").out


def test_reading_a_week_is_a_few_queries(cli: Cli) -> None:
    _school(cli)
    cli.ok(
        *schedule_set_args("alice", "this", "mon", "09:00-11:00"),
        "--open",
    )
    statements: list[str] = []
    engine = get_engine(cli.url)

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", count)
    try:
        cli.ok("schedule", "show", "bob", "--with", "alice", "--json")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    selects = [s for s in statements if s == "SELECT"]
    # schema version + settings, the two users, then the week: calendars + lessons
    assert len(selects) <= 6, statements

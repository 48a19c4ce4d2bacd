"""reserve / cancel / move / session / history through the CLI, on both databases."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, reserve_args


@pytest.mark.pooled
def test_reserve_holds_the_slot_for_everyone(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    assert held["status"] == "held" and held["kind"] == "reserve"
    assert {"session_id", "operation_id", "reservation_id"} <= set(held)
    show = cli.json("schedule", "show", "alice")
    assert [(lesson["id"], lesson["status"]) for lesson in show["lessons"]] == [
        (held["reservation_id"], "held")
    ]
    assert "bob maths (held)" in cli.ok("schedule", "show", "alice").out
    clash = cli.fails(1, *reserve_args(student="carl"))
    assert f"lesson {held['reservation_id']}" in clash.err and "alice teaching bob" in clash.err
    busy = reserve(cli, student="bob", teacher="bruno")  # bob is busy then, whoever teaches
    assert busy.code == 1 and f"lesson {held['reservation_id']}" in busy.err


def test_student_cannot_be_in_two_places(cli: Cli) -> None:
    school(cli)
    first = reserve(cli, "--json").json()
    result = cli.fails(1, *reserve_args(teacher="bruno", time="10:00-12:00"))
    assert f"lesson {first['reservation_id']}" in result.err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--day", "sat"], "not available"),
        (["--time", "08:00-10:00"], "not available"),
        (["--day", "mon"], "in the past"),  # Monday 2026-11-23 is before now
        (["--week", "2026-W13", "--day", "sun", "--time", "02:00-03:00"], "does not exist"),
    ],
)
def test_rules_refuse_and_name_the_rule(cli: Cli, args: list[str], needle: str) -> None:
    school(cli)
    base = dict(zip(reserve_args()[1::2], reserve_args()[2::2], strict=True))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli.fails(1, "reserve", *[x for pair in base.items() for x in pair])
    assert needle in result.err
    assert cli.json("session", "list")["sessions"] == [] or all(
        s["pending_operations"] == 0 for s in cli.json("session", "list")["sessions"]
    )


def test_minimum_notice(cli: Cli) -> None:
    school(cli)
    cli.ok("db", "init", "--min-notice-hours", "48")
    result = cli.fails(1, *reserve_args(day="wed"))  # Wed 10:00 is 25 h away
    assert "minimum booking notice of 48 h" in result.err
    cli.ok(*reserve_args(day="fri"))


def test_inactive_people_and_wrong_roles(cli: Cli) -> None:
    school(cli)
    cli.fails(1, *reserve_args(student="alice"))  # a teacher is not a student
    cli.fails(3, *reserve_args(student="nobody"))
    cli.ok("user", "deactivate", "carl")
    assert "inactive" in cli.fails(1, *reserve_args(student="carl")).err
    cli.fails(2, *reserve_args(time="10:30-11:00"))
    cli.fails(2, *reserve_args(day="someday"))


def test_repeat_is_all_or_nothing_and_lists_every_clash(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *reserve_args(student="carl", week="+1"),
    )
    cli.ok(
        *reserve_args(student="carl", week="+3"),
    )
    result = cli.fails(1, *reserve_args(), "--repeat", "4")
    assert (
        "2 of 4 weeks clash" in result.err and "2026-W49" in result.err and "2026-W51" in result.err
    )
    assert len(cli.json("schedule", "show", "alice", "--week", "this")["lessons"]) == 0
    weekly = reserve(cli, "--json", "--repeat", "3", day="thu").json()
    assert len(weekly["reservation_ids"]) == 3 and len(set(weekly["operation_ids"])) == 3
    dates = [lesson["date"] for lesson in weekly["lessons"]]
    assert dates == ["2026-11-26", "2026-12-03", "2026-12-10"]


@pytest.mark.pooled
def test_idempotency_key(cli: Cli) -> None:
    school(cli)
    first = reserve(cli, "--json", "--idempotency-key", "import-42").json()
    again = reserve(cli, "--json", "--idempotency-key", "import-42").json()
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    assert len(cli.json("schedule", "show", "alice")["lessons"]) == 1
    result = cli.fails(1, *reserve_args(day="thu"), "--idempotency-key", "import-42")
    assert "different request" in result.err


@pytest.mark.pooled
def test_session_show_drop_and_abandon(cli: Cli) -> None:
    school(cli)
    a = reserve(cli, "--json").json()
    b = reserve(cli, "--json", day="thu").json()
    assert a["session_id"] == b["session_id"]  # the student's open session is reused
    sid = str(a["session_id"])
    shown = cli.json("session", "show", sid)
    assert shown["status"] == "open" and [op["kind"] for op in shown["operations"]] == [
        "reserve",
        "reserve",
    ]
    assert shown["expires_at"].startswith("2026-11-24T09:20")
    after = cli.json("session", "drop", sid, str(a["operation_id"]))
    assert [op["status"] for op in after["operations"]] == ["abandoned", "pending"]
    cli.ok(*reserve_args(student="carl"))  # the dropped hold no longer blocks
    cli.fails(3, "session", "drop", sid, "999")
    cli.fails(1, "session", "drop", sid, str(a["operation_id"]))
    assert cli.json("session", "abandon", sid)["status"] == "abandoned"
    result = cli.fails(1, *reserve_args(day="fri"), "--session", sid)
    assert "abandoned" in result.err
    cli.fails(1, "session", "abandon", sid)
    assert [s["status"] for s in cli.json("session", "list", "--student", "bob")["sessions"]] == [
        "abandoned"
    ]
    assert "session" in cli.ok("session", "show", sid).out
    cli.fails(2, "session", "list", "--status", "nonsense")
    cli.fails(3, "session", "show", "404")


@pytest.mark.pooled
def test_cancel_and_move_plan_operations(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "200")
    lesson = booked(cli)
    planned = cli.json("cancel", str(lesson))
    assert planned["status"] == "pending" and planned["kind"] == "cancel"
    assert "(cancel?)" in cli.ok("schedule", "show", "alice").out
    assert "pending cancel" in cli.fails(1, "cancel", str(lesson)).err
    assert (
        "pending cancel"
        in cli.fails(1, *move_args(lesson, week="this", day="thu", time="10:00-11:00")).err
    )
    cli.ok("session", "abandon", str(planned["session_id"]))
    moved = cli.json(*move_args(lesson, week="this", day="thu", time="14:00-16:00"))
    assert moved["status"] == "held" and moved["reservation_id"] != lesson
    show = {x["id"]: x for x in cli.json("schedule", "show", "alice")["lessons"]}
    assert show[lesson]["status"] == "booked" and show[lesson]["pending"] == "move"
    assert show[moved["reservation_id"]]["status"] == "held"
    cli.fails(3, "cancel", "9999")
    cli.fails(1, "cancel", str(moved["reservation_id"]))  # a held lesson is not booked yet


def test_move_refuses_a_clash_but_may_overlap_its_old_place(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "200")
    lesson = booked(cli)
    cli.ok(*reserve_args(student="carl", time="12:00-13:00"))
    assert (
        "clashes"
        in cli.fails(1, *move_args(lesson, week="this", day="wed", time="11:00-13:00")).err
    )
    cli.ok(*move_args(lesson, week="this", day="wed", time="10:00-12:00"))


@pytest.mark.pooled
def test_history_records_every_mutation_with_actor(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    entries = cli.json("history")["entries"]
    assert {e["actor"] for e in entries if e["command"] != "db init"} == {"tester"}
    commands = [e["command"] for e in entries]
    assert commands.count("user add") == 4 and "reserve" in commands
    mine = cli.json("history", "--session", str(held["session_id"]))["entries"]
    assert [e["command"] for e in mine] == ["reserve"]
    bobs = cli.json("history", "--user", "bob")["entries"]
    assert [e["command"] for e in bobs] == ["user add", "reserve"]
    assert cli.json("history", "--since", "2030-01-01")["entries"] == []
    cli.fails(2, "history", "--since", "soon")


# -- two processes race for one slot ------------------------------------------------------------


def _race(url: str, student: str, day: str, barrier: Any, out: Any) -> None:
    import contextlib
    import io
    import os

    from tutorctl.cli.app import main

    os.environ.update(
        TUTORCTL_DB=url, TUTORCTL_NOW="2026-11-24T09:00:00+01:00", TUTORCTL_ACTOR=student
    )
    barrier.wait(30)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(
            [
                *reserve_args(student=student, day=day),
            ]
        )
    out.put((student, day, code))


@pytest.mark.slow  # real processes
def test_two_students_racing_for_one_slot_get_exactly_one_hold(cli: Cli) -> None:
    school(cli)
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    days = ["wed", "thu", "fri"]
    out = ctx.Queue()
    for day in days:
        barrier = ctx.Barrier(2)
        procs = [
            ctx.Process(target=_race, args=(cli.url, s, day, barrier, out)) for s in ("bob", "carl")
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(120)
    results = [out.get(timeout=10) for _ in range(2 * len(days))]
    for day in days:
        codes = sorted(code for _s, d, code in results if d == day)
        assert codes == [0, 1], (day, results)
    lessons = cli.json("schedule", "show", "alice")["lessons"]
    assert len(lessons) == len(days)

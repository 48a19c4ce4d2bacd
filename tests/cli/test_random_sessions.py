"""Hypothesis drives random sessions through the CLI; `check` must pass after every step."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cli, PgServer, fresh_database, school
from tests.helpers import purchase_args, reserve_args

STUDENTS = st.sampled_from(["bob", "carl"])
TEACHERS = st.sampled_from(["alice", "bruno"])
DAYS = st.sampled_from(["tue", "wed", "thu"])
TIMES = st.sampled_from(["10:00-11:00", "10:00-12:00", "11:00-12:00", "16:00-18:00", "17:00-18:00"])
WEEKS = st.sampled_from(["this", "next"])
LESSON = st.integers(0, 7)  # an index into the lessons booked at that moment

ACTION = st.one_of(
    st.tuples(st.just("reserve"), STUDENTS, TEACHERS, DAYS, TIMES, WEEKS),
    st.tuples(st.just("book"), STUDENTS, TEACHERS, DAYS, TIMES, WEEKS),
    st.tuples(st.just("cancel"), LESSON),
    st.tuples(st.just("move"), LESSON, DAYS, TIMES),
    st.tuples(st.just("pay"), STUDENTS, st.sampled_from(["success", "failure", "pending"])),
    st.tuples(st.just("confirm"), STUDENTS, st.booleans(), st.booleans()),
    st.tuples(st.just("abandon"), STUDENTS),
    st.tuples(st.just("drop"), STUDENTS, st.integers(1, 12)),
    st.tuples(st.just("credit"), STUDENTS, st.integers(1, 9000)),
    st.tuples(st.just("purchase"), STUDENTS, TEACHERS, st.integers(1, 3)),
)


def _latest_session(cli: Cli, student: str) -> str | None:
    sessions = cli.json("session", "list", "--student", student)["sessions"]
    return str(sessions[0]["id"]) if sessions else None


def _booked(cli: Cli, index: int) -> str | None:
    ids = sorted(
        lesson["id"]
        for teacher in ("alice", "bruno")
        for week in ("this", "next")
        for lesson in cli.json("schedule", "show", teacher, "--week", week)["lessons"]
        if lesson["status"] == "booked" and lesson["teacher"] == teacher
    )
    return str(ids[index % len(ids)]) if ids else None


def run_action(cli: Cli, action: tuple[object, ...]) -> int:
    """Run one random action; returns its exit code (3 when its target does not exist)."""
    kind, *args = action
    if kind in ("reserve", "book"):
        student, teacher, day, time, week = (str(a) for a in args)
        held = cli(
            *reserve_args(teacher=teacher, student=student, week=week, day=day, time=time),
            "--json",
        )
        if kind == "reserve" or held.code:
            return held.code
        return cli("session", "pay", str(held.json()["session_id"]), "--method", "cash").code
    if kind in ("cancel", "move"):
        lesson = _booked(cli, int(str(args[0])))
        if lesson is None:
            return 3
        if kind == "cancel":
            return cli("cancel", lesson).code
        return cli(
            "move", lesson, "--week", "next", "--day", str(args[1]), "--time", str(args[2])
        ).code
    if kind == "credit":
        student, cents = str(args[0]), int(str(args[1]))
        return cli("account", "credit", student, f"{cents // 100}.{cents % 100:02d}").code
    if kind == "purchase":
        student, teacher, hours = (str(a) for a in args)
        return cli(
            *purchase_args(hours, str(35 * int(hours)), student=student, teacher=teacher)
        ).code
    sid = _latest_session(cli, str(args[0]))
    if sid is None:
        return 3
    if kind == "pay":
        return cli("session", "pay", sid, "--method", "card", "--simulate", str(args[1])).code
    if kind == "confirm":
        flags = ["--cancels" if args[1] else "--no-cancels", "--moves" if args[2] else "--no-moves"]
        return cli("session", "confirm", sid, *flags).code
    if kind == "abandon":
        return cli("session", "abandon", sid).code
    return cli("session", "drop", sid, str(args[1])).code


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=st.lists(ACTION, min_size=1, max_size=20))
def test_random_sessions_keep_every_invariant(
    backend: str,
    pg_server: PgServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    actions: list[tuple[object, ...]],
) -> None:
    with fresh_database(backend, pg_server) as url:
        cli = Cli(url, capsys, monkeypatch)
        school(cli)
        for action in actions:
            code = run_action(cli, action)
            assert code in (0, 1, 3), (action, code)
            report = cli("check", "--json")
            assert report.code == 0, (action, report.out)

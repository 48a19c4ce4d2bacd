"""expire, the cron job: holds, stale payments, done lessons; idempotent and safe in parallel."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, reserve_args


def _expire(cli: Cli, now: str) -> dict[str, int]:
    return dict(cli.json("--now", now, "expire"))


@pytest.mark.pooled
def test_hold_expires_and_the_slot_is_reused(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    sid = str(held["session_id"])
    quiet = cli.ok("--now", "2026-11-24T09:10:00+01:00", "expire")
    assert quiet.out == "" and quiet.err == ""  # cron mails only problems
    assert reserve(cli, student="carl").code == 1  # still held
    counts = _expire(cli, "2026-11-24T09:21:00+01:00")
    assert (counts["expired_sessions"], counts["released_holds"]) == (1, 1)
    assert cli.json("session", "show", sid)["status"] == "expired"
    assert _expire(cli, "2026-11-24T09:22:00+01:00")["expired_sessions"] == 0  # idempotent
    verbose = cli.ok("--now", "2026-11-24T09:22:00+01:00", "expire", "--verbose").out
    assert verbose.startswith("expired 0 session(s)")
    assert reserve(cli, "--json", student="carl").json()["status"] == "held"  # the freed slot


def test_activity_keeps_a_session_alive(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    cli.ok(
        "--now",
        "2026-11-24T09:15:00+01:00",
        *reserve_args(day="thu"),
    )
    assert _expire(cli, "2026-11-24T09:30:00+01:00")["expired_sessions"] == 0
    assert cli.json("session", "show", str(held["session_id"]))["status"] == "open"
    assert _expire(cli, "2026-11-24T09:36:00+01:00")["released_holds"] == 2


@pytest.mark.pooled
def test_stale_payment_fails_without_charging(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    lesson = booked(cli, day="fri")
    planned = cli.json("cancel", str(lesson))
    new = reserve(cli, "--json", day="thu", time="14:00-16:00").json()
    sid = str(planned["session_id"])
    cli.json("session", "pay", sid, "--method", "card", "--simulate", "pending")
    assert _expire(cli, "2026-11-24T09:29:00+01:00")["failed_payments"] == 0
    counts = _expire(cli, "2026-11-24T09:31:00+01:00")
    assert (counts["failed_payments"], counts["released_holds"]) == (1, 1)
    shown = cli.json("session", "show", sid)
    assert shown["status"] == "payment_failed"
    assert {op["kind"]: op["status"] for op in shown["operations"]} == {
        "cancel": "pending",
        "reserve": "abandoned",
    }
    assert new["reservation_id"] not in [
        x["id"] for x in cli.json("schedule", "show", "alice")["lessons"]
    ]
    refused = cli.fails(1, "session", "pay", sid, "--method", "card")
    assert "payment_failed" in refused.err
    cli.ok("session", "confirm", sid, "--cancels")
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000


def test_a_paid_session_nobody_confirms_is_closed_after_the_hold_time(cli: Cli) -> None:
    """SPEC §5 "Sessions that nobody closes": paid, then idle over the hold time → applied."""
    school(cli)
    held = reserve(cli, "--json").json()
    sid = str(held["session_id"])
    paid_at = "2026-11-24T09:05:00+01:00"
    paid = cli.ok("--now", paid_at, "session", "pay", sid, "--method", "cash")
    assert f"session {sid}: paid" in paid.out
    assert "applied" not in paid.out  # the session is paid, not applied yet
    quiet = _expire(cli, "2026-11-24T09:24:00+01:00")  # idle 19 min: not yet
    assert quiet["closed_paid_sessions"] == 0
    assert cli.json("session", "show", sid)["status"] == "paid"
    cli.ok("check")
    counts = _expire(cli, "2026-11-24T09:26:00+01:00")  # idle 21 min
    assert counts == {
        "expired_sessions": 0,
        "failed_payments": 0,
        "closed_paid_sessions": 1,
        "closed_failed_sessions": 0,
        "abandoned_operations": 0,
        "released_holds": 0,
        "done_lessons": 0,
        "batches": 5,
    }
    shown = cli.json("session", "show", sid)
    assert shown["status"] == "applied"
    assert [op["status"] for op in shown["operations"]] == ["applied"]
    lessons = cli.json("schedule", "show", "alice")["lessons"]
    assert [x["status"] for x in lessons if x["id"] == held["reservation_id"]] == ["booked"]
    entries = cli.json("history", "--session", sid)["entries"]
    assert entries[-1]["command"] == "expire"
    assert entries[-1]["subject"] == f"applied session {sid}"
    assert cli.json("history", "--user", "bob")["entries"][-1] == entries[-1]
    count = len(cli.json("history", "--limit", "100000")["entries"])
    again = _expire(cli, "2026-11-24T10:30:00+01:00")  # idempotent: nothing more to close
    assert again["closed_paid_sessions"] == 0
    assert len(cli.json("history", "--limit", "100000")["entries"]) == count
    refused = cli.fails(1, "--now", "2026-11-24T10:31:00+01:00", "session", "confirm", sid)
    assert "is applied" in refused.err


def test_pay_says_paid_not_applied(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    sid = str(held["session_id"])
    paid = cli.json("session", "pay", sid, "--method", "card")
    assert paid["status"] == "paid" and "applied" not in paid["message"]
    assert f"tutorctl session confirm {sid}" in paid["message"]


def test_a_failed_session_nobody_confirms_expires_and_abandons_its_cancels_and_moves(
    cli: Cli,
) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "80")
    cancelled = booked(cli, day="fri")
    moved = booked(cli, day="thu")
    planned = cli.json("cancel", str(cancelled))
    sid = str(planned["session_id"])
    cli.json(
        *move_args(moved, week="this", day="thu", time="15:00-17:00")
    )  # a longer move: it needs money
    reserve(cli, day="wed", time="14:00-17:00")
    failed_at = "2026-11-24T09:10:00+01:00"
    failed = cli.json(
        "--now", failed_at, "session", "pay", sid, "--method", "card", "--simulate", "failure"
    )
    assert failed["status"] == "payment_failed"
    balance = cli.json("account", "show", "bob")["balance_cents"]
    assert _expire(cli, "2026-11-24T09:29:00+01:00")["closed_failed_sessions"] == 0
    assert cli.json("session", "show", sid)["status"] == "payment_failed"
    cli.ok("check")
    counts = _expire(cli, "2026-11-24T09:31:00+01:00")
    assert (counts["closed_failed_sessions"], counts["abandoned_operations"]) == (1, 2)
    assert (counts["expired_sessions"], counts["closed_paid_sessions"]) == (0, 0)
    shown = cli.json("session", "show", sid)
    assert shown["status"] == "expired"
    ops = {op["kind"]: op for op in shown["operations"]}
    assert {kind: op["status"] for kind, op in ops.items()} == {
        "cancel": "abandoned",
        "move": "abandoned",
        "reserve": "abandoned",
    }
    for kind in ("cancel", "move"):
        assert "payment failed" in ops[kind]["note"] and "expired" in ops[kind]["note"]
    lessons = {x["id"]: x["status"] for x in cli.json("schedule", "show", "alice")["lessons"]}
    assert lessons[cancelled] == lessons[moved] == "booked"  # nothing cancelled or moved
    assert cli.json("account", "show", "bob")["balance_cents"] == balance  # nothing refunded
    entries = cli.json("history", "--session", sid)["entries"]
    assert (entries[-1]["command"], entries[-1]["subject"]) == ("expire", f"expired session {sid}")
    assert cli.json("history", "--user", "bob")["entries"][-1] == entries[-1]
    assert _expire(cli, "2026-11-24T12:00:00+01:00")["closed_failed_sessions"] == 0
    refused = cli.fails(1, "session", "confirm", sid, "--cancels")
    assert "is expired" in refused.err
    cli.fails(1, "session", "abandon", sid)
    assert cli.json("cancel", str(cancelled))["session_id"] != int(sid)  # the lesson is free


def test_staff_confirm_before_the_hold_time_wins(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    lesson = booked(cli, day="fri")
    planned = cli.json("cancel", str(lesson))
    sid = str(planned["session_id"])
    reserve(cli, day="wed", time="14:00-16:00")
    cli.json("session", "pay", sid, "--method", "card", "--simulate", "failure")
    cli.ok("--now", "2026-11-24T09:15:00+01:00", "session", "confirm", sid, "--cancels")
    assert _expire(cli, "2026-11-24T11:00:00+01:00")["closed_failed_sessions"] == 0
    shown = cli.json("session", "show", sid)
    assert shown["status"] == "applied"
    assert {op["kind"]: op["status"] for op in shown["operations"]}["cancel"] == "applied"
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000


def test_past_lessons_become_done(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "80")
    first = booked(cli, day="wed")
    booked(cli, day="thu")
    assert _expire(cli, "2026-11-25T10:59:00+01:00")["done_lessons"] == 0
    assert _expire(cli, "2026-11-25T11:00:00+01:00")["done_lessons"] == 1
    lessons = {x["id"]: x["status"] for x in cli.json("schedule", "show", "alice")["lessons"]}
    assert lessons[first] == "done"
    assert "(done)" in cli.ok("schedule", "show", "alice").out
    assert _expire(cli, "2026-11-27T00:00:00+01:00")["done_lessons"] == 1


def test_small_batches_cover_everything(cli: Cli) -> None:
    school(cli)
    for day in ("tue", "wed", "thu", "fri"):
        for student in ("bob", "carl"):
            reserve(
                cli,
                student=student,
                day=day,
                time="16:00-17:00" if student == "bob" else "17:00-18:00",
            )
    counts = cli.json("--now", "2026-11-24T10:00:00+01:00", "expire", "--batch", "1")
    assert counts["expired_sessions"] == 2 and counts["released_holds"] == 8
    assert counts["batches"] >= 4


# -- real processes ---------------------------------------------------------------------------


def _run_expire(url: str, barrier: Any, out: Any) -> None:
    import contextlib
    import io
    import json
    import os

    from tutorctl.cli.app import main

    os.environ.update(
        TUTORCTL_DB=url, TUTORCTL_NOW="2026-11-24T12:00:00+01:00", TUTORCTL_ACTOR="cron"
    )
    barrier.wait(30)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(io.StringIO()):
        code = main(["expire", "--json", "--batch", "3"])
    out.put((code, json.loads(buffer.getvalue()) if code == 0 else {}))


def _expire_twice_at_once(cli: Cli) -> list[tuple[int, dict[str, Any]]]:
    """Two ``expire`` processes released together by a barrier: (exit code, JSON) of each."""
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_run_expire, args=(cli.url, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    return [out.get(timeout=10) for _ in procs]


@pytest.mark.pooled
def test_two_expire_runs_at_once_never_double_process(cli: Cli) -> None:
    school(cli)
    students = [f"s{i}" for i in range(12)]
    for i, student in enumerate(students):
        cli.ok("user", "add", student, "--name", student, "--role", "student")
        teacher = "alice" if i % 2 else "bruno"
        hour = 9 + i // 2
        reserve(
            cli,
            student=student,
            teacher=teacher,
            day="wed",
            time=f"{hour:02d}:00-{hour + 1:02d}:00",
        )
    results = _expire_twice_at_once(cli)
    assert [code for code, _ in results] == [0, 0]
    assert sum(r["expired_sessions"] for _, r in results) == len(students)
    assert sum(r["released_holds"] for _, r in results) == len(students)
    statuses = {s["status"] for s in cli.json("session", "list")["sessions"]}
    assert statuses == {"expired"}


def test_two_expire_runs_at_once_close_each_left_session_once(cli: Cli) -> None:
    school(cli)
    students = [f"s{i}" for i in range(8)]
    paid, failed = [], []
    for i, student in enumerate(students):
        cli.ok("user", "add", student, "--name", student, "--role", "student")
        teacher = "alice" if i % 2 else "bruno"
        hour = 9 + i // 2
        held = reserve(
            cli,
            "--json",
            student=student,
            teacher=teacher,
            day="wed",
            time=f"{hour:02d}:00-{hour + 1:02d}:00",
        ).json()
        sid = str(held["session_id"])
        outcome = "success" if i % 2 else "failure"
        cli.ok("session", "pay", sid, "--method", "card", "--simulate", outcome)
        (paid if i % 2 else failed).append(sid)
    before = len(cli.json("history", "--limit", "100000")["entries"])
    results = _expire_twice_at_once(cli)
    assert [code for code, _ in results] == [0, 0]
    assert sum(r["closed_paid_sessions"] for _, r in results) == len(paid)
    assert sum(r["closed_failed_sessions"] for _, r in results) == len(failed)
    statuses = {s["id"]: s["status"] for s in cli.json("session", "list")["sessions"]}
    assert {statuses[int(sid)] for sid in paid} == {"applied"}
    assert {statuses[int(sid)] for sid in failed} == {"expired"}
    after = cli.json("history", "--limit", "100000")["entries"]
    assert len(after) == before + len(students)  # one entry per session, none twice

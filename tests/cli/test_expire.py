"""expire, the cron job: holds, stale payments, done lessons; idempotent and safe in parallel."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school


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
        "reserve",
        "--teacher",
        "alice",
        "--student",
        "bob",
        "--category",
        "maths",
        "--week",
        "this",
        "--day",
        "thu",
        "--time",
        "10:00-11:00",
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


def test_a_paid_session_is_never_expired(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    cli.ok("session", "pay", str(held["session_id"]), "--method", "cash")
    assert _expire(cli, "2026-11-24T18:00:00+01:00") == {
        "expired_sessions": 0,
        "failed_payments": 0,
        "released_holds": 0,
        "done_lessons": 0,
        "batches": 3,
    }
    assert cli.json("session", "show", str(held["session_id"]))["status"] == "paid"


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
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_run_expire, args=(cli.url, barrier, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    results = [out.get(timeout=10) for _ in procs]
    assert [code for code, _ in results] == [0, 0]
    assert sum(r["expired_sessions"] for _, r in results) == len(students)
    assert sum(r["released_holds"] for _, r in results) == len(students)
    statuses = {s["status"] for s in cli.json("session", "list")["sessions"]}
    assert statuses == {"expired"}

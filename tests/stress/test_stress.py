"""Many real processes on the same hot weeks: no double booking, no lost money, no deadlock.

The desk's commands, expire and imports (lessons funded by one package, credits) run on the
same students, weeks and package. Scale with TUTORCTL_STRESS_PROCESSES and
TUTORCTL_STRESS_OPS (defaults 16 × 200). A busy database (another connection holding the
locks) makes every kind of command exit 5 in a few seconds, never hang.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import Cli
from tests.helpers import purchase_args, reserve_args, schedule_set_args
from tests.stress import workers

PROCESSES = int(os.environ.get("TUTORCTL_STRESS_PROCESSES", "16"))
# through PgBouncer (2 server connections): fewer processes, the same mix of work
POOLED_PROCESSES = int(os.environ.get("TUTORCTL_STRESS_POOLED_PROCESSES", "4"))
OPS = int(os.environ.get("TUTORCTL_STRESS_OPS", "200"))
STUDENTS = [f"s{i}" for i in range(10)]


def _hot_school(cli: Cli) -> None:
    for teacher in workers.TEACHERS:
        cli.ok("user", "add", teacher, "--name", teacher.title(), "--role", "teacher")
        cli.ok(
            *schedule_set_args(teacher, "next..+2", "wed-thu", "10:00-13:00"),
            "--open",
        )
    for student in STUDENTS:
        cli.ok("user", "add", student, "--name", student, "--role", "student")
    cli.ok("category", "add", "maths", "--price", "40")
    cli.ok(
        *purchase_args("12", "400", student="s0"),
    )


@pytest.mark.slow
@pytest.mark.pooled
def test_stress_many_processes_on_a_hot_week(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.pgbouncer import bouncer_of

    processes = POOLED_PROCESSES if bouncer_of(cli.url) else PROCESSES
    _hot_school(cli)
    monkeypatch.setenv("TUTORCTL_STRESS_FILES", str(tmp_path))  # the workers' import files
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    started = time.monotonic()
    procs = [
        ctx.Process(target=workers.stress_worker, args=(cli.url, i, OPS, STUDENTS, out))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    results = _collect(out, procs)
    elapsed = time.monotonic() - started
    codes: Counter[str] = Counter()
    for r in results:
        codes.update(r["codes"])
    unexpected = [u for r in results for u in r["unexpected"]]
    retries = sum(r["retries"] for r in results)
    with cli.capsys.disabled():
        print(
            f"\nstress on {cli.url.split(':')[0]}: {processes} processes × {OPS} ops in {elapsed:.1f} s, "
            f"{retries} retries inside the unit of work; exit codes: {dict(sorted(codes.items()))}"
        )
    assert unexpected == []
    assert sum(codes.values()) == processes * OPS
    assert [p.exitcode for p in procs] == [0] * processes
    assert codes["reserve:0"] > 0 and codes["pay:0"] + codes["confirm:0"] > 0  # it really booked
    assert codes["import-credit:0"] > 0 and sum(codes[f"import:{c}"] for c in (0, 2)) > 0
    report = cli.json("check")  # the fixture checks again; here we want the figures too
    assert report["ok"], report["violations"]


def _unlocked_round(cli: Cli) -> list[tuple[int, str]]:
    """Every student reserves the same place at once, row locks off in the workers."""
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(len(STUDENTS))
    procs = [
        ctx.Process(target=workers.unlocked_reserve, args=(cli.url, s, barrier, out))
        for s in STUDENTS
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
    return results


def _abandon_all(cli: Cli) -> None:
    for student in STUDENTS:
        sid = workers_session(cli, student)
        if sid:
            cli("session", "abandon", sid)


def test_negative_control_without_locks_double_books(cli: Cli) -> None:
    """With the row locks and the backstop switched off, the race is lost: check sees it."""
    if not cli.url.startswith("postgresql"):
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises writers even without row locks")
    _hot_school(cli)
    from tutorctl.db.engine import get_engine

    with get_engine(cli.url).begin() as conn:  # test-only: no database backstop either
        conn.execute(text("ALTER TABLE lesson_occupancy DROP CONSTRAINT no_double_booking"))
    found = False
    for _attempt in range(5):
        codes = [code for code, _err in _unlocked_round(cli)]
        report = cli("check", "--json").json()
        if codes.count(0) > 1 and any(v.startswith("overlap") for v in report["violations"]):
            found = True
            break
        _abandon_all(cli)
    assert found, "without locks, concurrent reserves should have double-booked at least once"
    _abandon_all(cli)  # leave the database consistent for the closing check


def test_backstop_alone_holds_the_race(cli: Cli) -> None:
    """Row locks off but the PostgreSQL backstop on: one student gets the place, never two."""
    if not cli.url.startswith("postgresql"):
        pytest.skip("the exclusion backstop is PostgreSQL's")
    _hot_school(cli)
    refused_by_database = 0
    for _attempt in range(5):
        results = _unlocked_round(cli)
        codes = [code for code, _err in results]
        assert codes.count(0) == 1, codes
        assert set(codes) <= {0, 1}, results  # the losers get a rule error, never a traceback
        refused_by_database += sum("refused by the database" in err for _c, err in results)
        report = cli("check", "--json").json()
        assert report["ok"], report["violations"]
        _abandon_all(cli)
    # the rules refuse a loser that started after the winner committed; the backstop refuses
    # those that raced past the check. Both happen; this run saw the backstop do its part:
    assert refused_by_database > 0


def _collect(out: object, procs: list[mp.process.BaseProcess]) -> list[dict[str, object]]:
    """Every worker's report; never waits on a worker that has died."""
    import queue

    results: list[dict[str, object]] = []
    deadline = time.monotonic() + 1800
    while len(results) < len(procs) and time.monotonic() < deadline:
        try:
            results.append(out.get(timeout=1))  # type: ignore[attr-defined]
        except queue.Empty:
            if all(not p.is_alive() for p in procs) and out.empty():  # type: ignore[attr-defined]
                break
    for p in procs:
        p.join(60)
    assert len(results) == len(procs), (
        f"{len(procs) - len(results)} worker(s) died without a report"
    )
    return results


def workers_session(cli: Cli, student: str) -> str | None:
    sessions = cli.json("session", "list", "--student", student, "--status", "open")["sessions"]
    return str(sessions[0]["id"]) if sessions else None


BUSY_COMMANDS = {
    "reserve": reserve_args(teacher="bruno", student="s4", week="next"),
    "pay": ("session", "pay", "2", "--method", "card"),
    "confirm": ("session", "confirm", "2"),
    "cancel": ("cancel", "3"),
    "credit": ("account", "credit", "s0", "10.00"),
    "expire": ("--now", workers.LATER, "expire"),
    "import lessons": ("import", "reservations", "lessons.csv"),
    "import credits": ("import", "credits", "credits.csv"),
}  # fmt: skip


@pytest.mark.slow
def test_busy_database_every_command_exits_5_never_hangs(cli: Cli, tmp_path: Path) -> None:
    """Another connection holds the locks; real processes run the desk's commands, expire and
    imports with --lock-timeout 0.3: each says the database is busy and exits 5, nothing is
    written, and none hangs (a process still running after a minute fails the test)."""
    from tests.db.test_lock_timeout import _snapshot, holding_the_lock

    _hot_school(cli)
    cli.ok(*workers_reserve("s1", "alice", "10:00-11:00"))  # session 1: expire will take it
    cli.ok(*workers_reserve("s2", "alice", "11:00-12:00"))  # session 2: to pay or confirm
    booked = cli.json(*workers_reserve("s3", "bruno", "12:00-13:00"))
    cli.ok("session", "pay", str(booked["session_id"]), "--method", "card")
    cli.ok("session", "confirm", str(booked["session_id"]))  # lesson 3: to cancel
    (tmp_path / "lessons.csv").write_text(
        "teacher,student,category,date,start,end,status,purchase\n"
        "alice,s0,maths,2026-12-03,10:00,11:00,booked,1\n"
    )
    (tmp_path / "credits.csv").write_text("student,amount\ns0,5.00\ns5,7.00\n")
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    before = _snapshot(cli.url)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    with holding_the_lock(cli.url):
        procs = [
            ctx.Process(
                target=workers.busy_worker,
                args=(cli.url, name, ("--lock-timeout", "0.3", *args), str(tmp_path), out),
            )
            for name, args in BUSY_COMMANDS.items()
        ]
        for p in procs:
            p.start()
        deadline = time.monotonic() + 60
        for p in procs:
            p.join(max(0.1, deadline - time.monotonic()))
        hung = [p.pid for p in procs if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
    assert hung == [], f"{len(hung)} command(s) still waiting after a minute"
    results = {name: (code, err, took) for name, code, err, took in (out.get() for _ in procs)}
    with cli.capsys.disabled():
        print(
            "\nbusy database, --lock-timeout 0.3, exit 5 after (s): "
            + ", ".join(f"{n} {r[2]:.2f}" for n, r in sorted(results.items()))
        )
    for name, (code, err, _took) in results.items():
        assert code == 5, (name, code, err)
        assert err.startswith("error: ") and err.count("\n") == 1 and "busy" in err, (name, err)
    assert _snapshot(cli.url) == before


def workers_reserve(student: str, teacher: str, time_range: str) -> tuple[str, ...]:
    return reserve_args(teacher=teacher, student=student, week="next", time=time_range)

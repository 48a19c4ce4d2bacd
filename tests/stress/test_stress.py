"""Many real processes on the same hot weeks: no double booking, no lost money, no deadlock.

Scale with TUTORCTL_STRESS_PROCESSES and TUTORCTL_STRESS_OPS (defaults 16 × 200).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import Counter

import pytest
from sqlalchemy import text

from tests.conftest import Cli
from tests.stress import workers

PROCESSES = int(os.environ.get("TUTORCTL_STRESS_PROCESSES", "16"))
OPS = int(os.environ.get("TUTORCTL_STRESS_OPS", "200"))
STUDENTS = [f"s{i}" for i in range(10)]


def _hot_school(cli: Cli) -> None:
    for teacher in workers.TEACHERS:
        cli.ok("user", "add", teacher, "--name", teacher.title(), "--role", "teacher")
        cli.ok(
            "schedule",
            "set",
            teacher,
            "--week",
            "next..+2",
            "--days",
            "wed-thu",
            "--hours",
            "10:00-13:00",
            "--open",
        )
    for student in STUDENTS:
        cli.ok("user", "add", student, "--name", student, "--role", "student")
    cli.ok("category", "add", "maths", "--price", "40")
    cli.ok(
        "purchase",
        "add",
        "--student",
        "s0",
        "--teacher",
        "alice",
        "--category",
        "maths",
        "--hours",
        "3",
        "--price",
        "100",
    )


@pytest.mark.slow
def test_stress_many_processes_on_a_hot_week(cli: Cli) -> None:
    _hot_school(cli)
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    started = time.monotonic()
    procs = [
        ctx.Process(target=workers.stress_worker, args=(cli.url, i, OPS, STUDENTS, out))
        for i in range(PROCESSES)
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
            f"\nstress on {cli.url.split(':')[0]}: {PROCESSES} processes × {OPS} ops in {elapsed:.1f} s, "
            f"{retries} retries inside the unit of work; exit codes: {dict(sorted(codes.items()))}"
        )
    assert unexpected == []
    assert sum(codes.values()) == PROCESSES * OPS
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    assert codes["reserve:0"] > 0 and codes["pay:0"] + codes["confirm:0"] > 0  # it really booked
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

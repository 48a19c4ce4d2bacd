"""Imports and the desk on one package at once (issue 15, case 8): no hour given away.

Real processes on PostgreSQL: importers each load files of one of bob's lessons funded by
package 1, while the desk books bob another week (paid from that same package: no week lock in
common) and cancels some (its hours go back). An import that changed the package without bob's account lock raced the desk's
read-modify-write of ``consumed_minutes``: one side's update was lost. Afterwards ``check``
must pass and consumed must equal the hours of the live lessons the package funds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import Cli
from tests.helpers import purchase_args, schedule_set_args
from tests.stress import workers
from tests.stress.test_stress import _collect

IMPORTERS = 3
ROUNDS = int(os.environ.get("TUTORCTL_RACE_ROUNDS", "40"))


def _school(cli: Cli) -> None:
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    cli.ok("user", "add", "bob", "--name", "Bob", "--role", "student")
    cli.ok("category", "add", "maths", "--price", "40")
    cli.ok(*schedule_set_args("alice", "+1..+2", "mon-sun", "00:00-24:00"), "--open")
    cli.ok(*purchase_args("300", "9000"))


@pytest.mark.slow
def test_imports_and_the_desk_never_lose_a_package_hour(cli: Cli, tmp_path: Path) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises every writer: no race to lose")
    _school(cli)
    from tutorctl.db.engine import dispose_engines, get_engine

    dispose_engines()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(
            target=workers.race_importer,
            args=(cli.url, w, IMPORTERS, ROUNDS, str(tmp_path), out),
        )
        for w in range(IMPORTERS)
    ]
    procs.append(ctx.Process(target=workers.race_desk, args=(cli.url, ROUNDS, out)))
    started = time.monotonic()
    for p in procs:
        p.start()
    results = _collect(out, procs)
    elapsed = time.monotonic() - started
    with get_engine(cli.url).connect() as conn:
        consumed = conn.execute(
            text("SELECT consumed_minutes FROM purchases WHERE id = 1")
        ).scalar_one()
        funded = conn.execute(
            text(
                "SELECT coalesce(sum(f.minutes), 0) FROM fundings f JOIN reservations r"
                " ON r.id = f.reservation_id WHERE f.purchase_id = 1"
                " AND r.status IN ('booked', 'done')"
            )
        ).scalar_one()
        lessons = conn.execute(
            text("SELECT count(*) FROM reservations WHERE status = 'booked'")
        ).scalar_one()
    with cli.capsys.disabled():
        print(
            f"\nimports × desk on one package: {len(procs)} processes in {elapsed:.1f} s, "
            f"{lessons} lessons booked, package consumed {consumed} min, funds {funded} min"
        )
    assert [u for r in results for u in r["unexpected"]] == []  # type: ignore[attr-defined]
    assert consumed == funded, "a package update was lost"
    assert lessons == funded // 60
    report = cli.json("check")
    assert report["ok"], report["violations"]

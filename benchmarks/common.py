"""Shared helpers for the benchmarks: temp databases, timing, subprocess peak memory."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PG_ADMIN = os.environ.get("TUTORCTL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def parse(parser: argparse.ArgumentParser, **tiny: Any) -> argparse.Namespace:
    """The arguments, with ``--tiny``: these options set to tiny sizes and one round. CI runs
    every benchmark so (a few seconds each) so that none can rot; its figures mean nothing and
    nothing is asserted about them."""
    parser.add_argument(
        "--tiny", action="store_true", help="tiny sizes, one round: does it still run? (CI)"
    )
    args = parser.parse_args()
    if args.tiny:
        for name, value in tiny.items():
            setattr(args, name, value)
    return args


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_of(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def tutorctl(url: str, *args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TUTORCTL_DB": url, "TUTORCTL_ACTOR": "bench"}
    if now:
        env["TUTORCTL_NOW"] = now
    return subprocess.run(
        [sys.executable, "-m", "tutorctl", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )


def peak_rss_mb(
    url: str, *args: str, now: str | None = None, codes: tuple[int, ...] = (0,)
) -> tuple[float, float]:
    """Run tutorctl in a child; return (seconds, peak resident memory of the child in MB).

    The peak is the child's own ``VmHWM`` (Linux): ``ru_maxrss`` would also count the parent's
    resident memory at the fork that started the child (the kernel carries it across exec),
    and a benchmark parent that just loaded 100k rows is big.
    """
    code = (
        "import resource, sys, time\n"
        "from tutorctl.cli.app import main\n"
        "def peak():\n"
        "    try:\n"
        "        with open('/proc/self/status') as f:\n"
        "            return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:')) / 1024\n"
        "    except OSError:  # not Linux\n"
        "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "t = time.perf_counter()\n"
        "rc = main(sys.argv[1:])\n"
        "print(time.perf_counter() - t, peak(), file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    env = {**os.environ, "TUTORCTL_DB": url, "TUTORCTL_ACTOR": "bench"}
    if now:
        env["TUTORCTL_NOW"] = now
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode not in codes:
        raise RuntimeError(proc.stderr[-2000:])
    seconds, rss = proc.stderr.strip().splitlines()[-1].split()
    return float(seconds), float(rss)


@contextmanager
def database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, initialised database: SQLite file in ``folder`` or a throwaway PostgreSQL db."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        tutorctl(url, "db", "init")
        yield url
        return
    import psycopg

    name = f"tutorctl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        tutorctl(url, "db", "init")
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n{title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")


DONE_LESSON = (
    "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
    " starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
    " VALUES (:t, :s, 1, :w, :d, :a, :b, :sa, :ea, 'done', 4000, true, false, :sa)"
)


def insert_done_lessons(conn: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Past, done, unfunded lessons (``t s w d a b sa ea``), 5,000 a statement."""
    from sqlalchemy import text

    insert, batch = text(DONE_LESSON), []
    for row in rows:
        batch.append(row)
        if len(batch) == 5000:
            conn.execute(insert, batch)
            batch = []
    if batch:
        conn.execute(insert, batch)

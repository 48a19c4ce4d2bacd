"""Read scaling: `schedule show` of one week with 10k, 100k, then 1M lessons in the database.

    python benchmarks/bench_read.py [--mid 100000] [--big 1000000] [--backend sqlite|postgresql]

The week read is the service call behind `schedule show` (in-process, median of 200 reads),
so the ratio measures the queries, not interpreter start-up; it is timed for a teacher's week
(t7: 40 lessons) and a student's week (s0: 4 lessons), the same week at every size. Targets:
≤ 1.3× of 10k at 1M; ≤ 1.5× of 100k at 1M (issue 19, per-week and per-person reads). The
peak RSS of the command itself (`tutorctl schedule show … --json`, one process) is printed at
each size. ``--mid 0`` skips the middle size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this tree's tutorctl
from common import database, insert_done_lessons, parse, peak_rss_mb, report

TEACHERS = 200
STUDENTS = 2000
FIRST_MONDAY = date(2010, 1, 4)


def add_lessons(url: str, start: int, count: int) -> None:
    """Lessons i = start … start+count-1: teacher i % T teaches 8 slots a day, 5 days a week."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:

        def rows() -> Iterator[dict[str, Any]]:
            for i in range(start, start + count):
                teacher = i % TEACHERS
                k = i // TEACHERS  # the k-th lesson of this teacher
                week = FIRST_MONDAY + timedelta(weeks=k // 40)
                day, hour = (k % 40) // 8, 9 + k % 8
                when = datetime.combine(
                    week + timedelta(days=day), datetime.min.time()
                ) + timedelta(hours=hour)
                yield (
                    {
                        "t": teacher + 1,
                        "s": TEACHERS + 1 + (i * 7) % STUDENTS,
                        "w": week,
                        "d": day,
                        "a": hour,
                        "b": hour + 1,
                        "sa": when,
                        "ea": when + timedelta(hours=1),
                    }
                )

        insert_done_lessons(conn, rows())
    engine.dispose()


def setup(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    now = datetime(2026, 1, 1)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO categories (name, price_cents, active) VALUES ('maths', 4000, true)")
        )
        conn.execute(
            text(
                "INSERT INTO users (handle, name, role, active, created_at) VALUES (:h, :h, :r, true, :c)"
            ),
            [{"h": f"t{i}", "r": "teacher", "c": now} for i in range(TEACHERS)]
            + [{"h": f"s{i}", "r": "student", "c": now} for i in range(STUDENTS)],
        )
    engine.dispose()


NOW = "2026-11-24T09:00:00+01:00"
FULL_WEEK = 8_000  # lessons 0 … 7999 fill the first week of every teacher
WHO = {"teacher t7": ("t7", 40), "student s0": ("s0", 4)}  # handle, lessons in that week


def read_week(url: str, runs: int, handle: str, expected: int) -> float:
    from tutorctl.core.clock import Clock, parse_now
    from tutorctl.db.uow import Database
    from tutorctl.services.schedule import show_schedule

    db = Database(url, Clock(parse_now(NOW)))
    week = FIRST_MONDAY  # the same full week at every size
    for _ in range(10):
        db.read(lambda tx: show_schedule(tx, handle, week))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        view = db.read(lambda tx: show_schedule(tx, handle, week))
        times.append(time.perf_counter() - start)
    if FULL_WEEK <= have_lessons(url):
        assert len(view.lessons) == expected, (handle, len(view.lessons))
    return statistics.median(times)


def have_lessons(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM reservations")).scalar_one())
    engine.dispose()
    return n


def measure(url: str, runs: int) -> dict[str, tuple[float, float]]:
    """Per person: (median in-process read in s, peak RSS in MB of the command as a process)."""
    out = {}
    for label, (handle, expected) in WHO.items():
        seconds = read_week(url, runs, handle, expected)
        _, rss = peak_rss_mb(url, "schedule", "show", handle, "--week", FIRST_MONDAY.isoformat(),
                             "--json", now=NOW)  # fmt: skip
        out[label] = (seconds, rss)
    return out


def analyze(url: str, backend: str) -> None:
    if backend == "postgresql":
        from sqlalchemy import create_engine, text

        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--mid", type=int, default=100_000, help="0: skip the middle size")
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    args = parse(parser, small=80, mid=0, big=160, runs=2)
    sizes = [n for n in (args.small, args.mid, args.big) if n]
    results: dict[int, dict[str, tuple[float, float]]] = {}
    fills: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        setup(url)
        have = 0
        for size in sizes:
            started = time.perf_counter()
            add_lessons(url, have, size - have)
            analyze(url, args.backend)
            fills[size] = time.perf_counter() - started
            have = size
            results[size] = measure(url, args.runs)
    small = results[args.small]
    rows = []
    for label in WHO:
        for size in sizes:
            seconds, rss = results[size][label]
            line = f"{seconds * 1000:.2f} ms  peak RSS {rss:.0f} MB"
            if size != args.small:
                line += f"  ({seconds / small[label][0]:.2f}× of {args.small:,}"
                if size == args.big:
                    line += "; target ≤ 1.3×"
                    if args.mid:
                        mid = results[args.mid][label][0]
                        line += f"; {seconds / mid:.2f}× of {args.mid:,}, target ≤ 1.5×"
                line += ")"
            rows.append((f"{label}, {size:,} lessons", line))
    for size in sizes:
        rows.append((f"(filling up to {size:,} took)", f"{fills[size]:.0f} s"))
    report(
        f"read scaling: one week of one person on {args.backend} (median of {args.runs} reads;"
        " peak RSS of `schedule show --json` as a process)",
        rows,
    )


if __name__ == "__main__":
    main()

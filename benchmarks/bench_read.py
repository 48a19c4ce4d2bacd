"""Read scaling: `schedule show` of one week with 10k, then 1M lessons in the database.

    python benchmarks/bench_read.py [--big 1000000] [--backend sqlite|postgresql]

The week read is the service call behind `schedule show` (in-process, median of 200 reads),
so the ratio measures the queries, not interpreter start-up. Target: ≤ 1.3×.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database, report

TEACHERS = 200
STUDENTS = 2000
FIRST_MONDAY = date(2010, 1, 4)


def add_lessons(url: str, start: int, count: int) -> None:
    """Lessons i = start … start+count-1: teacher i % T teaches 8 slots a day, 5 days a week."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    insert = text(
        "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
        " starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
        " VALUES (:t, :s, 1, :w, :d, :a, :b, :sa, :ea, 'done', 4000, true, false, :sa)"
    )
    with engine.begin() as conn:
        batch = []
        for i in range(start, start + count):
            teacher = i % TEACHERS
            k = i // TEACHERS  # the k-th lesson of this teacher
            week = FIRST_MONDAY + timedelta(weeks=k // 40)
            day, hour = (k % 40) // 8, 9 + k % 8
            when = datetime.combine(week + timedelta(days=day), datetime.min.time()) + timedelta(
                hours=hour
            )
            batch.append(
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
            if len(batch) == 5000:
                conn.execute(insert, batch)
                batch = []
        if batch:
            conn.execute(insert, batch)
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


def read_week(url: str, runs: int) -> float:
    from tutorctl.core.clock import Clock, parse_now
    from tutorctl.db.uow import Database
    from tutorctl.services.schedule import show_schedule

    db = Database(url, Clock(parse_now("2026-11-24T09:00:00+01:00")))
    week = FIRST_MONDAY  # full (40 lessons of t7) at 10k and at 1M alike
    for _ in range(10):
        db.read(lambda tx: show_schedule(tx, "t7", week))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        view = db.read(lambda tx: show_schedule(tx, "t7", week))
        times.append(time.perf_counter() - start)
    assert len(view.lessons) == 40, len(view.lessons)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        setup(url)
        add_lessons(url, 0, args.small)
        small = read_week(url, args.runs)
        started = time.perf_counter()
        add_lessons(url, args.small, args.big - args.small)
        if args.backend == "postgresql":
            from sqlalchemy import create_engine, text

            engine = create_engine(url, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
            engine.dispose()
        filled = time.perf_counter() - started
        big = read_week(url, args.runs)
    report(
        f"read scaling: one week of one teacher on {args.backend} (median of {args.runs})",
        [
            (f"{args.small:,} lessons", f"{small * 1000:.2f} ms"),
            (f"{args.big:,} lessons", f"{big * 1000:.2f} ms  ({big / small:.2f}×; target ≤ 1.3×)"),
            ("(filling the big table took)", f"{filled:.0f} s"),
        ],
    )


if __name__ == "__main__":
    main()

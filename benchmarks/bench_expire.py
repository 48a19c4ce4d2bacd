"""expire: N stale holds (in N/10 abandoned sessions) released by `tutorctl expire`.

    python benchmarks/bench_expire.py [--holds 100000] [--history 0] [--backend sqlite|postgresql]

Setup writes the rows with raw SQL (fast, not what is measured). The floor is the same three
set-based UPDATEs run raw in one transaction, without batching, locks or history, on a copy of
the same data in the same run. Target: ≤ 5 s for 100k holds.

``--history N`` first adds N done lessons (raw SQL, in the weeks before the holds, spread over
the same teachers and students), so `expire` runs in a database with a past: compare e.g.
``--holds 10000 --history 100000`` with ``--history 1000000`` (issue 19: memory flat).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this tree's tutorctl
from common import database, insert_done_lessons, parse, peak_rss_mb, report, tutorctl

NOW = "2026-11-24T09:00:00+01:00"
LATER = "2026-11-24T12:00:00+01:00"
TEACHERS = 1000


def populate(url: str, holds: int) -> None:
    from sqlalchemy import create_engine, text

    students = holds // 10
    created = datetime(2026, 11, 24, 7, 0)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO categories (name, price_cents, active) VALUES ('maths', 4000, true)")
        )
        conn.execute(
            text(
                "INSERT INTO users (id, handle, name, role, active, created_at) VALUES (:i, :h, :h, :r, true, :c)"
            ),
            [{"i": i + 1, "h": f"t{i}", "r": "teacher", "c": created} for i in range(TEACHERS)]
            + [
                {"i": TEACHERS + s + 1, "h": f"s{s}", "r": "student", "c": created}
                for s in range(students)
            ],
        )
        conn.execute(
            text(
                "INSERT INTO booking_sessions (id, student_id, status, created_at, touched_at) VALUES (:i, :s, 'open', :c, :c)"
            ),
            [{"i": s + 1, "s": TEACHERS + s + 1, "c": created} for s in range(students)],
        )
        conn.execute(
            text(
                "INSERT INTO history (at, actor, command, subject, user_ids, session_id, details)"
                " VALUES (:c, 'bench', 'reserve', 'setup', ',', :i, '{}')"
            ),
            [{"i": s + 1, "c": created} for s in range(students)],
        )
        rows, ops = [], []
        for i in range(holds):
            s = i // 10  # student / session
            k = i % 10  # the student's k-th hold
            # no two holds of a person overlap (PostgreSQL's backstop would refuse them):
            # teacher s // 10 has students 10t … 10t+9; their holds take its slots 0 … 99
            teacher = (s // 10) % TEACHERS + 1
            j = k + 10 * (s % 10)
            day = date(2026, 11, 30) + timedelta(days=j // 20)
            hour = 2 + j % 20
            starts = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour - 1)
            rows.append(
                {
                    "i": i + 1,
                    "t": teacher,
                    "s": TEACHERS + s + 1,
                    "w": date(2026, 11, 30),
                    "d": (day - date(2026, 11, 30)).days,
                    "a": hour,
                    "b": hour + 1,
                    "sa": starts,
                    "ea": starts + timedelta(hours=1),
                    "se": s + 1,
                    "c": created,
                }
            )
            ops.append({"i": i + 1, "se": s + 1, "n": i + 1, "c": created})
        conn.execute(
            text(
                "INSERT INTO reservations (id, teacher_id, student_id, category_id, week, day, start_slot, end_slot, starts_at, ends_at,"
                " status, price_cents, session_id, unfunded, late_cancel, created_at)"
                " VALUES (:i, :t, :s, 1, :w, :d, :a, :b, :sa, :ea, 'held', 4000, :se, false, false, :c)"
            ),
            rows,
        )
        conn.execute(
            text(
                "INSERT INTO operations (id, session_id, kind, status, new_id, created_at) VALUES (:i, :se, 'reserve', 'pending', :n, :c)"
            ),
            ops,
        )
        if engine.dialect.name == "postgresql":
            for statement in (
                "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
                "SELECT setval(pg_get_serial_sequence('booking_sessions', 'id'), (SELECT max(id) FROM booking_sessions))",
                "SELECT setval(pg_get_serial_sequence('reservations', 'id'), (SELECT max(id) FROM reservations))",
                "SELECT setval(pg_get_serial_sequence('operations', 'id'), (SELECT max(id) FROM operations))",
            ):
                conn.execute(text(statement))
    if engine.dialect.name == "postgresql":  # statistics, as autovacuum takes after a bulk load
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def add_history(url: str, lessons: int, holds: int) -> float:
    """``lessons`` done lessons in the weeks before the holds' week (teacher i % 1000 teaches
    40 a week, Mon-Fri 09-17), students taken in turn; ids after the holds'. Returns seconds."""
    from sqlalchemy import create_engine, text

    started = time.perf_counter()
    students = max(holds // 10, 1)
    engine = create_engine(url)
    with engine.begin() as conn:

        def rows() -> Iterator[dict[str, Any]]:
            for i in range(lessons):
                k = i // TEACHERS  # the teacher's k-th past lesson, counted back from the holds
                week = date(2026, 11, 30) - timedelta(weeks=1 + k // 40)
                day, hour = (k % 40) // 8, 9 + k % 8
                starts = datetime.combine(
                    week + timedelta(days=day), datetime.min.time()
                ) + timedelta(hours=hour - 1)
                yield (
                    {
                        "t": i % TEACHERS + 1,
                        "s": TEACHERS + 1 + i % students,
                        "w": week,
                        "d": day,
                        "a": hour,
                        "b": hour + 1,
                        "sa": starts,
                        "ea": starts + timedelta(hours=1),
                    }
                )

        insert_done_lessons(conn, rows())
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def raw_floor(url: str) -> float:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    cutoff = datetime(2026, 11, 24, 10, 0)
    start = time.perf_counter()
    with engine.begin() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text("SELECT id FROM booking_sessions WHERE status = 'open' AND touched_at < :c"),
                {"c": cutoff},
            )
        ]
        conn.execute(
            text(
                "UPDATE booking_sessions SET status = 'expired' WHERE status = 'open' AND touched_at < :c"
            ),
            {"c": cutoff},
        )
        conn.execute(
            text(
                "UPDATE reservations SET status = 'released' WHERE status = 'held' AND id IN "
                "(SELECT new_id FROM operations WHERE status = 'pending')"
            )
        )
        conn.execute(text("UPDATE operations SET status = 'abandoned' WHERE status = 'pending'"))
        assert ids
        conn.rollback()
    engine.dispose()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--holds", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=0, help="done lessons added first")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parse(parser, holds=100, history=50)
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        populate(url, args.holds)
        filled = add_history(url, args.history, args.holds) if args.history else 0.0
        floor = raw_floor(url)
        seconds, rss = peak_rss_mb(url, "expire", "--json", now=LATER)
        again, _ = peak_rss_mb(url, "expire", "--json", now=LATER)
        try:
            result = tutorctl(url, "check").stdout.strip()
        except subprocess.CalledProcessError as failed:  # report what check found, keep the figures
            result = f"exit {failed.returncode}: {(failed.stdout or failed.stderr).strip()[:600]}"
    report(
        f"expire: {args.holds:,} stale holds in {args.holds // 10:,} sessions on {args.backend}"
        f", {args.history:,} done lessons of history",
        [
            ("raw set-based floor (no lock, one tx)", f"{floor:.2f} s"),
            (
                "tutorctl expire",
                f"{seconds:.2f} s  ({seconds / floor:.1f}× the floor; target ≤ 5 s)",
            ),
            ("second run (nothing to do)", f"{again:.2f} s"),
            ("peak memory", f"{rss:.0f} MB"),
            ("check afterwards", result),
            ("(adding the history took)", f"{filled:.0f} s"),
        ],
    )


if __name__ == "__main__":
    main()

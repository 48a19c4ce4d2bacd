"""Bulk import: N reservations (and N/10 users) vs a raw executemany floor, and peak memory.

    python benchmarks/bench_import.py [--rows 100000] [--backend sqlite|postgresql]

The floor inserts the same reservation rows with one raw executemany in one transaction (no
validation, no lock, no overlap check) on the same database engine, in the same run. Memory is
the peak RSS of the importing process for a file of N/10 rows and of N rows: flat means
streaming works. The export of those N/10 and N lessons to a CSV file is measured the same way
(it streams from the database to the file).

    python benchmarks/bench_import.py --rows 1000000 --backend postgresql   # the school chain
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import database, parse, peak_rss_mb, report, tutorctl

TEACHERS = 1000
BASE = date(2025, 1, 6)


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    users = folder / f"users-{rows}.csv"
    students = max(rows // 10 - TEACHERS, TEACHERS * 2)
    with users.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["handle", "name", "role"])
        for t in range(TEACHERS):
            w.writerow([f"t{t}", f"Teacher {t}", "teacher"])
        for s in range(students):
            w.writerow([f"s{s}", f"Student {s}", "student"])
    lessons = folder / f"lessons-{rows}.csv"
    with lessons.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["teacher", "student", "category", "date", "start", "end", "status"])
        for i in range(rows):
            k = i // TEACHERS  # every teacher teaches at time k; students are a permutation
            day = BASE + timedelta(days=k // 8)
            hour = 8 + k % 8
            student = (i * 7) % students
            w.writerow(
                [
                    f"t{i % TEACHERS}",
                    f"s{student}",
                    "maths",
                    day.isoformat(),
                    f"{hour:02d}:00",
                    f"{hour + 1:02d}:00",
                    "done",
                ]
            )
    return users, lessons


def raw_floor(url: str, lessons: Path) -> float:
    """The same rows, inserted by one raw executemany, ids resolved by a dict: the floor."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        ids = dict(conn.execute(text("SELECT handle, id FROM users")).all())
        category = conn.execute(text("SELECT id FROM categories WHERE name = 'maths'")).scalar_one()
    start = time.perf_counter()
    with engine.begin() as conn, lessons.open(newline="") as f:
        batch = []
        for row in csv.DictReader(f):
            d = date.fromisoformat(row["date"])
            monday = d - timedelta(days=d.weekday())
            h = int(row["start"][:2])
            batch.append(
                {
                    "t": ids[row["teacher"]],
                    "s": ids[row["student"]],
                    "c": category,
                    "w": monday,
                    "d": d.weekday(),
                    "a": h,
                    "b": h + 1,
                    "sa": f"{d} {h:02d}:00:00",
                    "ea": f"{d} {h + 1:02d}:00:00",
                }
            )
            if len(batch) == 1000:
                _insert(conn, text, batch)
                batch = []
        if batch:
            _insert(conn, text, batch)
    elapsed = time.perf_counter() - start
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM reservations"))
    engine.dispose()
    return elapsed


def _insert(conn, text, batch) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        text(
            "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
            " starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
            " VALUES (:t, :s, :c, :w, :d, :a, :b, :sa, :ea, 'done', 4000, true, false, :sa)"
        ),
        batch,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parse(parser, rows=200)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small_users, small = write_files(folder, args.rows // 10)
        users, lessons = write_files(folder, args.rows)
        users_size = users.stat().st_size // 1024
        with database(args.backend, folder) as url:
            tutorctl(url, "category", "add", "maths", "--price", "40")
            user_seconds, _ = peak_rss_mb(url, "import", "users", str(users))
            floor = raw_floor(url, lessons)
            seconds, rss = peak_rss_mb(url, "import", "reservations", str(lessons))
            check = tutorctl(url, "check").stdout.strip()
            out = str(folder / "export.csv")
            export_seconds, export_rss = peak_rss_mb(
                url, "export", "reservations", "--format", "csv", "--output", out
            )
        with database(args.backend, folder) as url:
            tutorctl(url, "category", "add", "maths", "--price", "40")
            peak_rss_mb(url, "import", "users", str(small_users))
            small_seconds, small_rss = peak_rss_mb(url, "import", "reservations", str(small))
            small_export_seconds, small_export_rss = peak_rss_mb(
                url, "export", "reservations", "--format", "csv", "--output", out
            )
    report(
        f"import: {args.rows:,} reservations on {args.backend}",
        [
            (f"import users ({users_size} KiB)", f"{user_seconds:.2f} s"),
            ("raw executemany floor", f"{floor:.2f} s"),
            (
                "tutorctl import reservations",
                f"{seconds:.2f} s  ({seconds / floor:.2f}× the floor; target ≤ 3×)",
            ),
            ("rows per second", f"{args.rows / seconds:,.0f}"),
            (
                f"peak memory, {args.rows // 10:,} rows",
                f"{small_rss:.0f} MB ({small_seconds:.2f} s)",
            ),
            (
                f"peak memory, {args.rows:,} rows",
                f"{rss:.0f} MB  (ratio {rss / small_rss:.2f}; flat ≈ 1)",
            ),
            (
                f"export csv, {args.rows // 10:,} lessons",
                f"{small_export_seconds:.2f} s, {small_export_rss:.0f} MB",
            ),
            (
                f"export csv, {args.rows:,} lessons",
                f"{export_seconds:.2f} s, {export_rss:.0f} MB"
                f"  (memory ratio {export_rss / small_export_rss:.2f}; flat ≈ 1)",
            ),
            ("check afterwards", check),
        ],
    )


if __name__ == "__main__":
    main()

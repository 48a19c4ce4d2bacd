"""Queuing reminders (SPEC §11, `notify send`'s first step) for many booked lessons due one,
beside a raw ``INSERT … SELECT`` floor writing the same rows, in the same run (issue 24: at
most 3× the floor).

    PYTHONPATH=. python benchmarks/bench_reminders.py [--lessons 100000] [--backend postgresql]

The lessons are bulk-inserted (teacher k and student k meet at consecutive hours, so nothing
overlaps), all booked before their window opened and inside the school's window of 720 hours
(its longest) from now: all due their reminder. Each round times the floor, empties the outbox, times
`outbox.queue_reminders` in its own transaction (as `notify send` runs it: settings read,
then one INSERT … SELECT with the "none yet" anti-join and RETURNING), checks both wrote the
same rows, empties the outbox again. The median of the rounds is reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).parent))
from common import database, parse, report, tutorctl

from tutorctl.core.clock import Clock
from tutorctl.db.uow import Database
from tutorctl.services.notify import outbox

NOW = datetime(2026, 11, 24, 8, 0)  # UTC
PAIRS = 200

HOURS = 720  # the longest window the school may set: every lesson of the fixture is in it
FLOOR = (
    "INSERT INTO outbox (kind, status, user_id, to_address, to_name, session_id, lesson_id,"
    " payload, created_at, next_attempt_at, attempts)"
    " SELECT 'reminder', 'queued', u.id, u.email, u.name, r.session_id, r.id, '{}', :now, :now, 0"
    " FROM reservations r JOIN users u ON u.id = r.student_id"
    " WHERE r.starts_at > :now AND r.starts_at <= :until AND r.status = 'booked'"
    " AND r.booked_at < {opened} AND u.email IS NOT NULL AND u.notify"
)
# when each lesson's window opened, as raw SQL would write it
OPENED = {
    "sqlite": f"datetime(r.starts_at, '-{HOURS} hours')",
    "postgresql": f"r.starts_at - interval '{HOURS} hours'",
}
SAME = "SELECT count(*), sum(lesson_id), sum(user_id) FROM outbox WHERE kind = 'reminder'"


def populate(url: str, lessons: int) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO categories (name, price_cents, active)"
                          " VALUES ('maths', 4000, true)"))  # fmt: skip
        people = [
            {"i": i + 1, "h": f"{role[0]}{i}", "r": role, "e": f"{role[0]}{i}@example.org"}
            for role in ("teacher", "student")
            for i in ([*range(PAIRS)] if role == "teacher" else [*range(PAIRS, 2 * PAIRS)])
        ]
        conn.execute(
            text("INSERT INTO users (id, handle, name, role, active, created_at, email, notify)"
                 " VALUES (:i, :h, :h, :r, true, :c, :e, true)"),
            [{**p, "c": NOW} for p in people],
        )  # fmt: skip
        insert = text(
            "INSERT INTO reservations (id, teacher_id, student_id, category_id, week, day,"
            " start_slot, end_slot, starts_at, ends_at, status, price_cents, unfunded,"
            " late_cancel, created_at, booked_at)"
            " VALUES (:i, :t, :s, 1, :w, :d, :a, :b, :sa, :ea, 'booked', 4000, false, false,"
            " :c, :ba)"
        )
        batch = []
        for i in range(lessons):
            pair, k = i % PAIRS, i // PAIRS
            starts = NOW + timedelta(hours=k + 1)
            monday = (starts - timedelta(days=starts.weekday())).date()
            batch.append({
                "i": i + 1, "t": pair + 1, "s": PAIRS + pair + 1, "w": monday,
                "d": starts.weekday(), "a": starts.hour, "b": starts.hour + 1, "sa": starts,
                "ea": starts + timedelta(hours=1), "c": NOW, "ba": NOW - timedelta(hours=HOURS + 1),
            })  # fmt: skip
            if len(batch) == 5000:
                conn.execute(insert, batch)
                batch = []
        if batch:
            conn.execute(insert, batch)
        if engine.dialect.name == "postgresql":
            for table in ("users", "reservations"):
                sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608 - two fixed table names
                conn.execute(text(sql))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lessons", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parse(parser, lessons=300, rounds=1)
    with tempfile.TemporaryDirectory() as folder, database(args.backend, Path(folder)) as url:
        tutorctl(url, "db", "init", "--notifications", "on", "--mail-from", "desk@school.example",
                 "--reminder-hours", str(HOURS))  # fmt: skip
        populate(url, args.lessons)
        engine = create_engine(url)
        db = Database(url, clock=Clock(NOW), actor="bench")
        floors, ours = [], []
        floor = text(FLOOR.replace("{opened}", OPENED[engine.dialect.name]))
        for _ in range(args.rounds):
            with engine.begin() as conn:
                start = time.perf_counter()
                conn.execute(floor, {"now": NOW, "until": NOW + timedelta(hours=HOURS)})
                floors.append(time.perf_counter() - start)
                floor_rows = conn.execute(text(SAME)).one()
                conn.execute(text("DELETE FROM outbox"))
            start = time.perf_counter()
            queued = db.write("notify send", outbox.queue_reminders)
            ours.append(time.perf_counter() - start)
            with engine.begin() as conn:
                assert conn.execute(text(SAME)).one() == floor_rows, "different rows"
                conn.execute(text("DELETE FROM outbox"))
            assert queued == args.lessons, queued
        engine.dispose()
    floor, our = statistics.median(floors), statistics.median(ours)
    report(
        f"reminders queued for {args.lessons} booked lessons, {args.backend}",
        [
            ("raw INSERT … SELECT", f"{floor * 1000:.0f} ms"),
            ("outbox.queue_reminders", f"{our * 1000:.0f} ms (its own transaction)"),
            ("ratio", f"{our / floor:.2f}× the floor (target ≤ 3×)"),
        ],
    )


if __name__ == "__main__":
    main()

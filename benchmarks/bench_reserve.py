"""Booking throughput: the library's reserve vs a minimal raw-SQL transaction doing the same.

    python benchmarks/bench_reserve.py [--per-process 300] [--rounds 5] [--processes 1 4]
        [--backend sqlite|postgresql] [--pooled] [--tiny]

Each reserve is one transaction: resolve the two handles, lock the student's account, then
the teacher's and the student's week, check availability and overlaps, find or create the
student's open session, insert the lesson, its operation and a history row. The floor does
exactly that with the raw driver (sqlite3 / psycopg) and hand-written SQL; the same statements
also go through SQLAlchemy Core (``exec_driver_sql``) to show what the stack itself costs; the
library runs `services.booking.reserve` in the unit of work (prepared Core statements, full
rules). All run with 1 and 4 processes (``--processes``) in the same run; each worker makes 10 untimed bookings
first (warm-up), then the timed ones. Target: ≥ 50% of the floor.

On PostgreSQL two more library variants run in the same rounds: with psycopg's server-side
prepared statements turned on (its default, ``prepare_threshold=5``; tutorctl turns them off
so that it works behind a transaction pooler), and, with ``--pooled``, through a PgBouncer
started for the run (``pool_mode = transaction``, tests/pgbouncer.py).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this tree's tutorctl
from common import PG_ADMIN, database, parse, report, tutorctl

TEACHERS = 40
WARMUP = 10  # untimed bookings per worker before the clock starts
Job = tuple[int, int, int, int]
WEEK = date(2026, 11, 30)
NOW = "2026-11-24T09:00:00+01:00"


def setup(url: str, students: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    now = datetime(2026, 11, 1)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO categories (name, price_cents, active) VALUES ('maths', 4000, true)")
        )
        conn.execute(
            text(
                "INSERT INTO users (handle, name, role, active, created_at) VALUES (:h, :h, :r, true, :c)"
            ),
            [{"h": f"t{i}", "r": "teacher", "c": now} for i in range(TEACHERS)]
            + [{"h": f"s{i}", "r": "student", "c": now} for i in range(students)],
        )
        conn.execute(
            text(
                "INSERT INTO accounts (student_id, balance_cents) SELECT id, 0 FROM users WHERE role = 'student'"
            )
        )
        conn.execute(
            text(
                "INSERT INTO calendar_weeks (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp)"
                " SELECT id, :w, :o, :o, :o, :o, :o, :o, :o, 0 FROM users WHERE role = 'teacher'"
            ),
            {"w": WEEK, "o": "1" * 24},
        )
    engine.dispose()


def plan(worker: int, per: int, workers: int) -> list[Job]:
    """(teacher index, student index, day, hour): every booking a distinct, free place; the
    first WARMUP of each worker are not timed."""
    jobs = []
    for j in range(WARMUP + per):
        n = worker + j * workers  # global booking number
        teacher, k = n % TEACHERS, n // TEACHERS
        jobs.append((teacher, n, k // 24 % 7, k % 24))
    return jobs


def library_worker(url: str, worker: int, per: int, workers: int, barrier: Any, out: Any) -> None:
    from tutorctl.core.clock import Clock, parse_now
    from tutorctl.db.uow import Database
    from tutorctl.services import booking

    db = Database(url, Clock(parse_now(NOW)), actor="bench")
    jobs = plan(worker, per, workers)

    def book(teacher: int, student: int, day: int, hour: int) -> None:
        db.write(
            "reserve",
            lambda tx: booking.reserve(
                tx, f"t{teacher}", f"s{student}", "maths", WEEK, day, hour, hour + 1
            ),
        )

    out.put(timed_after_warmup(jobs, book, barrier))


def prepared_worker(url: str, worker: int, per: int, workers: int, barrier: Any, out: Any) -> None:
    """The library with psycopg's automatic server-side prepares (its default threshold)."""
    from tutorctl.db import engine

    engine.PREPARE_THRESHOLD = 5
    library_worker(url, worker, per, workers, barrier, out)


def timed_after_warmup(jobs: list[Job], book: Callable[..., None], barrier: Any) -> float:
    """Book the first WARMUP jobs untimed (connections, the driver's and the library's
    statement caches: a library process compiles its statements once, ~10 ms), wait for the
    other workers, then time the rest."""
    for job in jobs[:WARMUP]:
        book(*job)
    barrier.wait()
    start = time.perf_counter()
    for job in jobs[WARMUP:]:
        book(*job)
    return time.perf_counter() - start


class _CoreConnection:
    """The raw worker's statements sent through SQLAlchemy Core (``exec_driver_sql``)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        sqlite = url.startswith("sqlite")
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT" if sqlite else "READ COMMITTED",
            **({"connect_args": {"timeout": 30}} if sqlite else {}),
        )
        self.conn = engine.connect()
        if sqlite:
            self.conn.exec_driver_sql("PRAGMA journal_mode=WAL")
            self.conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
            self.conn.exec_driver_sql("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.exec_driver_sql(sql, params)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def core_worker(url: str, worker: int, per: int, workers: int, barrier: Any, out: Any) -> None:
    raw_worker(url, worker, per, workers, barrier, out, core=True)


def raw_worker(
    url: str, worker: int, per: int, workers: int, barrier: Any, out: Any, core: bool = False
) -> None:
    jobs = plan(worker, per, workers)
    sqlite = url.startswith("sqlite")
    if core:
        conn: Any = _CoreConnection(url)
        q = "?" if sqlite else "%s"
    elif sqlite:
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")  # the library's settings: same checks
        q = "?"
    else:
        import psycopg

        conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        q = "%s"
    sql = {k: v.replace("?", q) for k, v in RAW_SQL.items()}

    def book(teacher: int, student: int, day: int, hour: int) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        starts = datetime.combine(WEEK + timedelta(days=day), datetime.min.time()) + timedelta(
            hours=hour - 1
        )
        if sqlite:
            conn.execute("BEGIN IMMEDIATE")
        ids = dict(conn.execute(sql["handles"], (f"t{teacher}", f"s{student}")).fetchall())
        t, s = ids[f"t{teacher}"], ids[f"s{student}"]
        conn.execute(sql["ensure_account"], (s,))
        conn.execute(sql["lock_account" if sqlite else "lock_account_pg"], (s,)).fetchall()
        keys = sorted([(t, WEEK), (s, WEEK)])
        for u, w in keys:
            conn.execute(
                sql["ensure"],
                (u, w, "0" * 24, "0" * 24, "0" * 24, "0" * 24, "0" * 24, "0" * 24, "0" * 24),
            )
        for u, w in keys:
            conn.execute(sql["lock_sqlite" if sqlite else "lock_pg"], (u, w)).fetchall()
        conn.execute(sql["bump"], (t, s, WEEK))
        days = conn.execute(sql["availability"], (t, WEEK)).fetchone()
        assert days[day][hour] == "1"
        clash = conn.execute(
            sql["overlap"], (t, s, WEEK, day, t, s, WEEK, day, hour + 1, hour)
        ).fetchone()[0]
        assert clash == 0
        row = conn.execute(sql["session"], (s,)).fetchone()
        session = row[0] if row else conn.execute(sql["new_session"], (s, now, now)).fetchone()[0]
        lesson = conn.execute(
            sql["lesson"],
            (t, s, WEEK, day, hour, hour + 1, starts, starts + timedelta(hours=1), session, now),
        ).fetchone()[0]
        conn.execute(sql["operation"], (session, lesson, now))
        conn.execute(sql["history"], (now, session))
        conn.commit() if not sqlite else conn.execute("COMMIT")

    out.put(timed_after_warmup(jobs, book, barrier))
    conn.close()


RAW_SQL = {
    "handles": "SELECT handle, id FROM users WHERE handle IN (?, ?)",
    "ensure_account": "INSERT INTO accounts (student_id, balance_cents) VALUES (?, 0)"
    " ON CONFLICT (student_id) DO NOTHING",
    "lock_account": "SELECT id FROM accounts WHERE student_id = ?",
    "lock_account_pg": "SELECT id FROM accounts WHERE student_id = ? FOR UPDATE",
    "ensure": "INSERT INTO calendar_weeks (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (user_id, week) DO NOTHING",
    "lock_pg": "SELECT id FROM calendar_weeks WHERE user_id = ? AND week = ? FOR UPDATE",
    "lock_sqlite": "SELECT id FROM calendar_weeks WHERE user_id = ? AND week = ?",
    "bump": "UPDATE calendar_weeks SET stamp = stamp + 1 WHERE user_id IN (?, ?) AND week = ?",
    "availability": "SELECT d0, d1, d2, d3, d4, d5, d6 FROM calendar_weeks WHERE user_id = ? AND week = ?",
    # candidates through the (person, week, day) indexes, as the library does (an OR of the
    # two person columns makes SQLite walk every live lesson through the status index)
    "overlap": "SELECT count(*) FROM reservations WHERE id IN"
    " (SELECT id FROM reservations WHERE teacher_id IN (?, ?) AND week = ? AND day = ?"
    " UNION ALL SELECT id FROM reservations WHERE student_id IN (?, ?) AND week = ? AND day = ?)"
    " AND status IN ('held', 'booked') AND start_slot < ? AND end_slot > ?",
    "session": "SELECT id FROM booking_sessions WHERE student_id = ? AND status = 'open'",
    "new_session": "INSERT INTO booking_sessions (student_id, status, created_at, touched_at)"
    " VALUES (?, 'open', ?, ?) RETURNING id",
    "lesson": "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
    " starts_at, ends_at, status, price_cents, session_id, unfunded, late_cancel, created_at)"
    " VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, 'held', 4000, ?, false, false, ?) RETURNING id",
    "operation": "INSERT INTO operations (session_id, kind, status, new_id, created_at)"
    " VALUES (?, 'reserve', 'pending', ?, ?)",
    "history": "INSERT INTO history (at, actor, command, subject, user_ids, session_id, details)"
    " VALUES (?, 'bench', 'reserve', 'raw', ',', ?, '{}')",
}


def run(target: Any, url: str, workers: int, per: int) -> float:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [
        ctx.Process(target=target, args=(url, w, per, workers, barrier, out))
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    elapsed = max(out.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(60)
    return workers * per / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-process", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--pooled", action="store_true", help="also through PgBouncer")
    args = parse(parser, per_process=3, rounds=1, processes=[2])
    variants: list[tuple[str, Any]] = [
        ("raw floor", raw_worker),
        ("same SQL via SQLAlchemy Core", core_worker),
        ("library", library_worker),
    ]
    bouncer = None
    if args.backend == "postgresql":
        variants.append(("library, server-side prepares on", prepared_worker))
        if args.pooled:
            from sqlalchemy.engine import make_url

            from tests.pgbouncer import PgBouncer

            server = make_url(PG_ADMIN)
            bouncer = PgBouncer(server.host or "127.0.0.1", server.port or 5432, ["postgres"])
            variants.append(("library through PgBouncer", library_worker))
    rows = []
    try:
        _measure(args, variants, bouncer, rows)
    finally:
        if bouncer is not None:
            bouncer.stop()
    report(
        f"reserve throughput on {args.backend} (median of {args.rounds} interleaved rounds)", rows
    )


def _measure(args: Any, variants: list[tuple[str, Any]], bouncer: Any, rows: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for workers in args.processes:
            # rounds interleave the variants, so a slow spell of the machine lands on all of
            # them; each round's ratios are taken against that round's floor
            rates: dict[str, list[float]] = {name: [] for name, _ in variants}
            for _ in range(args.rounds):
                for name, target in variants:
                    with database(args.backend, Path(tmp)) as url:
                        setup(url, workers * (WARMUP + args.per_process))
                        via = url
                        if "PgBouncer" in name:
                            via = bouncer.url(url.rsplit("/", 1)[1])
                        rates[name].append(run(target, via, workers, args.per_process))
                        assert "ok" in tutorctl(url, "check").stdout
            floor = rates["raw floor"]
            for name, _ in variants:
                line = f"{statistics.median(rates[name]):.0f} reserves/s"
                if name != "raw floor":
                    ratios = [r / f for r, f in zip(rates[name], floor, strict=True)]
                    line += (
                        f"  ({statistics.median(ratios):.0%} of the floor, rounds "
                        f"{min(ratios):.0%}–{max(ratios):.0%}"
                        + ("; target ≥ 50%)" if name == "library" else ")")
                    )
                rows.append((f"{workers} process(es): {name}", line))


if __name__ == "__main__":
    main()

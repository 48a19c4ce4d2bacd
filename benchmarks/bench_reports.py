"""Reports and history at scale: each report over one month, and `history --user`, with 10k
lessons (1k students), then with 1M lessons (100k students) in the database; `check`'s peak
memory at both sizes.

    python benchmarks/bench_reports.py [--backend sqlite|postgresql] [--big 1000000] [--runs 15]

The database is filled with raw SQL (executemany), not through tutorctl. The small school is
November 2026: 200 teachers open Mon-Fri 09-18, 10k one-hour lessons (done, booked, 5%
cancelled, 1% late), each paid by card in its own session and booked (and cancelled) by an
operation, credits, refunds, debits, 200 packages (50 still owing), 20 sessions awaiting a
payment, one history row per lesson. The big one adds 99k students and 990k lessons over the
two and a half years before, with their sessions, payments, fundings, operations, ledger
entries, packages, calendar weeks and history — the
reported month is the same, as a school's month is when its past grows. Every report runs
in-process (the service call behind the command, median of ``--runs``), so the ratio measures
the queries, not interpreter start-up. Targets: each report ≤ 1.5× at 1M; `check` in constant
memory (peak RSS of the command at 1M ≈ at 10k).

Filling the big database takes minutes: ``--keep NAME`` keeps both databases under that name
(SQLite files in the temp folder, PostgreSQL databases ``tutorctl_bench_NAME_small|big``) and
a later run with the same name reuses them (``db init`` upgrades their schema first).
``--only TEXT`` times only the calls whose name contains TEXT; ``--no-check`` skips `check`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this tree's tutorctl
from common import PG_ADMIN, database, parse, peak_rss_mb, report, tutorctl

TEACHERS = 200
STUDENTS = 1_000
BIG_STUDENTS = 100_000
NOW = "2026-11-24T09:00:00+01:00"
MONTH = "2026-11"
FIRST_WEEK = date(2026, 10, 26)  # W44: the first week touching November
NOVEMBER = [date(2026, 11, d) for d in range(1, 31) if date(2026, 11, d).weekday() < 5]
OPEN = "0" * 9 + "1" * 9 + "0" * 6  # 09:00-18:00 on the 60-minute grid
CLOSED = "0" * 24
BATCH = 20_000
SHOWN_LESSON = 4321  # a November lesson: the same one at both sizes

COLUMNS = {
    "users": "id, handle, name, role, active, created_at",
    "categories": "id, name, price_cents, active",
    "calendar_weeks": "user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp",
    "booking_sessions": "id, student_id, status, created_at, touched_at, reserved_cents",
    "reservations": "id, teacher_id, student_id, category_id, week, day, start_slot, end_slot,"
    " starts_at, ends_at, status, price_cents, session_id, unfunded, late_cancel, created_at",
    "payments": "id, session_id, method, amount_cents, status, created_at, settled_at",
    "fundings": "reservation_id, source, payment_id, minutes, amount_cents",
    "accounts": "id, student_id, balance_cents",
    "ledger": "account_id, amount_cents, kind, reason, reservation_id, actor, at",
    "purchases": "id, student_id, teacher_id, category_id, bought_minutes, paid_minutes,"
    " consumed_minutes, price_cents, purchased_on, created_at",
    "package_payments": "purchase_id, method, minutes, amount_cents, actor, at",
    "history": "id, at, actor, command, subject, user_ids, session_id, details",
    "history_users": "user_id, history_id",
    "operations": "session_id, kind, status, target_id, new_id, created_at, applied_at",
}


class Filler:
    """Raw executemany inserts on one connection (the driver's paramstyle, plain values)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.raw: Any = self.engine.raw_connection()
        self.mark = "?" if self.sqlite else "%s"
        cursor = self.raw.cursor()
        cursor.execute("SELECT coalesce(max(id), 0) FROM history")  # db init's own rows
        self.ids = {"history": int(cursor.fetchone()[0])}
        cursor.close()

    def ts(self, value: datetime) -> Any:  # naive UTC, as tutorctl stores it
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else value

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def insert(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        columns = COLUMNS[table]
        marks = ", ".join([self.mark] * len(columns.split(",")))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 - constants
        cursor = self.raw.cursor()
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                batch.clear()
        if batch:
            cursor.executemany(sql, batch)
        cursor.close()

    def commit(self) -> None:
        """Commit, then give the planner what a running school's autovacuum would: statistics
        (ANALYZE) and, on PostgreSQL, the visibility map an index-only scan needs (VACUUM)."""
        self.raw.commit()
        if self.sqlite:
            self.raw.cursor().execute("ANALYZE")
            self.raw.commit()
            return
        driver = self.raw.driver_connection  # the pool's proxy would not pass autocommit on
        driver.autocommit = True
        driver.execute("VACUUM ANALYZE")
        driver.autocommit = False

    def close(self) -> None:
        self.raw.close()
        self.engine.dispose()


def at(day: date, hour: int) -> datetime:
    """A wall-clock hour in Paris as naive UTC (CET: −1 h; CEST from the last Sunday of March
    to the last Sunday of October: −2 h)."""
    summer = _last_sunday(day.year, 3) <= day < _last_sunday(day.year, 10)
    return datetime.combine(day, datetime.min.time()) + timedelta(hours=hour - (2 if summer else 1))


def _last_sunday(year: int, month: int) -> date:
    last = date(year, month + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def student_id(n: int) -> int:
    return TEACHERS + 1 + n


def lessons(f: Filler, first_id: int, slots: Iterator[tuple[int, date, int]], students: int,
            mult: int, per_session: int) -> int:  # fmt: skip
    """Insert lessons (teacher, date, hour) with their sessions, payments, fundings, the
    operations that booked (and cancelled) them, and history; returns the next free lesson id."""
    rows, sessions, payments, fundings, history, links, operations = [], [], [], [], [], [], []
    lesson = first_id
    session = payment = 0
    for teacher, day, hour in slots:
        student = student_id((lesson * mult) % students)
        starts = at(day, hour)
        monday = day - timedelta(days=day.weekday())
        status = "done" if day < date(2026, 11, 24) else "booked"
        late = lesson % 100 == 1
        if lesson % 20 == 0 or late:
            status = "cancelled"
        if (lesson - first_id) % per_session == 0:
            session, payment = lesson, lesson  # one session and payment for per_session lessons
            paid = starts - timedelta(days=2)
            sessions.append((session, student, "applied", f.ts(paid), f.ts(paid), 0))
            payments.append((payment, session, "card", 4000 * per_session, "succeeded",
                             f.ts(paid), f.ts(paid)))  # fmt: skip
        rows.append((lesson, teacher, student, 1 + lesson % 2, f.day(monday), day.weekday(),
                     hour, hour + 1, f.ts(starts), f.ts(starts + timedelta(hours=1)), status,
                     4000, session, False, late, f.ts(starts - timedelta(days=2))))  # fmt: skip
        fundings.append((lesson, "payment", payment, 60, 4000))
        chosen = f.ts(starts - timedelta(days=2))
        operations.append((session, "reserve", "applied", None, lesson, chosen, chosen))
        if status == "cancelled":
            gone = f.ts(starts - (timedelta(hours=6) if late else timedelta(days=1)))
            operations.append((session, "cancel", "applied", lesson, None, gone, gone))
        f.ids["history"] += 1
        hid = f.ids["history"]
        history.append((hid, f.ts(starts - timedelta(days=2)), "bench", "session pay",
                        f"lesson {lesson}", f",{teacher},{student},", session, "{}"))  # fmt: skip
        links += [(teacher, hid), (student, hid)]
        lesson += 1
        if len(rows) >= BATCH:
            _flush(f, sessions, payments, rows, fundings, history, links, operations)
    _flush(f, sessions, payments, rows, fundings, history, links, operations)
    return lesson


def _flush(f: Filler, *tables: list[Any]) -> None:
    names = ("booking_sessions", "payments", "reservations", "fundings", "history",
             "history_users", "operations")  # fmt: skip
    for name, rows in zip(names, tables, strict=True):
        f.insert(name, rows)
        rows.clear()


def fill_month(f: Filler, count: int) -> int:
    """The small school: November 2026."""
    created = f.ts(datetime(2024, 1, 1))
    f.insert("categories", [(1, "maths", 4000, True), (2, "piano", 4550, True)])
    f.insert("users", [(t, f"t{t}", f"teacher {t}", "teacher", True, created)
                       for t in range(1, TEACHERS + 1)])  # fmt: skip
    f.insert("users", [(student_id(n), f"s{n}", f"student {n}", "student", True, created)
                       for n in range(STUDENTS)])  # fmt: skip
    weeks = [FIRST_WEEK + timedelta(weeks=w) for w in range(6)]
    f.insert("calendar_weeks", [(t, f.day(w), *([OPEN] * 5), CLOSED, CLOSED, 1)
                                for t in range(1, TEACHERS + 1) for w in weeks])  # fmt: skip
    f.insert("calendar_weeks", [(student_id(n), f.day(w), *([CLOSED] * 7), 1)
                                for n in range(STUDENTS) for w in weeks])  # fmt: skip
    slots = ((1 + i % TEACHERS, NOVEMBER[(i // TEACHERS) // 8], 9 + (i // TEACHERS) % 8)
             for i in range(count))  # fmt: skip
    next_lesson = lessons(f, 1, slots, STUDENTS, 7, per_session=1)
    money(f, range(STUDENTS), date(2026, 11, 2), balances=True)
    f.insert("booking_sessions", [(10_000_000 + n, student_id(n), "awaiting_payment",
                                   f.ts(at(date(2026, 11, 24), 8)), f.ts(at(date(2026, 11, 24), 8)),
                                   1000) for n in range(20)])  # fmt: skip
    return next_lesson


def money(f: Filler, students: range, first_day: date, balances: bool) -> None:
    """Accounts, credits, debits and packages of ``students`` over 20 weekdays from
    ``first_day``; with ``balances``, half of them keep money and a quarter of the packages owe."""
    days = [
        first_day + timedelta(days=d)
        for d in range(28)
        if (first_day + timedelta(days=d)).weekday() < 5
    ]
    f.insert("accounts", [(student_id(n), student_id(n), 2500 if balances and n % 2 == 0 else 0)
                          for n in students])  # fmt: skip
    f.insert("ledger", [(student_id(n), 2500, "credit", "credit", None, "bench",
                         f.ts(at(days[n % len(days)], 12))) for n in students if n % 2 == 0])  # fmt: skip
    f.insert("ledger", [(student_id(n), -500, "debit", "paid back", None, "bench",
                         f.ts(at(days[n % len(days)], 13))) for n in students if n % 10 == 0])  # fmt: skip
    packages = [n for n in students if n % 5 == 0]
    f.insert("purchases", [(student_id(n), student_id(n), 1 + n % TEACHERS, 1 + n % 2, 600,
                            300 if balances and n % 20 == 0 else 600, 0, 40000,
                            f.day(days[n % len(days)]), f.ts(at(days[n % len(days)], 11)))
                           for n in packages])  # fmt: skip
    f.insert("package_payments", [(student_id(n), "cash",
                                   300 if balances and n % 20 == 0 else 600,
                                   20000 if balances and n % 20 == 0 else 40000, "bench",
                                   f.ts(at(days[n % len(days)], 11))) for n in packages])  # fmt: skip


def fill_history(f: Filler, first_lesson: int, count: int) -> None:
    """The big school: 99k more students, ``count`` lessons in the weeks before W44 2026."""
    created = f.ts(datetime(2020, 1, 1))
    f.insert("users", ((student_id(n), f"s{n}", f"student {n}", "student", True, created)
                       for n in range(STUDENTS, BIG_STUDENTS)))  # fmt: skip

    def slot(j: int) -> tuple[int, date, int]:
        k = j // TEACHERS
        week = FIRST_WEEK - timedelta(weeks=1 + k // 40)
        return 1 + j % TEACHERS, week + timedelta(days=(k % 40) // 8), 9 + k % 8

    weeks = 1 + (count // TEACHERS) // 40
    f.insert("calendar_weeks", ((t, f.day(FIRST_WEEK - timedelta(weeks=1 + w)), *([OPEN] * 5),
                                 CLOSED, CLOSED, 1)
                                for t in range(1, TEACHERS + 1) for w in range(weeks)))  # fmt: skip
    # the students' own week rows (a booking locks them): about one per student and 4 weeks
    f.insert("calendar_weeks", ((student_id(n), f.day(FIRST_WEEK - timedelta(weeks=1 + w)),
                                 *([CLOSED] * 7), 1)
                                for n in range(BIG_STUDENTS)
                                for w in range(n % weeks, weeks, max(1, weeks // 4))))  # fmt: skip
    ids = ((first_lesson + j) for j in range(count))
    lessons(f, first_lesson, (slot(j - first_lesson) for j in ids), BIG_STUDENTS, 13,
            per_session=4)  # fmt: skip
    f.insert("accounts", ((student_id(n), student_id(n), 0)
                          for n in range(STUDENTS, BIG_STUDENTS)))  # fmt: skip
    old = FIRST_WEEK - timedelta(weeks=weeks)
    for n0 in range(
        STUDENTS, BIG_STUDENTS, 10_000
    ):  # settled students: credits spent, packages paid
        day = old + timedelta(weeks=(n0 // 10_000) * 10)
        group = range(n0, min(n0 + 10_000, BIG_STUDENTS))
        f.insert("ledger", [(student_id(n), 2500, "credit", "credit", None, "bench",
                             f.ts(at(day, 12))) for n in group if n % 2 == 0])  # fmt: skip
        f.insert("ledger", [(student_id(n), -2500, "debit", "paid back", None, "bench",
                             f.ts(at(day, 13))) for n in group if n % 2 == 0])  # fmt: skip
        packages = [n for n in group if n % 10 == 0]
        f.insert("purchases", [(student_id(n), student_id(n), 1 + n % TEACHERS, 1 + n % 2, 600,
                                600, 0, 40000, f.day(day), f.ts(at(day, 11))) for n in packages])  # fmt: skip
        f.insert("package_payments", [(student_id(n), "cash", 600, 40000, "bench",
                                       f.ts(at(day, 11))) for n in packages])  # fmt: skip


@contextmanager
def kept(backend: str, name: str) -> Iterator[tuple[str, bool]]:
    """A database kept between runs: (url, whether it is new and must be filled)."""
    if backend == "sqlite":
        path = Path(tempfile.gettempdir()) / f"tutorctl-bench-{name}.db"
        url, fresh = f"sqlite:///{path}", not path.exists()
    else:
        import psycopg

        db = f"tutorctl_bench_{name}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            fresh = not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (db,)
            ).fetchone()
            if fresh:
                conn.execute(f'CREATE DATABASE "{db}"')
        if not fresh:  # the fill wrote history ids itself: db init's entry takes the next one
            with psycopg.connect(f"{PG_ADMIN.rsplit('/', 1)[0]}/{db}", autocommit=True) as conn:
                conn.execute("SELECT setval('history_id_seq', (SELECT max(id) FROM history))")
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
        url += f"/{db}"
    tutorctl(url, "db", "init")  # creates a new one, upgrades a kept one
    yield url, fresh


def calls() -> dict[str, Callable[[Any], Any]]:
    from tutorctl.services import history, reports, story

    def month(tx: Any) -> reports.Period:
        return reports.period(tx, None, None, MONTH)

    return {
        "report revenue": lambda tx: reports.revenue(tx, month(tx)),
        "report revenue --by teacher": lambda tx: reports.revenue(tx, month(tx), "teacher"),
        "report revenue --by category": lambda tx: reports.revenue(tx, month(tx), "category"),
        "report revenue --by month": lambda tx: reports.revenue(tx, month(tx), "month"),
        "report hours --by teacher": lambda tx: reports.hours(tx, month(tx), "teacher"),
        "report hours --by student": lambda tx: reports.hours(tx, month(tx), "student"),
        "report hours --by category": lambda tx: reports.hours(tx, month(tx), "category"),
        "report balances": reports.balances,
        "report occupancy": lambda tx: reports.occupancy(tx, month(tx)),
        "history --user s5 --limit 50": lambda tx: history.history(tx, "s5", limit=50),
        "lesson show": lambda tx: story.show_lesson(tx, SHOWN_LESSON),
    }


def measure(
    small_url: str, big_url: str, runs: int, only: str | None = None
) -> list[tuple[str, float, float, bool]]:
    """Each call on both databases, interleaved (small, big, small, …): the machine's noise
    falls on both sides alike. Returns (name, small median, big median, same result)."""
    from tutorctl.core.clock import Clock, parse_now
    from tutorctl.db.uow import Database

    dbs = [Database(url, Clock(parse_now(NOW))) for url in (small_url, big_url)]
    results = []
    for name, call in calls().items():
        if only is not None and only not in name:
            continue
        shown = [repr(db.read(call)) for db in dbs for _ in range(3)]
        times: list[list[float]] = [[], []]
        for _ in range(runs):
            for side, db in enumerate(dbs):
                start = time.perf_counter()
                db.read(call)
                times[side].append(time.perf_counter() - start)
        small, big = (statistics.median(t) for t in times)
        results.append((name, small, big, shown[0] == shown[-1]))
    return results


def main() -> None:
    global BIG_STUDENTS, SHOWN_LESSON  # the fill functions and the calls read them
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", metavar="NAME", help="keep (and reuse) the databases")
    parser.add_argument("--only", metavar="TEXT", help="time only the calls naming TEXT")
    parser.add_argument("--no-check", action="store_true", help="skip check's peak memory")
    parser.add_argument("--big-students", type=int, default=BIG_STUDENTS)
    args = parse(parser, small=200, big=400, runs=1, big_students=2_000)
    BIG_STUDENTS = args.big_students
    SHOWN_LESSON = min(SHOWN_LESSON, args.small)  # lessons 1 … small are November's
    filled = 0.0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = []
        for role in ("small", "big"):
            if args.keep:
                url, fresh = stack.enter_context(kept(args.backend, f"{args.keep}_{role}"))
            else:
                url, fresh = stack.enter_context(database(args.backend, Path(tmp))), True
            urls.append(url)
            if not fresh:
                continue
            f = Filler(url)
            next_lesson = fill_month(f, args.small)
            f.commit()
            if role == "big":
                started = time.perf_counter()
                fill_history(f, next_lesson, args.big - args.small)
                f.commit()
                filled = time.perf_counter() - started
            f.close()
        small_url, big_url = urls
        results = measure(small_url, big_url, args.runs, args.only)
        checks = [
            (0.0, 0.0) if args.no_check else peak_rss_mb(url, "check", now=NOW, codes=(0, 1))
            for url in urls
        ]
    rows = [
        (name, f"{small * 1000:7.2f} ms → {big * 1000:7.2f} ms  ({big / small:.2f}×)")
        for name, small, big, _same in results
    ]
    worst = max(big / small for _n, small, big, _s in results)
    same = all(same for name, _a, _b, same in results if not name.startswith("history"))
    (small_s, small_mb), (big_s, big_mb) = checks
    rows += [
        ("worst ratio", f"{worst:.2f}× (target ≤ 1.5×): {'met' if worst <= 1.5 else 'NOT met'}"),
        ("same report figures at both sizes", "yes" if same else "NO"),
        (
            "check: time, peak memory",
            f"{small_s:.2f} s, {small_mb:.0f} MB → {big_s:.2f} s, {big_mb:.0f} MB",
        ),
        ("(filling the big database took)", f"{filled:.0f} s"),
    ]
    report(
        f"reports over one month ({MONTH}) on {args.backend}: {args.small:,} lessons / "
        f"{STUDENTS:,} students vs {args.big:,} lessons / {BIG_STUDENTS:,} students "
        f"(median of {args.runs}, interleaved, in-process)",
        rows,
    )


if __name__ == "__main__":
    main()

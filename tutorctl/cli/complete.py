"""Shell completion that knows the school: handles (by role), categories, session and lesson
ids, week and day words.

Completion runs a whole ``tutorctl`` process per TAB, so it imports as little as it can:
static words (weeks, days, methods, statuses) need nothing beyond the standard library, and
database-backed ones talk to the database with the driver alone (``sqlite3``, or ``psycopg``
for PostgreSQL) — never SQLAlchemy or the table models. They only read, through a read-only
connection, and any failure (no database yet, a server down, an old schema) completes
nothing rather than printing an error into the user's shell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from typing import Any

import typer

from tutorctl.core.status import CLOSED_SESSION, LessonStatus, PaymentMethod, Role, SessionStatus

Item = tuple[str, str]  # (value, help shown by zsh and fish)
LIMIT = 200

WEEK_WORDS = [
    ("this", "this week"),
    ("next", "next week"),
    ("last", "last week"),
    ("+1", "in one week"),
    ("+2", "in two weeks"),
    ("+3", "in three weeks"),
    ("-1", "one week ago"),
    ("this..+3", "this week and the next three"),
]
DAY_WORDS = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
    ("mon-fri", "Monday to Friday"),
]
METHODS = [(m.value, "") for m in PaymentMethod]
STATUSES = [(s.value, "") for s in SessionStatus]
ROLES = [(r.value, "") for r in Role]
KINDS = [
    (k, "") for k in ("users", "categories", "availability", "purchases", "credits", "reservations")
]


def _match(items: list[Item], incomplete: str) -> list[Item]:
    return [item for item in items if item[0].startswith(incomplete)]


def _root_value(ctx: typer.Context, name: str) -> str | None:
    value = ctx.find_root().params.get(name)
    return value if isinstance(value, str) and value else None


def _today(ctx: typer.Context) -> date:
    now = _root_value(ctx, "now") or os.environ.get("TUTORCTL_NOW")
    if now:
        with suppress(ValueError):
            return datetime.fromisoformat(now).date()
    return date.today()


def weeks(ctx: typer.Context, incomplete: str) -> list[Item]:
    """Week words, and the ISO names of this week and the next four."""
    monday = _today(ctx) - timedelta(days=_today(ctx).weekday())
    iso = []
    for i in range(5):
        day = monday + timedelta(weeks=i)
        year, week, _ = day.isocalendar()
        iso.append((f"{year}-W{week:02d}", f"{day:%Y-%m-%d} → {day + timedelta(days=6):%m-%d}"))
    return _match(WEEK_WORDS + iso, incomplete)


def days(incomplete: str) -> list[Item]:
    return _match(DAY_WORDS, incomplete)


def methods(incomplete: str) -> list[Item]:
    return _match(METHODS, incomplete)


def statuses(incomplete: str) -> list[Item]:
    return _match(STATUSES, incomplete)


def roles(incomplete: str) -> list[Item]:
    return _match(ROLES, incomplete)


def kinds(incomplete: str) -> list[Item]:
    return _match(KINDS, incomplete)


# -- the database, through the driver alone ---------------------------------------------------


class _Reader:
    """A read-only connection and its parameter style ('?' for sqlite3, '%s' for psycopg)."""

    def __init__(self, conn: Any, mark: str) -> None:
        self.conn = conn
        self.mark = mark

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(sql.replace("?", self.mark), params)
        return list(cursor.fetchall())


@contextmanager
def _reader(ctx: typer.Context) -> Iterator[_Reader]:
    from tutorctl.core.config import ENV_DB, default_db_path

    url = _root_value(ctx, "db") or os.environ.get(ENV_DB) or f"sqlite:///{default_db_path()}"
    if "://" not in url or url.startswith("sqlite:"):
        import sqlite3

        path = url.split(":///", 1)[1] if "://" in url else url
        if not path or not os.path.exists(os.path.expanduser(path)):
            raise LookupError("no database file")
        uri = "file:" + os.path.expanduser(path).replace("?", "%3f") + "?mode=ro"
        conn: Any = sqlite3.connect(uri, uri=True, timeout=0.5)
        try:
            yield _Reader(conn, "?")
        finally:
            conn.close()
        return
    import psycopg

    from tutorctl.core.config import POSTGRES_SCHEMES, libpq_url, resolve_db_url

    if not url.startswith(POSTGRES_SCHEMES):  # resolving imports SQLAlchemy: only if needed
        url = resolve_db_url(url)
    with psycopg.connect(libpq_url(url), connect_timeout=2, autocommit=True) as pg:
        pg.execute("SET default_transaction_read_only = on")
        yield _Reader(pg, "%s")


Completer = Callable[[typer.Context, str], list[Item]]


def _completer(query: Callable[[_Reader, typer.Context, str], list[Item]]) -> Completer:
    """A completion from the database: ``query(db, ctx, incomplete)`` on a read-only
    connection; nothing at all when anything fails."""

    def complete(ctx: typer.Context, incomplete: str) -> list[Item]:
        try:
            with _reader(ctx) as reader:
                return query(reader, ctx, incomplete)
        except Exception:  # noqa: BLE001 - completion must never print an error into a shell
            return []

    return complete


def _like(incomplete: str) -> str:
    """A LIKE pattern for names starting with ``incomplete`` (its % and _ taken literally)."""
    escaped = incomplete.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _users(role: str | None) -> Completer:
    def query(db: _Reader, ctx: typer.Context, incomplete: str) -> list[Item]:
        rows = db.rows(
            "SELECT handle, name, role FROM users WHERE active AND handle LIKE ? ESCAPE '\\' "
            "AND role IN (?, ?) ORDER BY handle LIMIT 200",
            _like(incomplete),
            role or Role.TEACHER,
            role or Role.STUDENT,
        )
        return [(h, f"{n} ({r})" if role is None else n) for h, n, r in rows]

    return _completer(query)


teachers = _users(Role.TEACHER)
students = _users(Role.STUDENT)
people = _users(None)


@_completer
def categories(db: _Reader, ctx: typer.Context, incomplete: str) -> list[Item]:
    rows = db.rows(
        "SELECT name, price_cents FROM categories WHERE active AND name LIKE ? ESCAPE '\\' "
        "ORDER BY name LIMIT 200",
        _like(incomplete),
    )
    return [(n, f"{p // 100}.{p % 100:02d} per hour") for n, p in rows]


def _sessions(wanted: tuple[SessionStatus, ...]) -> Completer:
    def query(db: _Reader, ctx: typer.Context, incomplete: str) -> list[Item]:
        rows = db.rows(
            "SELECT s.id, u.handle, s.status FROM booking_sessions s "
            "JOIN users u ON u.id = s.student_id "
            "WHERE s.status <> ? AND s.status <> ? AND s.status <> ? "
            "ORDER BY s.id DESC LIMIT 1000",
            *(str(closed) for closed in CLOSED_SESSION),
        )
        return [
            (str(i), f"{h} · {st}")
            for i, h, st in rows
            if st in wanted and str(i).startswith(incomplete)
        ][:LIMIT]

    return _completer(query)


open_sessions = _sessions((SessionStatus.OPEN,))
live_sessions = _sessions(tuple(s for s in SessionStatus if s not in CLOSED_SESSION))


def _lessons(statuses: tuple[LessonStatus, ...]) -> Completer:
    """Lesson ids, newest first, each described by its student, teacher, category and time
    (zsh and fish show it). With ``--session N`` on the line, only that session's student's
    lessons."""

    # one placeholder per status: only "?" marks are put into the SQL, never a value
    marks = ", ".join("?" for _ in statuses)
    sql = (
        "SELECT r.id, s.handle, t.handle, c.name, r.week, r.day, r.start_slot, "  # noqa: S608
        "r.status, r.student_id FROM reservations r "
        "JOIN users s ON s.id = r.student_id JOIN users t ON t.id = r.teacher_id "
        "JOIN categories c ON c.id = r.category_id "
        f"WHERE r.status IN ({marks}) ORDER BY r.id DESC LIMIT 1000"
    )

    def query(db: _Reader, ctx: typer.Context, incomplete: str) -> list[Item]:
        session = ctx.params.get("session")  # as typed while completing: a string
        if isinstance(session, str) and session.isdigit():
            session = int(session)
        (slot,) = db.rows("SELECT slot_minutes FROM settings")[0]
        student_ids = (
            [r[0] for r in db.rows("SELECT student_id FROM booking_sessions WHERE id = ?", session)]
            if isinstance(session, int)
            else []
        )
        rows = db.rows(sql, *(str(status) for status in statuses))
        items = []
        for i, student, teacher, category, week, day, start, status, sid in rows:
            if not str(i).startswith(incomplete) or (student_ids and sid not in student_ids):
                continue
            when = date.fromisoformat(str(week)[:10]) + timedelta(days=int(day))
            minutes = int(start) * int(slot)
            items.append(
                (
                    str(i),
                    f"{student} · {teacher} {category} · {when:%a %Y-%m-%d} "
                    f"{minutes // 60:02d}:{minutes % 60:02d} · {status}",
                )
            )
        return items[:LIMIT]

    return _completer(query)


booked_lessons = _lessons((LessonStatus.BOOKED,))
live_lessons = _lessons((LessonStatus.BOOKED, LessonStatus.DONE))

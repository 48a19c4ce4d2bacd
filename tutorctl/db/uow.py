"""The unit of work: the one primitive every mutation (and every read) goes through.

``Database.write(command, fn)`` runs ``fn(tx)`` in one transaction:

1. begin — SQLite: ``BEGIN IMMEDIATE`` (one writer at a time, WAL, busy timeout);
   PostgreSQL: READ COMMITTED;
2. load the school settings and check the schema version, in one statement (exit 4 if
   missing or old);
3. ``fn`` reads what it needs to know which rows it touches, then calls ``tx.lock(...)`` once:
   the student accounts, then the calendar weeks — one upsert each
   (``INSERT … ORDER BY key ON CONFLICT DO UPDATE … RETURNING``) that ensures the rows,
   locks them in key order, bumps the week stamps and returns what the transaction reads;
4. ``fn`` checks and writes, never commits; history rows are appended; commit.

Services get ``tx.run`` / ``tx.run_many`` for prepared statements (the hot paths: reserve,
the locks, the import's bulk insert — Core statements compiled once, run on the driver's
cursor), ``tx.execute`` for other Core statements, and ``tx.session``, an ORM session on the
same connection created on first use.

A deadlock, serialization failure, unique violation or busy database re-runs the whole
function (bounded, with jitter) and is reported as exit 5 when retries are exhausted; an
exception anywhere rolls everything back. This is the only module that knows these details.
"""

from __future__ import annotations

import json
import random
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, Integer, String, any_, bindparam, literal, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlmodel import Session, col, func, select

from tutorctl.core.clock import Clock
from tutorctl.core.config import mask_url, scrub
from tutorctl.core.errors import ConfigError, LockError, RuleError
from tutorctl.core.timegrid import SlotGrid, load_zone
from tutorctl.db import migrations
from tutorctl.db.engine import DEFAULT_LOCK_TIMEOUT, WRITE_OPTION, get_engine
from tutorctl.db.schema import Account, CalendarWeek, History, HistoryUser

T = TypeVar("T")

MAX_ATTEMPTS = 12
MIN_LOCK_BUDGET = 1.0  # seconds: even --lock-timeout 0 retries a deadlock for a moment
_MISSING = object()
CHUNK = 400  # keys per statement where SQLite reads in chunks (it holds the write lock anyway)


class Prepared:
    """A Core statement compiled once per dialect and run straight on the driver's cursor.

    SQLAlchemy's execution of a prebuilt statement costs ~20 µs on top of the driver's own
    ~7 µs (execution context, events, result metadata); a reserve runs about ten. A prepared
    statement keeps what matters of it — the SQL as SQLAlchemy compiles it for the dialect,
    each type's own bind and result processors, errors wrapped as ``DBAPIError`` — and skips
    the rest. No expanding IN lists and no Python-side column defaults other than constants
    (checked when compiled). An INSERT whose ids are not wanted back is written ``.inline()``:
    PostgreSQL would otherwise add ``RETURNING id`` (and ``run_many`` refuses statements that
    return rows).
    """

    def __init__(self, statement: Any, keys: Iterable[str] = ()) -> None:
        self.statement = statement
        self.keys = list(keys)  # an INSERT's columns (the statement names no values)
        self._compiled: dict[str, _Compiled] = {}
        self._last: tuple[Any, _Compiled | None] = (None, None)

    def compiled(self, dialect: Any) -> _Compiled:
        last_dialect, found = self._last
        if dialect is last_dialect and found is not None:  # the usual case: one engine
            return found
        key = f"{dialect.name}+{dialect.driver}"
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled.of(self, dialect)
        self._last = (dialect, found)
        return found


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # the bound parameters, in the order of a positional paramstyle
    fixed: dict[str, Any]  # constants: literal binds and scalar column defaults
    plan: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # each parameter, its converter
    row: type[tuple[Any, ...]] | None  # a named tuple of the returned columns
    readers: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def of(cls, prepared: Prepared, dialect: Any) -> _Compiled:
        statement = prepared.statement
        c: Any = statement.compile(dialect=dialect, column_keys=prepared.keys or None)
        if c.escaped_bind_names or any(b.expanding for b in c.bind_names):
            raise ValueError("a prepared statement takes plain bound parameters")
        fixed, types = {}, {}
        for bind, name in c.bind_names.items():
            types[name] = bind.type
            if not bind.required:
                fixed[name] = bind.effective_value
        for column in c.insert_prefetch:
            if column.default is None or not column.default.is_scalar:
                raise ValueError(f"a prepared insert needs a value for {column.key}")
            fixed[column.key], types[column.key] = column.default.arg, column.type
        names = tuple(c.positiontup if c.positional else types)
        plan = tuple(
            (name, types[name].dialect_impl(dialect).bind_processor(dialect)) for name in names
        )
        # what comes back: a DML statement's RETURNING (the dialect may add the primary key on
        # its own), a SELECT's columns, or the columns a text() statement declares
        columns = list(
            c.effective_returning
            if c.isinsert or c.isupdate or c.isdelete
            else getattr(statement, "exported_columns", ())
        )
        readers = tuple(
            (i, fn)
            for i, column in enumerate(columns)
            if (fn := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        )
        row = namedtuple("Row", [col.key for col in columns], rename=True) if columns else None
        return cls(c.string, c.positional, names, fixed, plan, row, readers)

    def parameters(self, params: dict[str, Any]) -> Any:
        values = {**self.fixed, **params} if self.fixed else params
        converted = [values[name] if fn is None else fn(values[name]) for name, fn in self.plan]
        return converted if self.positional else dict(zip(self.names, converted, strict=True))

    def parameters_many(self, rows: Iterable[dict[str, Any]]) -> list[Any]:
        """``parameters`` of many rows, each distinct value converted once: a bulk insert
        repeats its dates and times (and the transaction's ``now``) across rows. A value is
        the same if it is equal, of the same type and (datetimes) in the same zone."""
        memo: dict[tuple[Any, ...], Any] = {}
        converted = []
        for params in rows:
            values = {**self.fixed, **params} if self.fixed else params
            out = []
            for name, fn in self.plan:
                value = values[name]
                if fn is not None:
                    try:
                        key = (name, value, type(value), getattr(value, "tzinfo", None))
                        done = memo.get(key, _MISSING)
                        if done is _MISSING:
                            done = memo[key] = fn(value)
                    except TypeError:  # unhashable (an array)
                        done = fn(value)
                    value = done
                out.append(value)
            converted.append(out if self.positional else dict(zip(self.names, out, strict=True)))
        return converted

    def rows(self, cursor: Any, fetched: list[Any] | None = None) -> list[Any]:
        """The cursor's rows (or the ``fetched`` part of them), converted, as named tuples."""
        if self.row is None:
            if cursor.description is not None:  # a text() statement that names no columns
                raise ValueError("a prepared statement returning rows must declare its columns")
            return []
        rows = cursor.fetchall() if fetched is None else fetched
        if self.readers:
            rows = [list(r) for r in rows]
            for r in rows:
                for i, fn in self.readers:
                    r[i] = fn(r[i])
        new = tuple.__new__  # a named tuple built in C (its _make is Python)
        return [new(self.row, r) for r in rows]


def run(
    conn: Connection, prepared: Prepared, params: dict[str, Any] | None = None, driver: Any = None
) -> list[Any]:
    """Run a prepared statement on ``conn``'s driver connection (``driver``, if the caller
    already has it), in its transaction; its rows, as named tuples. Driver errors come out as
    SQLAlchemy's ``DBAPIError`` (the retry and the translation of errors see them as for any
    statement)."""
    compiled = prepared.compiled(conn.dialect)
    values = compiled.parameters(params or {})
    if driver is None:
        driver = conn.connection.driver_connection
    try:
        return compiled.rows(driver.execute(compiled.sql, values))
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, driver, compiled.sql, values, exc) from exc


def stream(
    conn: Connection, prepared: Prepared, params: dict[str, Any], driver: Any, size: int = 1000
) -> Iterator[list[Any]]:
    """``run``, its rows fetched and converted ``size`` at a time: a statement returning tens of
    thousands of rows (a big import's lock) never holds them all as Python objects."""
    compiled = prepared.compiled(conn.dialect)
    values = compiled.parameters(params)
    try:
        cursor = driver.execute(compiled.sql, values)
        while fetched := cursor.fetchmany(size):
            yield compiled.rows(cursor, fetched)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, driver, compiled.sql, values, exc) from exc


def run_many(
    conn: Connection, prepared: Prepared, rows: Iterable[dict[str, Any]], driver: Any = None
) -> None:
    """Run a prepared statement that returns nothing once per row of parameters, in one
    ``executemany`` of the driver (bulk inserts)."""
    compiled = prepared.compiled(conn.dialect)
    if compiled.row is not None:
        raise ValueError("run_many takes a statement that returns no rows")
    values = compiled.parameters_many(rows)
    if driver is None:
        driver = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.executemany(compiled.sql, values)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(conn, driver, compiled.sql, values, exc) from exc
    finally:
        cursor.close()


def _wrapped(conn: Connection, driver: Any, sql: str, values: Any, exc: Any) -> Any:
    """A driver error as SQLAlchemy's ``DBAPIError`` (the connection invalidated if lost)."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(exc, driver, None)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(
        sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


_DAYS = ("d0", "d1", "d2", "d3", "d4", "d5", "d6")
_WEEKS = CalendarWeek.__table__  # type: ignore[attr-defined]
_ACCOUNTS = Account.__table__  # type: ignore[attr-defined]
# One statement per kind of lock: ensure the rows, lock them in key order, (for weeks) add each
# key's increment to its stamp, and return what the transaction reads from them.
SQLITE_LOCK_ACCOUNTS = (
    sqlite_insert(_ACCOUNTS)
    .on_conflict_do_update(
        index_elements=["student_id"], set_={"balance_cents": _ACCOUNTS.c.balance_cents}
    )
    .returning(_ACCOUNTS.c.student_id, _ACCOUNTS.c.id)
)
_SQLITE_UPSERT_WEEK = sqlite_insert(_WEEKS)
SQLITE_LOCK_WEEKS = _SQLITE_UPSERT_WEEK.on_conflict_do_update(
    index_elements=["user_id", "week"],
    set_={"stamp": _WEEKS.c.stamp + _SQLITE_UPSERT_WEEK.excluded.stamp},
).returning(*(_WEEKS.c[name] for name in ("id", "user_id", "week", *_DAYS)))


# A few keys (a reserve: one account, two weeks) go as prepared statements: the account one
# row at a time (SQLite holds the one write lock since BEGIN IMMEDIATE, nothing can
# interleave), the weeks in one statement with a row of parameters per key.
FEW = 8
SQLITE_LOCK_ACCOUNT = Prepared(SQLITE_LOCK_ACCOUNTS, keys=("student_id", "balance_cents"))


@cache
def sqlite_lock_weeks(count: int) -> Prepared:
    """SQLITE_LOCK_WEEKS for ``count`` rows as one prepared statement (parameters ``u0, w0,
    b0, u1, …`` and ``empty``)."""
    rows = [
        {
            "user_id": bindparam(f"u{i}", type_=Integer),
            "week": bindparam(f"w{i}", type_=Date),
            "stamp": bindparam(f"b{i}", type_=Integer),
            **{day: bindparam("empty", type_=String) for day in _DAYS},
        }
        for i in range(count)
    ]
    upsert = sqlite_insert(_WEEKS).values(rows)
    return Prepared(
        upsert.on_conflict_do_update(
            index_elements=["user_id", "week"],
            set_={"stamp": _WEEKS.c.stamp + upsert.excluded.stamp},
        ).returning(*(_WEEKS.c[name] for name in ("id", "user_id", "week", *_DAYS)))
    )


@cache
def pg_statements() -> dict[str, Any]:
    """The PostgreSQL lock statements, built on first use (a SQLite run never imports the
    PostgreSQL dialect: start-up time)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    ints = ARRAY(Integer)
    return {
        "lock_accounts": Prepared(
            text(
                "INSERT INTO accounts (student_id, balance_cents) "
                "SELECT s, 0 FROM unnest(:students) AS s ORDER BY s "
                "ON CONFLICT (student_id) DO UPDATE SET balance_cents = accounts.balance_cents "
                "RETURNING student_id, id"
            )
            .bindparams(bindparam("students", type_=ints))
            .columns(student_id=Integer, id=Integer)
        ),
        "lock_weeks": Prepared(
            text(
                "INSERT INTO calendar_weeks AS c (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp) "
                "SELECT k.u, k.w, :empty, :empty, :empty, :empty, :empty, :empty, :empty, k.b "
                "FROM unnest(:users, :weeks, :bumps) AS k(u, w, b) ORDER BY k.u, k.w "
                "ON CONFLICT (user_id, week) DO UPDATE SET stamp = c.stamp + excluded.stamp "
                "RETURNING c.id, c.user_id, c.week, c.d0, c.d1, c.d2, c.d3, c.d4, c.d5, c.d6"
            )
            .bindparams(
                bindparam("users", type_=ints),
                bindparam("weeks", type_=ARRAY(Date)),
                bindparam("bumps", type_=ints),
                bindparam("empty", type_=String),
            )
            .columns(
                _WEEKS.c.id, _WEEKS.c.user_id, _WEEKS.c.week, *(_WEEKS.c[day] for day in _DAYS)
            )
        ),
    }


PG_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
)
ACCOUNTS_BY_ID = select(Account).where(col(Account.id).in_(bindparam("ids", expanding=True)))
INSERT_HISTORY = History.__table__.insert()  # type: ignore[attr-defined]
_HISTORY_KEYS = ("at", "actor", "command", "subject", "user_ids", "session_id", "details")
_H = History.__table__  # type: ignore[attr-defined]
# one history row, its id back (the links to its people name it)
INSERT_ONE_HISTORY = Prepared(INSERT_HISTORY.returning(_H.c.id), keys=_HISTORY_KEYS)
INSERT_HISTORY_USERS = Prepared(
    HistoryUser.__table__.insert().inline(),  # type: ignore[attr-defined]
    keys=("user_id", "history_id"),
)
USER_IDS_LENGTH = 2000  # history.user_ids holds the ids that fit; history_users holds them all


def user_ids_text(ids: list[int]) -> str:
    """``",5,12,"``: the people of a history row, as many as fit in the column (a big import
    names thousands; every one of them is linked in history_users)."""
    text = ","
    for u in ids:
        piece = f"{u},"
        if len(text) + len(piece) > USER_IDS_LENGTH:
            break
        text += piece
    return text


def _split_user_ids(text: str) -> list[int]:
    return [int(u) for u in text.strip(",").split(",") if u]


SETTINGS_QUERY = Prepared(
    text(
        "SELECT (SELECT max(version) FROM tutorctl_schema) AS version, s.timezone, s.slot_minutes, "
        "s.currency, s.hold_minutes, s.payment_minutes, s.cancel_notice_hours, s.min_notice_hours "
        "FROM (SELECT 1 AS one) AS o LEFT JOIN settings AS s ON s.id = 1"
    ).columns(  # typed result columns: SQLAlchemy then caches how to read the rows
        version=Integer,
        timezone=String,
        slot_minutes=Integer,
        currency=String,
        hold_minutes=Integer,
        payment_minutes=Integer,
        cancel_notice_hours=Integer,
        min_notice_hours=Integer,
    )
)
WEEK_ROWS_BY_ID = (
    select(CalendarWeek)
    .where(col(CalendarWeek.id).in_(bindparam("ids", expanding=True)))
    .execution_options(populate_existing=True)
)
RETRYABLE_PG_CODES = {"40001", "40P01", "55P03", "23505"}
WeekKey = tuple[int, date]
STATS = {"retries": 0}  # per process: transactions re-run after a deadlock, conflict or busy db


@dataclass(frozen=True)
class SchoolSettings:
    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int

    @cached_property
    def zone(self) -> ZoneInfo:
        return load_zone(self.timezone)

    @cached_property
    def grid(self) -> SlotGrid:
        return SlotGrid(self.slot_minutes)

    def empty_day(self) -> str:
        return "0" * self.grid.slots_per_day


class LockedWeeks:
    """The locked calendar weeks: ``key → id`` and each day's availability, read by the lock.

    ORM rows (for services that change availability) load on first use: a big import locks
    tens of thousands of weeks and a reserve only reads two days, neither needs ORM objects.
    """

    def __init__(self, session: Callable[[], Session]) -> None:
        self._session = session
        self.ids: dict[WeekKey, int] = {}
        self._days: dict[WeekKey, tuple[str, ...]] = {}
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._rows: dict[WeekKey, CalendarWeek] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: WeekKey) -> CalendarWeek:
        """The ORM row (loaded on first use, fresh from the database), for a service that
        changes it."""
        row = self._rows.get(key)
        if row is None:
            params = {"ids": [self.ids[key]]}
            row = self._rows[key] = self._session().exec(WEEK_ROWS_BY_ID, params=params).one()
        return row

    def availability(self, key: WeekKey, day: int) -> str:
        """One day's availability string of a locked week (as changed in this transaction)."""
        row = self._rows.get(key)
        return getattr(row, f"d{day}") if row is not None else self._days[key][day]

    def take(self, rows: Iterable[Any]) -> None:
        """Take ``(id, user_id, week, d0 … d6)`` rows read by the lock itself."""
        shared = self._shared
        for row in rows:
            key = (row[1], row[2])
            self.ids[key] = row[0]
            # one object per distinct week of availability (most repeat: a big import locks
            # tens of thousands of weeks, mostly empty or alike)
            days = tuple(row[3:10])
            self._days[key] = shared.setdefault(days, days)


@dataclass
class Tx:
    """What a service gets: the connection of this one transaction and its context.

    ``conn`` runs Core statements (the hot paths); ``session`` is an ORM session on the same
    connection and transaction, created on first use.
    """

    conn: Connection
    settings: SchoolSettings
    now: datetime
    actor: str
    command: str
    writable: bool
    dialect: str
    locked_weeks: LockedWeeks = field(init=False)
    locked_account_ids: dict[int, int] = field(default_factory=dict)  # student id → account id
    _accounts: dict[int, Account] | None = None
    _accounts_locked: bool = False
    _weeks_locked: bool = False
    _audits: list[dict[str, Any]] = field(default_factory=list)
    _audit_users: list[list[int]] = field(default_factory=list)  # the people of each audit
    _audited_in_sql: bool = False  # history rows written set-based (audit_from)
    _unchanged: bool = False  # the mutation changed nothing: no history row
    _discard: bool = False

    def __post_init__(self) -> None:
        self.locked_weeks = LockedWeeks(lambda: self.session)

    @cached_property
    def _driver(self) -> Any:
        """The driver's connection under ``conn`` (prepared statements run on it)."""
        return self.conn.connection.driver_connection

    @cached_property
    def session(self) -> Session:
        return Session(bind=self.conn, autoflush=True, expire_on_commit=False)

    @property
    def orm(self) -> Session:
        return self.session  # the ORM session: services name it ``tx.orm``

    def accounts(self) -> dict[int, Account]:
        """The locked accounts as ORM rows (student id → account), loaded in one query."""
        if self._accounts is None:
            ids = list(self.locked_account_ids.values())
            rows: Iterable[Account] = (
                self.session.exec(ACCOUNTS_BY_ID, params={"ids": ids}) if ids else []
            )
            self._accounts = {row.student_id: row for row in rows}
        return self._accounts

    def discard(self) -> None:
        """Roll everything back at the end instead of committing (a dry run)."""
        self._discard = True

    @property
    def today(self) -> date:
        return self.now.astimezone(self.settings.zone).date()

    def lock(
        self,
        weeks: Iterable[WeekKey] = (),
        accounts: Iterable[int] = (),
        read_weeks: Iterable[WeekKey] = (),
    ) -> None:
        """Lock student accounts (by student id), then calendar weeks, each sorted in one statement.

        ``weeks`` are touched (their stamps go up); ``read_weeks`` are locked in the same
        statement so what is read from them stays true, but their stamps do not move.
        The order is global — accounts before weeks — so locks never form a cycle. Accounts may
        be locked first on their own (a student's account also serialises their sessions), then
        the weeks found under that lock; each kind is locked once. A later call may name only
        keys already locked (composed services re-asserting their locks).
        """
        if not self.writable:
            raise RuntimeError("lock() in a read-only transaction")
        touched = set(weeks)
        week_keys = sorted(touched | set(read_weeks))
        students = sorted(set(accounts))
        new_students = [s for s in students if s not in self.locked_account_ids]
        new_weeks = [k for k in week_keys if k not in self.locked_weeks]
        if new_students and (self._accounts_locked or self._weeks_locked):
            raise RuntimeError(f"accounts {new_students} must be locked first, in one call")
        if new_weeks and self._weeks_locked:
            raise RuntimeError(f"weeks {new_weeks[:5]} must be locked in the one week lock")
        if new_students or new_weeks:
            self.flush()  # Core statements below must see the ORM writes made so far
        if new_students:
            self._accounts_locked = True
            self._lock_accounts(new_students)
        if new_weeks:
            self._weeks_locked = True
            self._lock_weeks(new_weeks, touched)

    def _lock_accounts(self, students: list[int]) -> None:
        """Ensure and lock the accounts of ``students`` (sorted) in one upsert, ids returned.

        The no-op ``DO UPDATE`` is what takes the row lock on PostgreSQL (in the order of the
        sorted keys) and makes both new and existing rows come back.
        """
        rows: Iterable[Any]
        if self.dialect == "postgresql":
            rows = self.run(pg_statements()["lock_accounts"], {"students": students})
        elif len(students) <= FEW:
            rows = [
                row
                for s in students
                for row in self.run(SQLITE_LOCK_ACCOUNT, {"student_id": s, "balance_cents": 0})
            ]
        else:
            values = [{"student_id": s, "balance_cents": 0} for s in students]
            rows = self.conn.execute(SQLITE_LOCK_ACCOUNTS, values)
        self.locked_account_ids = {student: account for student, account in rows}

    def _lock_weeks(self, keys: list[WeekKey], touched: set[WeekKey]) -> None:
        """Ensure, lock and read the rows of ``keys`` (sorted), bump the stamps of ``touched``.

        One upsert whatever the number of keys: new rows come in with stamp 1 if touched (0 if
        only read), existing ones get ``stamp + 1`` (or ``+ 0``), and every row comes back with
        its id and availability. PostgreSQL: the keys go as three arrays through
        ``unnest(…) ORDER BY user_id, week``, so rows are locked in key order. SQLite already
        holds the one write lock since ``BEGIN IMMEDIATE`` and runs it in chunks. Statements
        are built once with bound parameters: a reserve locks two weeks, and building SQL per
        call cost more than running it.
        """
        empty = self.settings.empty_day()
        if self.dialect == "postgresql":
            arrays = {
                "users": [u for u, _ in keys],
                "weeks": [w for _, w in keys],
                "bumps": [int(key in touched) for key in keys],
                "empty": empty,
            }
            for rows in stream(self.conn, pg_statements()["lock_weeks"], arrays, self._driver):
                self.locked_weeks.take(rows)
            return
        if len(keys) <= FEW:
            params: dict[str, Any] = {"empty": empty}
            for i, (u, w) in enumerate(keys):
                params.update({f"u{i}": u, f"w{i}": w, f"b{i}": int((u, w) in touched)})
            self.locked_weeks.take(self.run(sqlite_lock_weeks(len(keys)), params))
            return
        days = dict.fromkeys(_DAYS, empty)
        for start in range(0, len(keys), CHUNK):
            values = [
                {"user_id": u, "week": w, "stamp": int((u, w) in touched), **days}
                for u, w in keys[start : start + CHUNK]
            ]
            self.locked_weeks.take(self.conn.execute(SQLITE_LOCK_WEEKS, values))

    def allocate_ids(self, model: Any, count: int) -> list[int]:
        """``count`` fresh primary keys for a bulk insert with explicit ids (no RETURNING)."""
        if count == 0:
            return []
        self.flush()
        if self.dialect == "postgresql":
            rows = self.conn.execute(PG_NEXT_IDS, {"table": model.__tablename__, "n": count})
            return [int(r[0]) for r in rows]
        table = model.__table__
        first = (
            int(self.conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
        )
        return list(range(first, first + count))  # SQLite: one writer holds BEGIN IMMEDIATE

    def audit(
        self,
        subject: str,
        *,
        users: Iterable[int] = (),
        session_id: int | None = None,
        **details: Any,
    ) -> None:
        """Record what this mutation changed (history is append-only)."""
        ids = sorted({u for u in users if u is not None})
        self._audits.append(
            {
                "at": self.now,
                "actor": self.actor,
                "command": self.command,
                "subject": subject[:200],
                "user_ids": user_ids_text(ids),
                "session_id": session_id,
                "details": json.dumps(details, default=str, sort_keys=True),
            }
        )
        self._audit_users.append(ids)

    def audit_from(self, rows: Any) -> None:
        """Record one history row per row of ``rows``, set-based: a Core SELECT of
        ``subject, user_ids, session_id, details`` (as ``audit`` would build them; this
        transaction's time, actor and command are added). The links to their people come
        back with the new rows (``RETURNING``) and go in with one ``executemany``."""
        columns = [
            literal(self.now, _H.c.at.type).label("at"),
            literal(self.actor[:200]).label("actor"),
            literal(self.command).label("command"),
            *rows.selected_columns,
        ]
        added = self.execute(
            INSERT_HISTORY.from_select(
                list(_HISTORY_KEYS), rows.with_only_columns(*columns)
            ).returning(_H.c.id, _H.c.user_ids)
        ).all()
        self._link_users((history_id, _split_user_ids(text)) for history_id, text in added)
        self._audited_in_sql = True

    def _link_users(self, rows: Iterable[tuple[int, list[int]]]) -> None:
        """history_users rows for (history id, its people), in one ``executemany``."""
        links = [{"user_id": u, "history_id": h} for h, users in rows for u in users]
        if links:
            self.run_many(INSERT_HISTORY_USERS, links)

    def unchanged(self) -> None:
        """This mutation changed nothing: it leaves no history row (cron's empty runs)."""
        self._unchanged = True

    def finish(self) -> None:
        """Flush the service's ORM writes, then append the history rows (called by the unit of work)."""
        if not self._audits:
            if self._audited_in_sql or self._unchanged:
                self.flush()
                return
            self.audit(self.command)
        self.flush()
        if len(self._audits) == 1:
            ((history_id,),) = self.run(INSERT_ONE_HISTORY, self._audits[0])
            ids = [history_id]
        else:
            ids = list(
                self.conn.execute(
                    INSERT_HISTORY.returning(_H.c.id, sort_by_parameter_order=True), self._audits
                ).scalars()
            )
        self._link_users(zip(ids, self._audit_users, strict=True))

    def one_of(self, column: Any, values: Iterable[Any]) -> Any:
        """``column IN (values)`` for a long list: one array parameter on PostgreSQL
        (``= ANY(…)``; an IN list of a thousand placeholders is parsed again on every run),
        an IN list on SQLite."""
        values = list(values)
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
        return column.in_(values)

    def execute(self, statement: Any, params: Any = None) -> Any:
        """Run a Core statement on this transaction's connection, after any pending ORM writes."""
        self.flush()
        return self.conn.execute(statement, params)

    def run(self, prepared: Prepared, params: dict[str, Any] | None = None) -> list[Any]:
        """Run a prepared statement in this transaction, after any pending ORM writes."""
        self.flush()
        return run(self.conn, prepared, params, self._driver)

    def run_many(self, prepared: Prepared, rows: Iterable[dict[str, Any]]) -> None:
        """Run a prepared statement once per row of parameters (one ``executemany``), after
        any pending ORM writes."""
        self.flush()
        run_many(self.conn, prepared, rows, self._driver)

    def flush(self) -> None:
        """Send pending ORM writes, if an ORM session was used (before Core statements)."""
        if "session" in self.__dict__:
            self.session.flush()


class Database:
    """A database URL plus the clock and actor of the running command."""

    def __init__(
        self,
        url: str,
        clock: Clock | None = None,
        actor: str = "unknown",
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> None:
        self.url = url
        self.clock = clock or Clock()
        self.actor = actor
        self.lock_timeout = lock_timeout  # seconds one attempt waits for a lock
        self._engines: dict[bool, tuple[Any, Any]] = {}  # writable → (engine, with options)

    @property
    def engine(self) -> Any:
        return get_engine(self.url, self.lock_timeout)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    # -- public entry points -------------------------------------------------------------

    def read(self, fn: Callable[[Tx], T], command: str = "read") -> T:
        return self._run(fn, command=command, writable=False)

    def write(self, command: str, fn: Callable[[Tx], T]) -> T:
        return self._run(fn, command=command, writable=True)

    def inspect(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a plain read-only connection, before any schema check (``demo``
        looks at what a database holds before it writes anything); errors as for commands."""
        return self._attempt(fn, writable=False)

    def init_schema(self, fn: Callable[[Tx], T]) -> tuple[int | None, int, T]:
        """Create or upgrade the schema, then run ``fn`` (storing settings) in one transaction."""

        def body(conn: Connection) -> tuple[int | None, int, T]:
            before, after = migrations.migrate(conn, self.clock.now())
            tx = self._tx(conn, "db init", writable=True, check=False)
            result = fn(tx)
            tx.finish()
            return before, after, result

        return self._attempt(body, writable=True)

    # -- machinery -----------------------------------------------------------------------

    def _run(self, fn: Callable[[Tx], T], *, command: str, writable: bool) -> T:
        def body(conn: Connection) -> T:
            tx = self._tx(conn, command, writable=writable, check=True)
            result = fn(tx)
            if writable:
                tx.finish()
            if tx._discard:
                raise _Discarded(result)
            return result

        try:
            return self._attempt(body, writable=writable)
        except _Discarded as discarded:
            return cast(T, discarded.result)

    def _attempt(self, body: Callable[[Connection], T], *, writable: bool) -> T:
        """Run ``body`` in one transaction; re-run all of it after a deadlock, serialization
        failure, unique violation or lock wait that timed out, with jitter.

        Each attempt waits at most ``lock_timeout`` for any one lock (the engine's setting).
        Retries stop after MAX_ATTEMPTS or when the time budget — twice the lock timeout, at
        least a second — would be overrun: a new attempt starts only while half a timeout of
        the budget is left. So a lock held for good costs about 2 × lock_timeout (20 s by
        default, ~1 s with ``--lock-timeout 0.2``) and ends in exit 5, never an endless wait.
        """
        wait = self.lock_timeout
        deadline = time.monotonic() + max(2 * wait, MIN_LOCK_BUDGET)
        last: Exception | None = None
        attempts = 0
        while True:
            attempts += 1
            try:
                with self._connect(writable) as conn, conn.begin():
                    return body(conn)
            except DBAPIError as exc:
                if not self._retryable(exc):
                    raise self._translate(exc) from None
                last = exc
            pause = random.uniform(0, min(0.5, 0.005 * 2 ** (attempts - 1)))
            if attempts >= MAX_ATTEMPTS or time.monotonic() + pause + wait / 2 >= deadline:
                break
            STATS["retries"] += 1
            time.sleep(pause)
        detail = scrub(str(getattr(last, "orig", last)).strip().splitlines()[0], self.url)
        raise LockError(
            f"the database is busy: could not get the lock after {attempts} attempt(s) "
            f"with --lock-timeout {wait:g} ({detail}); try again"
        )

    def _connect(self, writable: bool) -> Connection:
        try:
            return self._engine_for(writable).connect()  # type: ignore[no-any-return]
        except DBAPIError as exc:
            if self._retryable(exc):  # SQLite: a PRAGMA of a new connection met a busy file
                raise
            reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else "", self.url)
            raise ConfigError(
                f"cannot connect to the database {mask_url(self.url)}: {reason}"
            ) from None

    def _engine_for(self, writable: bool) -> Any:
        """The engine with this kind of transaction's options (writes: BEGIN IMMEDIATE on
        SQLite; reads on PostgreSQL: a read-only REPEATABLE READ snapshot), made once per
        engine — not branched off every connection."""
        base = self.engine
        made = self._engines.get(writable)
        if made is None or made[0] is not base:  # first use, or a new engine after a fork
            options: dict[str, Any] = {WRITE_OPTION: writable}
            if base.dialect.name == "postgresql" and not writable:
                options["isolation_level"] = "REPEATABLE READ"
                options["postgresql_readonly"] = True
            made = self._engines[writable] = (base, base.execution_options(**options))
        return made[1]

    def _tx(self, conn: Connection, command: str, *, writable: bool, check: bool) -> Tx:
        return Tx(
            conn=conn,
            settings=self._load_settings(conn, check=check),
            now=self.clock.now(),
            actor=self.actor,
            command=command,
            writable=writable,
            dialect=self.dialect,
        )

    def _load_settings(self, conn: Connection, *, check: bool) -> SchoolSettings:
        """The schema version and the school settings, in one statement."""
        not_initialised = ConfigError(
            f"the database {mask_url(self.url)} is not initialised: run `tutorctl db init`"
        )
        try:
            (row,) = run(conn, SETTINGS_QUERY)
        except (OperationalError, ProgrammingError):
            if check:
                raise not_initialised from None
            raise
        version, values = row[0], tuple(row[1:])
        if check:
            if version is None:
                raise not_initialised
            if version < migrations.SCHEMA_VERSION:
                raise ConfigError(
                    f"the database schema is version {version}, older than this tutorctl "
                    f"({migrations.SCHEMA_VERSION}): run `tutorctl db init` to upgrade"
                )
            if version > migrations.SCHEMA_VERSION:
                raise ConfigError(
                    f"the database schema is version {version}, newer than this tutorctl "
                    f"({migrations.SCHEMA_VERSION}): upgrade tutorctl"
                )
        if values[0] is None:
            if check:
                raise not_initialised
            return DEFAULT_SETTINGS
        settings = _SETTINGS.get(values)
        if settings is None:  # one object per distinct settings: its zone and grid are cached
            settings = _SETTINGS[values] = SchoolSettings(*values)
        return settings

    def _retryable(self, exc: DBAPIError) -> bool:
        orig = exc.orig
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code in RETRYABLE_PG_CODES:
            return True
        message = str(orig).lower()
        return "database is locked" in message or "database is busy" in message

    def _translate(self, exc: DBAPIError) -> Exception:
        code = getattr(exc.orig, "sqlstate", None)
        if code == "23P01":  # the PostgreSQL exclusion backstop
            return RuleError(
                "refused by the database: that would double-book a person (no_double_booking)"
            )
        reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc), self.url)
        return ConfigError(f"database error on {mask_url(self.url)}: {reason}")


class _Discarded(Exception):
    """Carries a dry run's result out of its transaction, which then rolls back."""

    def __init__(self, result: object) -> None:
        super().__init__("discarded")
        self.result = result


_SETTINGS: dict[tuple[Any, ...], SchoolSettings] = {}

DEFAULT_SETTINGS = SchoolSettings(
    timezone="Europe/Paris",
    slot_minutes=60,
    currency="EUR",
    hold_minutes=20,
    payment_minutes=30,
    cancel_notice_hours=24,
    min_notice_hours=0,
)

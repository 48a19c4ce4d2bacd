"""The unit of work: the one primitive every mutation (and every read) goes through.

``Database.write(command, fn)`` runs ``fn(tx)`` in one transaction:

1. begin — SQLite: ``BEGIN IMMEDIATE`` (one writer at a time, WAL, busy timeout);
   PostgreSQL: READ COMMITTED;
2. load the school settings and check the schema version, in one statement (exit 4 if
   missing or old; ``settings.py``); on PostgreSQL the transaction's lock timeout is set in
   the same round trip;
3. ``fn`` reads what it needs to know which rows it touches, then calls ``tx.lock(...)`` once:
   the student accounts, then the calendar weeks — one upsert each that ensures the rows,
   locks them in key order, bumps the week stamps and returns what the transaction reads
   (``locks.py``);
4. ``fn`` checks and writes, never commits; the typed events it recorded become their history
   rows (``events.py``, ``audit.py``) and messages (``outbox.py``); commit.

A deadlock, serialization failure, unique violation or busy database re-runs the whole
function (bounded, with jitter) and is reported as exit 5 when retries are exhausted; an
exception anywhere rolls everything back. This module keeps the transaction, its retries and
the order of its locks; the rest of db/ does the work.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, TypeVar, cast, overload

from sqlalchemy import Connection, Result, bindparam
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from tutorctl.core.clock import Clock
from tutorctl.core.config import mask_url, scrub
from tutorctl.core.errors import ConfigError, LockError
from tutorctl.core.events import Event
from tutorctl.core.settings import SchoolSettings
from tutorctl.db import audit, errors, events, identity, ids, locks, migrations
from tutorctl.db.engine import DEFAULT_LOCK_TIMEOUT, create_sqlite_file, engine_for, get_engine
from tutorctl.db.locks import LockedWeeks, WeekKey
from tutorctl.db.prepared import Prepared, one_of, run, run_many, stream
from tutorctl.db.schema import Account
from tutorctl.db.settings import load, settings_of

T = TypeVar("T")

MAX_ATTEMPTS = 12
MIN_LOCK_BUDGET = 1.0  # seconds: even --lock-timeout 0 retries a deadlock for a moment
STATS = {"retries": 0}  # per process: transactions re-run after a deadlock, conflict or busy db

ACCOUNTS_BY_ID = select(Account).where(col(Account.id).in_(bindparam("ids", expanding=True)))


@dataclass
class Tx:
    """What a service gets: one transaction and its context (``settings``, ``now``, ``today``,
    ``actor``, ``command``).

    The data-access vocabulary — the only names services use to reach the database:

    - ``tx.orm``: the ORM session (SQLModel) on this transaction's connection, created on first
      use: ``tx.orm.get(Model, id)``, ``tx.orm.add(row)``, ``tx.orm.exec(select(...))``;
    - ``tx.run(statement, params)``: a Core statement. A ``Prepared`` one (the hot paths,
      compiled once, run on the driver's cursor) returns its rows as named tuples; any other
      returns SQLAlchemy's ``Result`` (a list of parameter dicts: an ``executemany``);
    - ``tx.run_many(prepared, rows)``: a prepared statement once per row, one ``executemany``;
    - ``tx.stream(prepared, params)``: a prepared statement's rows, a batch at a time;
    - ``tx.lock(...)``, ``tx.locked_weeks``, ``tx.locked_account_ids``, ``tx.accounts()``:
      the row locks; ``tx.record(event)``: a typed event, whence its history rows and its
      messages; ``tx.audit(...)``: a history row of a kind with no event yet; ``tx.one_of``: a
      long IN list; ``tx.allocate_ids``: ids for a bulk insert.

    Core statements name their tables through ``db/tables.py``, the ORM through the models of
    ``db/schema.py``. A Core statement first flushes pending ORM writes, so it sees them; the
    cached ORM rows it writes, or that new locks guard, are read again (``identity.py``).
    ``tx.conn`` is for db/ itself."""

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
    _history: audit.AuditLog = field(default_factory=audit.AuditLog)
    _events: list[Event] = field(default_factory=list)
    _discard: bool = False

    def __post_init__(self) -> None:
        self.locked_weeks = LockedWeeks(lambda: self.orm)

    @cached_property
    def _driver(self) -> Any:
        """The driver's connection under ``conn`` (prepared statements run on it)."""
        return self.conn.connection.driver_connection

    @cached_property
    def orm(self) -> Session:
        """The ORM session on this transaction's connection (created on first use)."""
        return Session(bind=self.conn, autoflush=True, expire_on_commit=False)

    @property
    def today(self) -> date:
        return self.now.astimezone(self.settings.zone).date()

    def discard(self) -> None:
        """Roll everything back at the end instead of committing (a dry run)."""
        self._discard = True

    @overload
    def run(self, statement: Prepared, params: dict[str, Any] | None = None) -> list[Any]: ...

    @overload
    def run(self, statement: Any, params: Any = None) -> Result[*tuple[Any, ...]]: ...

    def run(self, statement: Any, params: Any = None) -> Any:
        """Run a Core statement in this transaction, after any pending ORM writes: a
        ``Prepared`` one's rows as named tuples, any other's ``Result``."""
        self.flush()
        rows: Any
        if isinstance(statement, Prepared):
            rows = run(self.conn, statement, params, self._driver)
        else:
            rows = self.conn.execute(statement, params)
        if "orm" in self.__dict__:
            identity.after_write(self.orm, getattr(statement, "statement", statement))
        return rows

    def run_many(self, prepared: Prepared, rows: Iterable[dict[str, Any]]) -> None:
        """Run a prepared statement once per row of parameters (one ``executemany``), after
        any pending ORM writes."""
        self.flush()
        run_many(self.conn, prepared, rows, self._driver)

    def stream(
        self, prepared: Prepared, params: dict[str, Any], size: int = 1000
    ) -> Iterator[list[Any]]:
        """Run a prepared statement, its rows ``size`` at a time (after pending ORM writes)."""
        self.flush()
        return stream(self.conn, prepared, params, self._driver, size)

    def flush(self) -> None:
        """Send pending ORM writes, if the ORM session was used (before Core statements)."""
        if "orm" in self.__dict__:
            self.orm.flush()

    def one_of(self, column: Any, values: Iterable[Any]) -> Any:
        """``column IN (values)`` for a long list (``prepared.one_of``)."""
        return one_of(self.dialect, column, values)

    def allocate_ids(self, model: Any, count: int) -> list[int]:
        """``count`` fresh primary keys for a bulk insert with explicit ids (no RETURNING)."""
        return ids.allocate_ids(self, model, count)

    # -- locks ---------------------------------------------------------------------------

    def lock(
        self,
        weeks: Iterable[WeekKey] = (),
        accounts: Iterable[int] = (),
        read_weeks: Iterable[WeekKey] = (),
    ) -> None:
        """Lock student accounts (by student id), then calendar weeks, each sorted in one statement.

        ``weeks`` are touched (their stamps go up); ``read_weeks`` are locked in the same
        statement so what is read from them stays true, but their stamps do not move. The order
        is global — accounts before weeks — so locks never form a cycle. Accounts may be locked
        first on their own (a student's account also serialises their sessions), then the weeks
        found under that lock; each kind is locked once. A later call may name only keys already
        locked (composed services re-asserting their locks)."""
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
            self.locked_account_ids = locks.lock_accounts(self, new_students)
        if new_weeks:
            self._weeks_locked = True
            self._lock_weeks(new_weeks, touched)
        if (new_students or new_weeks) and "orm" in self.__dict__:
            identity.after_lock(self.orm)  # rows read before the lock are read again

    def _lock_weeks(self, keys: list[WeekKey], touched: set[WeekKey]) -> None:
        locks.lock_weeks(self, keys, touched)

    def accounts(self) -> dict[int, Account]:
        """The locked accounts as ORM rows (student id → account), loaded in one query."""
        if self._accounts is None:
            account_ids = list(self.locked_account_ids.values())
            rows: Iterable[Account] = (
                self.orm.exec(ACCOUNTS_BY_ID, params={"ids": account_ids}) if account_ids else []
            )
            self._accounts = {row.student_id: row for row in rows}
        return self._accounts

    # -- history -------------------------------------------------------------------------

    def audit(
        self,
        subject: str,
        *,
        users: Iterable[int] = (),
        session_id: int | None = None,
        **details: Any,
    ) -> None:
        """Record what this mutation changed (history is append-only)."""
        self._history.add(self, subject, users, session_id, **details)

    def unchanged(self) -> None:
        """This mutation changed nothing: it leaves no history row (cron's empty runs)."""
        self._history.unchanged = True

    def record(self, event: Event) -> None:
        """Record a typed event of this change (``core/events.py``): its history rows
        (``events.py``, in the order recorded) and, at commit, its messages (``outbox.py``)."""
        events.write_history(self, self._history, event)
        self._events.append(event)

    def finish(self) -> None:
        """Flush the service's ORM writes, then write the history rows and the messages of the
        recorded events (called by the unit of work)."""
        events.finish(self, self._history, self._events)


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

    def maintain(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a plain writable connection, no schema check (``db grant``)."""
        return self._plain(fn, writable=True)

    def inspect(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` on a plain read-only connection, before any schema check (``demo``
        looks at what a database holds before it writes anything); errors as for commands."""
        return self._plain(fn, writable=False)

    def _plain(self, fn: Callable[[Connection], T], *, writable: bool) -> T:
        def body(conn: Connection) -> T:
            errors.begin(conn, self.lock_timeout)  # the lock timeout, with no settings query
            return fn(conn)

        return self._attempt(body, writable=writable)

    def init_schema(
        self, fn: Callable[[Tx], T], command: str = "db init"
    ) -> tuple[int | None, int, T]:
        """Create or upgrade the schema, then run ``fn`` (storing settings) in one transaction;
        its history is ``command``'s (``demo`` initialises under its own name). The one
        command, with ``demo``, that may create a SQLite file; on PostgreSQL it needs the owner
        of the schema."""
        create_sqlite_file(self.url)

        def body(conn: Connection) -> tuple[int | None, int, T]:
            errors.begin(conn, self.lock_timeout)
            errors.require_owner(conn)
            before, after = migrations.migrate(conn, self.clock.now())
            tx = self._tx(conn, command, writable=True, check=False)
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

        Each attempt waits at most ``lock_timeout`` for any one lock (SQLite's busy timeout;
        PostgreSQL's ``SET LOCAL lock_timeout``, sent with the first statement).
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
                if not errors.retryable(exc):
                    raise errors.translate(exc, self.url, self.engine) from None
                last = exc
            except errors.Conflict as exc:
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
            return engine_for(self.url, self.lock_timeout, writable).connect()
        except DBAPIError as exc:
            if errors.retryable(exc):  # SQLite: a PRAGMA of a new connection met a busy file
                raise
            reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else "", self.url)
            raise ConfigError(
                f"cannot connect to the database {mask_url(self.url)}: {reason}"
            ) from None

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
        """The schema version and the school settings, in one statement. Its errors are any
        statement's (``errors.translate``): a missing table means "not initialised" only when
        the catalog says the schema is absent."""
        return settings_of(load(conn, self.lock_timeout), self.url, check=check)


class _Discarded(Exception):
    """Carries a dry run's result out of its transaction, which then rolls back."""

    def __init__(self, result: object) -> None:
        super().__init__("discarded")
        self.result = result

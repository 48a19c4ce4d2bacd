"""The unit of work: the one primitive every mutation (and every read) goes through.

``Database.write(command, fn)`` runs ``fn(tx)`` in one transaction:

1. begin — SQLite: ``BEGIN IMMEDIATE`` (one writer at a time, WAL, busy timeout);
   PostgreSQL: READ COMMITTED;
2. load the school settings and check the schema version (exit 4 if missing or old);
3. ``fn`` reads what it needs to know which rows it touches, then calls ``tx.lock(...)`` once:
   the student accounts (ensured, then ``SELECT … ORDER BY id FOR UPDATE``), then the
   calendar weeks (ensured with ``INSERT … ON CONFLICT DO NOTHING`` in key order, then
   ``SELECT … ORDER BY user_id, week FOR UPDATE``, stamps incremented) — one statement each;
4. ``fn`` checks and writes, never commits; history rows are appended; commit.

A deadlock, serialization failure, unique violation or busy database re-runs the whole
function (bounded, with jitter) and is reported as exit 5 when retries are exhausted; an
exception anywhere rolls everything back. This is the only module that knows these details.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Date, Integer, String, bindparam, text, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlmodel import Session, col, func, select

from tutorctl.core.clock import Clock
from tutorctl.core.config import mask_url, scrub
from tutorctl.core.errors import ConfigError, LockError, RuleError
from tutorctl.core.timegrid import SlotGrid, load_zone
from tutorctl.db import migrations
from tutorctl.db.engine import WRITE_OPTION, get_engine
from tutorctl.db.schema import Account, CalendarWeek, History, SchemaVersion, Settings

T = TypeVar("T")

MAX_ATTEMPTS = 12
CHUNK = 400  # keys per statement where SQLite reads in chunks (it holds the write lock anyway)

_KEY_ARRAYS = (bindparam("users", type_=ARRAY(Integer)), bindparam("weeks", type_=ARRAY(Date)))
PG_ENSURE_WEEKS = text(
    "INSERT INTO calendar_weeks (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp) "
    "SELECT k.u, k.w, :empty, :empty, :empty, :empty, :empty, :empty, :empty, 0 "
    "FROM unnest(:users, :weeks) AS k(u, w) ORDER BY k.u, k.w "
    "ON CONFLICT (user_id, week) DO NOTHING"
).bindparams(*_KEY_ARRAYS, bindparam("empty", type_=String))
SQLITE_ENSURE_WEEK = sqlite_insert(CalendarWeek.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
    index_elements=["user_id", "week"]
)
PG_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
)
PG_LOCK_WEEKS = text(
    "SELECT c.id, c.user_id, c.week FROM calendar_weeks AS c "
    "JOIN unnest(:users, :weeks) AS k(u, w) ON c.user_id = k.u AND c.week = k.w "
    "ORDER BY c.user_id, c.week FOR UPDATE OF c"
).bindparams(*_KEY_ARRAYS)
SCHEMA_VERSION_QUERY = select(func.max(col(SchemaVersion.version)))
SQLITE_ENSURE_ACCOUNT = sqlite_insert(Account.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
    index_elements=["student_id"]
)
PG_ENSURE_ACCOUNT = pg_insert(Account.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
    index_elements=["student_id"]
)
LOCK_ACCOUNTS = (
    select(Account)
    .where(col(Account.student_id).in_(bindparam("students", expanding=True)))
    .order_by(col(Account.id))
    .with_for_update()
)
_WEEKS = CalendarWeek.__table__  # type: ignore[attr-defined]
_WEEK_KEY = tuple_(col(CalendarWeek.user_id), col(CalendarWeek.week))
BUMP_STAMPS = (
    update(_WEEKS)
    .where(_WEEKS.c.id.in_(bindparam("ids", expanding=True)))
    .values(stamp=_WEEKS.c.stamp + 1)
)
SQLITE_BUMP_STAMPS = (
    update(_WEEKS)
    .where(_WEEK_KEY.in_(bindparam("keys", expanding=True)))
    .values(stamp=_WEEKS.c.stamp + 1)
)
SQLITE_WEEK_IDS = select(
    col(CalendarWeek.id), col(CalendarWeek.user_id), col(CalendarWeek.week)
).where(_WEEK_KEY.in_(bindparam("keys", expanding=True)))
SQLITE_WEEK_ROWS = (
    select(CalendarWeek)
    .where(_WEEK_KEY.in_(bindparam("keys", expanding=True)))
    .execution_options(populate_existing=True)
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
    """The locked calendar weeks: ``key → id`` from the lock, ORM rows loaded on first use.

    A big import locks tens of thousands of weeks; loading them all as ORM objects would cost
    time and memory it does not need, so rows load on demand (``preload`` loads many at once).
    """

    def __init__(self, session: Session) -> None:
        self._session = session
        self.ids: dict[WeekKey, int] = {}
        self._rows: dict[WeekKey, CalendarWeek] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: WeekKey) -> CalendarWeek:
        row = self._rows.get(key)
        if row is None:
            self.preload([key])
            row = self._rows[key]
        return row

    def preload(self, keys: Iterable[WeekKey]) -> None:
        wanted = [self.ids[k] for k in keys if k not in self._rows]
        for start in range(0, len(wanted), CHUNK):
            self.load(
                self._session.exec(WEEK_ROWS_BY_ID, params={"ids": wanted[start : start + CHUNK]})
            )

    def load(self, rows: Iterable[CalendarWeek]) -> None:
        """Take locked rows read by the lock itself."""
        for row in rows:
            key = (row.user_id, row.week)
            self.ids[key] = row.id or 0
            self._rows[key] = row


@dataclass
class Tx:
    """What a service gets: the ORM session plus the context of this one transaction."""

    session: Session
    settings: SchoolSettings
    now: datetime
    actor: str
    command: str
    writable: bool
    dialect: str
    locked_weeks: LockedWeeks = field(init=False)
    locked_accounts: dict[int, Account] = field(default_factory=dict)
    _accounts_locked: bool = False
    _weeks_locked: bool = False
    _audits: list[History] = field(default_factory=list)
    _discard: bool = False

    def __post_init__(self) -> None:
        self.locked_weeks = LockedWeeks(self.session)

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
        new_students = [s for s in students if s not in self.locked_accounts]
        new_weeks = [k for k in week_keys if k not in self.locked_weeks]
        if new_students and (self._accounts_locked or self._weeks_locked):
            raise RuntimeError(f"accounts {new_students} must be locked first, in one call")
        if new_weeks and self._weeks_locked:
            raise RuntimeError(f"weeks {new_weeks[:5]} must be locked in the one week lock")
        if new_students:
            self._accounts_locked = True
            self._lock_accounts(new_students)
        if new_weeks:
            self._weeks_locked = True
            self._lock_weeks(new_weeks, touched)

    def _lock_accounts(self, students: list[int]) -> None:
        ensure = PG_ENSURE_ACCOUNT if self.dialect == "postgresql" else SQLITE_ENSURE_ACCOUNT
        self.session.execute(ensure, [{"student_id": s, "balance_cents": 0} for s in students])
        rows = self.session.exec(LOCK_ACCOUNTS, params={"students": students}).all()
        self.locked_accounts = {row.student_id: row for row in rows}

    def _lock_weeks(self, keys: list[WeekKey], touched: set[WeekKey]) -> None:
        """Ensure then lock the rows of ``keys`` (sorted), bump the stamps of ``touched``.

        PostgreSQL: two statements whatever the number of keys, the keys passed as two arrays:
        ``INSERT … SELECT FROM unnest(…) ORDER BY … ON CONFLICT DO NOTHING`` then
        ``SELECT … JOIN unnest(…) ORDER BY user_id, week FOR UPDATE``; then one ``UPDATE`` of the
        stamps. SQLite holds the one write lock since ``BEGIN IMMEDIATE``: rows are ensured,
        bumped and read in chunks (a small lock reads whole rows at once). Every statement is
        built once, with bound parameters: a reserve locks two weeks, and building SQL per call
        cost more than running it.
        """
        empty = self.settings.empty_day()
        if self.dialect == "postgresql":
            arrays = {"users": [u for u, _ in keys], "weeks": [w for _, w in keys]}
            self.session.execute(PG_ENSURE_WEEKS, {**arrays, "empty": empty})
            bump = []
            for row_id, user_id, week in self.session.execute(PG_LOCK_WEEKS, arrays):
                self.locked_weeks.ids[(user_id, week)] = row_id
                if (user_id, week) in touched:
                    bump.append(row_id)
            if bump:
                self.session.execute(BUMP_STAMPS, {"ids": bump})
            if len(keys) <= CHUNK:
                self.locked_weeks.preload(keys)
            return
        days = {f"d{i}": empty for i in range(7)}
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            values = [{"user_id": u, "week": w, "stamp": 0, **days} for u, w in chunk]
            self.session.execute(SQLITE_ENSURE_WEEK, values)  # one statement, executemany
            bump = [key for key in chunk if key in touched]
            if bump:
                self.session.execute(SQLITE_BUMP_STAMPS, {"keys": bump})
            if len(keys) <= CHUNK:
                self.locked_weeks.load(self.session.exec(SQLITE_WEEK_ROWS, params={"keys": chunk}))
            else:
                for row_id, user_id, week in self.session.execute(SQLITE_WEEK_IDS, {"keys": chunk}):
                    self.locked_weeks.ids[(user_id, week)] = row_id

    def allocate_ids(self, model: Any, count: int) -> list[int]:
        """``count`` fresh primary keys for a bulk insert with explicit ids (no RETURNING)."""
        if count == 0:
            return []
        if self.dialect == "postgresql":
            rows = self.session.execute(PG_NEXT_IDS, {"table": model.__tablename__, "n": count})
            return [int(r[0]) for r in rows]
        table = model.__table__
        first = (
            int(self.session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
            + 1
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
            History(
                at=self.now,
                actor=self.actor,
                command=self.command,
                subject=subject[:200],
                user_ids="," + "".join(f"{u}," for u in ids),
                session_id=session_id,
                details=json.dumps(details, default=str, sort_keys=True),
            )
        )

    def finish(self) -> None:
        """Flush the service's writes and append the history rows (called by the unit of work)."""
        if not self._audits:
            self.audit(self.command)
        self.session.add_all(self._audits)
        self.session.flush()


class Database:
    """A database URL plus the clock and actor of the running command."""

    def __init__(self, url: str, clock: Clock | None = None, actor: str = "unknown") -> None:
        self.url = url
        self.clock = clock or Clock()
        self.actor = actor

    @property
    def engine(self) -> Any:
        return get_engine(self.url)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    # -- public entry points -------------------------------------------------------------

    def read(self, fn: Callable[[Tx], T], command: str = "read") -> T:
        return self._run(fn, command=command, writable=False)

    def write(self, command: str, fn: Callable[[Tx], T]) -> T:
        return self._run(fn, command=command, writable=True)

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
        last: Exception | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                with self._connect() as conn:
                    options: dict[str, Any] = {WRITE_OPTION: writable}
                    if self.dialect == "postgresql" and not writable:
                        options["isolation_level"] = "REPEATABLE READ"
                        options["postgresql_readonly"] = True
                    conn = conn.execution_options(**options)
                    with conn.begin():
                        return body(conn)
            except DBAPIError as exc:
                if not self._retryable(exc):
                    raise self._translate(exc) from None
                last = exc
                STATS["retries"] += 1
                time.sleep(random.uniform(0, min(0.5, 0.005 * 2**attempt)))
        detail = scrub(str(getattr(last, "orig", last)).splitlines()[0], self.url)
        raise LockError(
            f"could not get the lock after {MAX_ATTEMPTS} attempts ({detail}); try again"
        )

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()  # type: ignore[no-any-return]
        except DBAPIError as exc:
            reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else "", self.url)
            raise ConfigError(
                f"cannot connect to the database {mask_url(self.url)}: {reason}"
            ) from None

    def _tx(self, conn: Connection, command: str, *, writable: bool, check: bool) -> Tx:
        session = Session(bind=conn, autoflush=True, expire_on_commit=False)
        settings = self._load_settings(session, check=check)
        return Tx(
            session=session,
            settings=settings,
            now=self.clock.now(),
            actor=self.actor,
            command=command,
            writable=writable,
            dialect=self.dialect,
        )

    def _load_settings(self, session: Session, *, check: bool) -> SchoolSettings:
        not_initialised = ConfigError(
            f"the database {mask_url(self.url)} is not initialised: run `tutorctl db init`"
        )
        if check:
            try:
                version = session.exec(SCHEMA_VERSION_QUERY).first()
            except (OperationalError, ProgrammingError):
                raise not_initialised from None
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
        row = session.get(Settings, 1)
        if row is None:
            if check:
                raise not_initialised
            return DEFAULT_SETTINGS
        return SchoolSettings(
            timezone=row.timezone,
            slot_minutes=row.slot_minutes,
            currency=row.currency,
            hold_minutes=row.hold_minutes,
            payment_minutes=row.payment_minutes,
            cancel_notice_hours=row.cancel_notice_hours,
            min_notice_hours=row.min_notice_hours,
        )

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


DEFAULT_SETTINGS = SchoolSettings(
    timezone="Europe/Paris",
    slot_minutes=60,
    currency="EUR",
    hold_minutes=20,
    payment_minutes=30,
    cancel_notice_hours=24,
    min_notice_hours=0,
)

"""Engines: one per URL per process, configured for safe concurrent use.

SQLite: WAL, a busy timeout, foreign keys, and transactions begun by us (``BEGIN IMMEDIATE``
for writes, plain ``BEGIN`` for reads) rather than by the driver. The file and its -wal/-shm
are created mode 0600, by ``db init`` and ``demo`` only: no other command creates a missing file. PostgreSQL (psycopg 3): READ COMMITTED; row locks do the serialising.
Connections are pooled per process (a library caller running many transactions does not pay a
connect each time); a forked child forgets the parent's pool.

Lock waits: an engine is made per (URL, lock timeout). One statement waits at most that long
for a lock — SQLite's busy timeout, PostgreSQL's ``lock_timeout`` — then fails with an error the
unit of work retries.

PostgreSQL behind a transaction-pooling pooler (PgBouncer, SPEC §2): consecutive transactions
may run on different server connections, and its stock settings refuse the ``options``
start-up parameter. So nothing is set per connection: ``lock_timeout`` (and ``jit``) are set
per transaction by ``SET LOCAL`` sent in the same round trip as the transaction's first
statement (``pg_session_settings``, used by the unit of work), as is its ``BEGIN``
(``pgbegin``: the driver runs in autocommit, tutorctl begins), and psycopg never prepares a
statement on the server (``prepare_threshold=None``): a prepared statement is a session object
that the next transaction, on another server connection, would not find (or would find twice).

SQLite's wait for the write lock (``BEGIN IMMEDIATE``) is taken in slices of at most
BUSY_SLICE_MS: its busy handler sleeps in C, where Python cannot act on a signal, so one long
wait held Ctrl-C back for the whole timeout; between slices a pending Ctrl-C is raised.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from tutorctl.core.config import DEFAULT_LOCK_TIMEOUT as DEFAULT_LOCK_TIMEOUT  # (re-exported)
from tutorctl.core.config import mask_url, psycopg_url
from tutorctl.core.errors import ConfigError

WRITE_OPTION = "tutorctl_write"
WAL_PENDING = "tutorctl_wal_pending"  # a connection to an empty file: WAL at its first write
BUSY_SLICE_MS = 100  # the longest SQLite lock wait in C: how late Ctrl-C may act

# psycopg's automatic server-side prepares are off by default (see the module's note): a URL
# for a direct connection may turn them on with ``?prepare_threshold=N`` (a reserve gains up to
# ~15% on one process, docs/performance.md); benchmarks/bench_reserve.py sets this constant
PREPARE_THRESHOLD: int | None = None

_engines: dict[tuple[str, float], Engine] = {}
_kinds: dict[tuple[str, float, bool], Engine] = {}  # the engines with a transaction kind's options


def get_engine(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Engine:
    key = (url, lock_timeout)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = _create(url, lock_timeout)
    return engine


def engine_for(url: str, lock_timeout: float, writable: bool) -> Engine:
    """The engine with the options of a kind of transaction (writes: BEGIN IMMEDIATE on
    SQLite; reads on PostgreSQL: a read-only REPEATABLE READ snapshot), made once per
    engine — not branched off every connection."""
    key = (url, lock_timeout, writable)
    engine = _kinds.get(key)
    if engine is None:
        base = get_engine(url, lock_timeout)
        # PostgreSQL's BEGIN for each kind: tutorctl.db.pgbegin, from this option
        engine = _kinds[key] = base.execution_options(**{WRITE_OPTION: writable})
    return engine


def lock_timeout_ms(seconds: float) -> int:
    """A lock timeout in whole milliseconds, at least 1: PostgreSQL reads 0 as "wait forever"."""
    return max(1, round(seconds * 1000))


def pg_session_settings(lock_timeout: float) -> str:
    """The ``SET LOCAL`` statements that open every PostgreSQL transaction (sent with its first
    statement, one round trip): the lock timeout, and no JIT — tutorctl's statements are short,
    and compiling one (tens of ms) costs more than it saves whenever an estimate crosses
    ``jit_above_cost`` (a report at a million lessons)."""
    return f"SET LOCAL lock_timeout = {lock_timeout_ms(lock_timeout):d}; SET LOCAL jit = off; "


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
    _kinds.clear()


def _forget_engines_after_fork() -> None:
    """A forked child must not use its parent's pooled connections: drop them unclosed."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()
    _kinds.clear()


os.register_at_fork(after_in_child=_forget_engines_after_fork)


def _create(url: str, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Engine:
    try:
        parsed = make_url(psycopg_url(url))
    except ArgumentError:
        raise ConfigError(f"bad database URL {mask_url(url)!r}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, lock_timeout)
    if backend == "postgresql":
        # no start-up parameters of our own (a pooler refuses them): see the module's note;
        # the URL's own query parameters still reach the driver
        threshold = _prepare_threshold(parsed.query.get("prepare_threshold"), url)
        parsed = parsed.difference_update_query(["prepare_threshold"])
        from tutorctl.db import pgbegin

        engine = create_engine(
            parsed,
            isolation_level="AUTOCOMMIT",  # at the driver: pgbegin begins each transaction
            pool_size=2,
            max_overflow=8,
            connect_args={"prepare_threshold": threshold},
        )
        pgbegin.install(engine, WRITE_OPTION)
        return engine
    raise ConfigError(f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://…")


def _prepare_threshold(given: Any, url: str) -> int | None:
    """A URL's ``prepare_threshold`` (a direct connection's opt-in), else the default (off)."""
    if given is None:
        return PREPARE_THRESHOLD
    text = given[-1] if isinstance(given, tuple) else str(given)
    if text.lower() in ("none", "off", ""):
        return None
    if not text.isdigit():
        raise ConfigError(
            f"bad prepare_threshold {text!r} in {mask_url(url)}: a whole number, or none"
        )
    return int(text)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, in memory, or a ``file:`` URI)."""
    try:
        parsed = make_url(psycopg_url(url))
    except ArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_sqlite_file(url: str) -> None:
    """Create a missing SQLite file (mode 0600) and its folders: ``db init`` and ``demo`` only;
    every other command refuses a missing file (``_sqlite_engine``)."""
    path = sqlite_path(url)
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    except OSError as exc:
        raise ConfigError(f"cannot create the database file {path}: {exc.strerror}") from None


def _sqlite_engine(url: str, lock_timeout: float) -> Engine:
    busy_ms = round(lock_timeout * 1000)  # 0: never wait (SQLite's 0 means no busy handler)
    engine = create_engine(url, connect_args={"timeout": busy_ms / 1000})
    path = sqlite_path(url)

    @event.listens_for(engine, "do_connect")
    def _refuse_missing(*_args: Any) -> None:
        # sqlite3 would create an empty file (a typo'd --db, a first command before db init)
        if path is not None and not path.exists():
            raise ConfigError(
                f"the database file {path} does not exist: create it with `tutorctl db init`"
            )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if _size(path) == 0:
            # switching an empty file to WAL writes its header: a command refused as "not
            # initialised" must write nothing, so switch once something wrote it (db init)
            record.info[WAL_PENDING] = True
        else:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        begin = "BEGIN IMMEDIATE" if write else "BEGIN"
        driver = connection.connection.driver_connection
        try:  # straight to the driver: this runs before every transaction
            _wal_once_written(driver, connection.connection.info)
            if write and busy_ms > BUSY_SLICE_MS:
                _begin_in_slices(driver, busy_ms)
            else:
                driver.execute(begin)
        except sqlite3.Error as exc:
            # SQLAlchemy does not wrap errors raised in a begin event: do it here, so a busy
            # database ("database is locked" after the busy timeout) reaches the retry loop
            raise DBAPIError.instance(
                begin, (), exc, sqlite3.Error, dialect=connection.dialect
            ) from exc

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, record: Any) -> None:
        # db init's transaction ran in the rollback journal: leave its file in WAL, or the next
        # command's connection will switch it
        with contextlib.suppress(sqlite3.Error):
            _wal_once_written(dbapi_connection, record.info)

    def _wal_once_written(driver: sqlite3.Connection, info: dict[str, Any]) -> None:
        """WAL for a connection opened on an empty file, once the file holds a database
        (outside a transaction, as the journal mode must be changed)."""
        if info.get(WAL_PENDING) and _size(path) > 0:
            driver.execute("PRAGMA journal_mode=WAL")
            del info[WAL_PENDING]

    return engine


def _size(path: Path | None) -> int:
    """The file's size (-1: in memory, or gone)."""
    try:
        return path.stat().st_size if path is not None else -1
    except OSError:
        return -1


def _begin_in_slices(driver: sqlite3.Connection, busy_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting up to ``busy_ms`` for the write lock in waits of at most
    BUSY_SLICE_MS, back in Python between them, where a Ctrl-C (KeyboardInterrupt) is raised:
    nothing has begun, nothing is written. The busy timeout is put back for the statements
    that follow (two PRAGMAs, microseconds, against a command's milliseconds)."""
    deadline = time.monotonic() + busy_ms / 1000
    driver.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS:d}")
    try:
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                left = round((deadline - time.monotonic()) * 1000)
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or left <= 0:
                    raise
                if left < BUSY_SLICE_MS:
                    driver.execute(f"PRAGMA busy_timeout={left:d}")
    finally:
        driver.execute(f"PRAGMA busy_timeout={busy_ms:d}")

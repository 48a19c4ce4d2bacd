"""The unit of work: locking, retries, rollback, schema checks."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, insert, text
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import func, select

from tests.conftest import Cli
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.errors import ConfigError, LockError
from tutorctl.db.engine import dispose_engines, get_engine
from tutorctl.db.errors import Conflict
from tutorctl.db.prepared import Prepared, run
from tutorctl.db.schema import CalendarWeek, History, User
from tutorctl.db.uow import Database, Tx

WEEK = date(2026, 11, 23)
NOW = parse_now("2026-11-24T09:00:00+01:00")


def _db(url: str) -> Database:
    return Database(url, Clock(NOW), actor="tester")


def _two_users(cli: Cli) -> None:
    cli.ok("user", "add", "t1", "--name", "T1", "--role", "teacher")
    cli.ok("user", "add", "t2", "--name", "T2", "--role", "teacher")


def test_lock_ensures_rows_and_bumps_stamps(cli: Cli) -> None:
    _two_users(cli)
    db = _db(cli.url)

    def touch(tx: Tx) -> list[int]:
        tx.lock(weeks=[(2, WEEK), (1, WEEK), (1, WEEK)])
        return [tx.locked_weeks[(u, WEEK)].stamp for u in (1, 2)]

    assert db.write("touch", touch) == [1, 1]
    assert db.write("touch", touch) == [2, 2]

    def count(tx: Tx) -> tuple[int, int]:
        weeks = tx.orm.exec(select(func.count()).select_from(CalendarWeek)).one()
        history = tx.orm.exec(select(func.count()).where(History.command == "touch")).one()
        return weeks, history

    assert db.read(count) == (2, 2)  # rows created once; every mutation in history


def test_exception_leaves_nothing(cli: Cli) -> None:
    _two_users(cli)
    db = _db(cli.url)

    def broken(tx: Tx) -> None:
        tx.lock(weeks=[(1, WEEK)])
        tx.orm.add(User(handle="ghost", name="Ghost", role="student", created_at=tx.now))
        tx.orm.flush()
        tx.audit("ghost")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        db.write("broken", broken)

    def state(tx: Tx) -> tuple[int, int, int]:
        users = tx.orm.exec(select(func.count()).select_from(User)).one()
        weeks = tx.orm.exec(select(func.count()).select_from(CalendarWeek)).one()
        history = tx.orm.exec(select(func.count()).where(History.command == "broken")).one()
        return users, weeks, history

    assert db.read(state) == (2, 0, 0)


def test_retryable_error_reruns_the_whole_function(cli: Cli) -> None:
    _two_users(cli)
    db = _db(cli.url)
    calls: list[int] = []

    def flaky(tx: Tx) -> int:
        tx.lock(weeks=[(1, WEEK)])
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("stmt", {}, Exception("database is locked"))
        return tx.locked_weeks[(1, WEEK)].stamp

    assert db.write("flaky", flaky) == 1  # the first attempt's stamp bump was rolled back
    assert len(calls) == 2


def test_a_conflict_found_under_the_locks_reruns_the_whole_function(cli: Cli) -> None:
    """A service whose locks depend on what it read raises Conflict when a re-read under the
    locks differs: the attempt is rolled back and run again, never reported to the user."""
    _two_users(cli)
    db = _db(cli.url)
    calls: list[int] = []

    def stale(tx: Tx) -> int:
        tx.lock(weeks=[(1, WEEK)])
        calls.append(1)
        if len(calls) == 1:
            raise Conflict("what was read changed while locking")
        return tx.locked_weeks[(1, WEEK)].stamp

    assert db.write("stale", stale) == 1  # the first attempt's stamp bump was rolled back
    assert len(calls) == 2


def test_retries_exhausted_is_exit_5(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tutorctl.db.uow.time.sleep", lambda _s: None)
    db = _db(cli.url)

    def always(tx: Tx) -> None:
        raise OperationalError("stmt", {}, Exception("database is locked"))

    with pytest.raises(LockError) as info:
        db.write("always", always)
    assert info.value.exit_code == 5


def test_uninitialised_database_is_exit_4(empty_db_url: str) -> None:
    with pytest.raises(ConfigError, match="not initialised") as info:
        _db(empty_db_url).read(lambda tx: None)
    assert info.value.exit_code == 4


def test_older_schema_is_exit_4_and_says_how_to_upgrade(cli: Cli) -> None:
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("UPDATE tutorctl_schema SET version = 0"))
    with pytest.raises(ConfigError, match=r"older.*db init"):
        _db(cli.url).read(lambda tx: None)
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("UPDATE tutorctl_schema SET version = 99"))
    with pytest.raises(ConfigError, match="newer"):
        _db(cli.url).read(lambda tx: None)


# -- real processes -------------------------------------------------------------------------


def _hold_week(url: str, locked: Any, release: Any) -> None:
    def body(tx: Tx) -> None:
        tx.lock(weeks=[(1, WEEK)])
        locked.set()
        release.wait(60)

    _db(url).write("hold", body)


def _bump_week(url: str, out: Any) -> None:
    def body(tx: Tx) -> int:
        tx.lock(weeks=[(1, WEEK)])
        return tx.locked_weeks[(1, WEEK)].stamp

    out.put(_db(url).write("bump", body))


def _wait_for(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_postgres_second_transaction_blocks_until_first_commits(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; row locks are PostgreSQL's")
    _two_users(cli)
    dispose_engines()
    ctx = mp.get_context("spawn")
    locked, release, out = ctx.Event(), ctx.Event(), ctx.Queue()
    holder = ctx.Process(target=_hold_week, args=(cli.url, locked, release))
    holder.start()
    assert locked.wait(60), "the holder never got its lock"
    waiter = ctx.Process(target=_bump_week, args=(cli.url, out))
    waiter.start()
    engine = get_engine(cli.url)

    def waiter_is_blocked_on_a_lock() -> bool:
        with engine.connect() as conn:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            return bool(conn.execute(text(sql)).scalar())

    try:
        assert _wait_for(waiter_is_blocked_on_a_lock), "the second transaction did not block"
        assert out.empty(), "the second transaction finished while the first held the week"
    finally:
        release.set()
    holder.join(60)
    waiter.join(60)
    assert holder.exitcode == 0 and waiter.exitcode == 0
    assert out.get(timeout=10) == 2  # it saw the holder's committed stamp


def _lock_many(url: str, order: list[int], rounds: int, out: Any) -> None:
    failures = 0
    for _ in range(rounds):
        try:
            _db(url).write("pair", lambda tx: tx.lock(weeks=[(u, WEEK) for u in order]))
        except LockError:
            failures += 1
    out.put(failures)


@pytest.mark.slow  # real processes
def test_opposite_key_orders_never_deadlock(cli: Cli) -> None:
    _two_users(cli)
    dispose_engines()
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    rounds = 40
    procs = [
        ctx.Process(target=_lock_many, args=(cli.url, order, rounds, out))
        for order in ([1, 2], [2, 1], [1, 2], [2, 1])
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert [out.get(timeout=5) for _ in procs] == [0, 0, 0, 0]

    def stamps(tx: Tx) -> list[int]:
        rows = tx.orm.exec(select(CalendarWeek).order_by(CalendarWeek.user_id)).all()  # type: ignore[arg-type]
        return [r.stamp for r in rows]

    assert _db(cli.url).read(stamps) == [4 * rounds, 4 * rounds]  # no lost update


def test_connections_are_pooled_and_a_forked_child_gets_its_own(cli: Cli) -> None:
    """A library caller reuses one connection; after fork() the child must not touch it."""
    import os

    _two_users(cli)
    db = _db(cli.url)
    backend_id = "SELECT pg_backend_pid()" if cli.url.startswith("postgresql") else "SELECT 1"
    seen: list[int] = []

    def note(tx: Tx) -> None:
        seen.append(id(tx.orm.connection().connection.dbapi_connection))
        tx.lock(weeks=[(1, WEEK)])

    db.write("touch", note)
    db.write("touch", note)
    assert seen[0] == seen[1], "the second transaction did not reuse the pooled connection"
    pid = os.fork()
    if pid == 0:  # the child: its own connection, then a write that must land
        code = 1
        try:
            db.write("touch", note)
            code = 0 if seen[-1] != seen[0] else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    db.write("touch", note)  # the parent's pooled connection still works after the child's exit
    assert db.read(lambda tx: tx.orm.execute(text(backend_id)).scalar()) is not None
    stamp = db.read(
        lambda tx: tx.orm.exec(select(CalendarWeek.stamp).where(CalendarWeek.user_id == 1)).one()
    )
    assert stamp == 4  # two parent writes, the child's, the parent's again


def test_one_lock_statement_reads_availability_and_read_weeks_keep_their_stamp(cli: Cli) -> None:
    _two_users(cli)
    cli.ok("schedule", "set", "t1", "--week", "2026-W48", "--days", "tue", "--hours", "10:00-12:00",
           "--open")  # fmt: skip
    db = _db(cli.url)

    def lock(tx: Tx) -> tuple[str, str, int, int]:
        tx.lock(weeks=[(2, WEEK)], read_weeks=[(1, WEEK)])
        return (
            tx.locked_weeks.week((1, WEEK)).day(1),
            tx.locked_weeks.week((2, WEEK)).day(1),
            tx.locked_weeks[(1, WEEK)].stamp,
            tx.locked_weeks[(2, WEEK)].stamp,
        )

    tuesday, empty, read_stamp, touched_stamp = db.write("lock", lock)
    assert tuesday == "0" * 10 + "11" + "0" * 12 and empty == "0" * 24
    assert (read_stamp, touched_stamp) == (1, 1)  # t1's week: set once, only read here
    assert db.write("lock", lock)[2:] == (1, 2)


def test_the_database_allows_one_open_session_per_student(cli: Cli) -> None:
    cli.ok("user", "add", "s1", "--name", "S1", "--role", "student")
    insert = text(
        "INSERT INTO booking_sessions (student_id, status, created_at, touched_at)"
        " VALUES (1, :status, '2026-11-24 08:00:00', '2026-11-24 08:00:00')"
    )
    with get_engine(cli.url).connect() as conn:  # rolled back: raw rows have no history
        conn.execute(insert, {"status": "open"})
        conn.execute(insert, {"status": "expired"})
        with pytest.raises(IntegrityError, match=r"(?i)unique"):
            conn.execute(insert, {"status": "open"})
        conn.rollback()


# -- prepared statements: the hot path's statements, run on the driver's cursor ------------

_U = User.__table__  # type: ignore[attr-defined]
_USER_BY_HANDLE = Prepared(
    sa_select(_U.c.id, _U.c.active, _U.c.created_at).where(_U.c.handle == bindparam("handle"))
)
_NEW_HISTORY = Prepared(
    insert(History.__table__).returning(History.__table__.c.id),  # type: ignore[attr-defined]
    keys=("at", "actor", "command", "subject", "session_id", "details"),  # user_ids: its default
)


def test_prepared_statements_convert_types_as_sqlalchemy_does(cli: Cli) -> None:
    cli.ok("user", "add", "s1", "--name", "S1", "--role", "student")
    db = _db(cli.url)
    at = datetime(2026, 11, 24, 7, 30, 15, 250, tzinfo=UTC)
    row = {"at": at, "actor": "me", "command": "probe", "subject": "x", "session_id": None}

    def write(tx: Tx) -> tuple[Any, int]:
        (user,) = tx.run(_USER_BY_HANDLE, {"handle": "s1"})
        ((history_id,),) = tx.run(_NEW_HISTORY, {**row, "details": "{}"})
        return user, history_id

    user, history_id = db.write("probe", write)
    # read by a prepared statement: a bool and an aware UTC datetime, as the ORM gives them
    assert user.active is True and user.created_at == NOW and user.created_at.tzinfo is not None
    assert db.read(lambda tx: tx.run(_USER_BY_HANDLE, {"handle": "nobody"})) == []
    # written by a prepared statement: the ORM reads the same values back, defaults applied
    stored = db.read(lambda tx: tx.orm.get(History, history_id))
    assert stored is not None and (stored.at, stored.user_ids, stored.subject) == (at, ",", "x")
    # and SQLAlchemy's own comparison finds it (the same stored format, SQLite's text included)
    same = db.read(lambda tx: tx.orm.exec(select(History.id).where(History.at == at)).all())
    assert same == [history_id]


def test_prepared_statement_errors_roll_back_and_are_translated(cli: Cli) -> None:
    _two_users(cli)
    db = _db(cli.url)
    broken = Prepared(
        insert(_U),
        keys=("handle", "name", "role", "active"),  # no created_at: NOT NULL
    )

    def write(tx: Tx) -> None:
        tx.lock(weeks=[(1, WEEK)])
        tx.run(broken, {"handle": "x", "name": "X", "role": "student", "active": True})

    with pytest.raises(ConfigError, match=r"database error on .*(?i:not null|null value)"):
        db.write("broken", write)
    with get_engine(cli.url).connect() as conn:  # nothing of that transaction is left
        assert conn.execute(text("SELECT count(*) FROM calendar_weeks")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 2
        conn.rollback()
        with pytest.raises(IntegrityError), conn.begin():  # a driver error as SQLAlchemy's
            run(conn, broken, {"handle": "x", "name": "X", "role": "student", "active": True})


def test_prepared_refuses_what_it_cannot_run(cli: Cli) -> None:
    dialect = get_engine(cli.url).dialect
    expanding = sa_select(_U.c.id).where(_U.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="plain bound parameters"):
        Prepared(expanding).compiled(dialect)
    table = Table("probe", MetaData(), Column("id", Integer, primary_key=True),
                  Column("n", Integer, default=lambda: 1))  # fmt: skip
    with pytest.raises(ValueError, match="needs a value for n"):
        Prepared(insert(table), keys=("id",)).compiled(dialect)
    untyped = Prepared(text("SELECT id FROM users"))  # rows, but no declared columns
    with pytest.raises(ValueError, match="must declare its columns"):
        _db(cli.url).read(lambda tx: tx.run(untyped))


def test_reads_and_writes_get_their_own_transaction_kind(cli: Cli) -> None:
    db = _db(cli.url)
    sneaky = text("INSERT INTO categories (name, price_cents, active) VALUES ('x', 1, true)")
    if cli.url.startswith("postgresql"):
        show = text("SHOW transaction_isolation")
        assert db.read(lambda tx: tx.conn.execute(show).scalar_one()) == "repeatable read"
        assert db.write("probe", lambda tx: tx.conn.execute(show).scalar_one()) == "read committed"
        with pytest.raises(ConfigError, match="read-only transaction"):
            db.read(lambda tx: tx.conn.execute(sneaky))
        assert db.read(lambda tx: tx.conn.execute(show).scalar_one()) == "repeatable read"
    else:  # a read begins a plain BEGIN: another connection can still take the write lock
        path = cli.url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, timeout=0, isolation_level=None)  # no waiting

        def other_writer_can_begin(tx: Tx) -> bool:
            holder.execute("BEGIN IMMEDIATE")
            holder.execute("ROLLBACK")
            return True

        assert db.read(other_writer_can_begin)
        holder.close()
    db.write("probe", lambda tx: tx.conn.execute(sneaky))  # writes do write
    with get_engine(cli.url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM categories")).scalar_one() == 1


def test_run_many_converts_each_row_as_sqlalchemy_does(cli: Cli) -> None:
    from zoneinfo import ZoneInfo

    db = _db(cli.url)
    paris = ZoneInfo("Europe/Paris")
    same_instant = [datetime(2026, 11, 24, 8, tzinfo=UTC), datetime(2026, 11, 24, 9, tzinfo=paris)]
    times = [*same_instant, datetime(2026, 11, 24, 8, 0, 1, tzinfo=UTC), same_instant[0]]
    people = Prepared(insert(_U).inline(), keys=("handle", "name", "role", "active", "created_at"))
    rows = [
        {"handle": f"u{i}", "name": "U", "role": "student", "active": i % 2 == 0, "created_at": at}
        for i, at in enumerate(times)
    ]
    db.write("bulk", lambda tx: tx.run_many(people, rows))
    stored = db.read(
        lambda tx: tx.run(
            Prepared(
                sa_select(_U.c.handle, _U.c.active, _U.c.created_at).where(
                    _U.c.handle.like(bindparam("pattern"))
                )
            ),
            {"pattern": "u%"},
        )
    )
    assert sorted(stored) == [
        (f"u{i}", i % 2 == 0, at.astimezone(UTC)) for i, at in enumerate(times)
    ]
    with pytest.raises(ValueError, match="returns no rows"):
        db.write("bulk", lambda tx: tx.run_many(_NEW_HISTORY, []))


@pytest.mark.parametrize("count", [1, 7, 8, 450])  # + 1 read week: ≤ 8 keys prepared, else chunks
def test_week_lock_of_any_size_ensures_bumps_and_reads(cli: Cli, count: int) -> None:
    _two_users(cli)
    cli.ok("schedule", "set", "t1", "--week", "2026-W48", "--days", "mon", "--hours", "09:00-10:00",
           "--open")  # fmt: skip
    db = _db(cli.url)
    weeks = [WEEK + timedelta(weeks=i) for i in range(count)]
    touched = [(2, w) for w in weeks]

    def lock(tx: Tx) -> tuple[str, list[int], int]:
        tx.lock(weeks=touched, read_weeks=[(1, WEEK)])
        stamps = [tx.locked_weeks[key].stamp for key in touched]
        return tx.locked_weeks.week((1, WEEK)).day(0), stamps, len(tx.locked_weeks)

    monday, stamps, locked = db.write("lock", lock)
    assert monday == "0" * 9 + "1" + "0" * 14 and locked == count + 1
    assert stamps == [1] * count
    assert db.write("lock", lock)[1:] == ([2] * count, count + 1)
    assert db.read(lambda tx: tx.orm.exec(select(CalendarWeek.stamp).where(
        CalendarWeek.user_id == 1)).all()) == [1]  # fmt: skip

"""A busy database (SPEC §2 "Lock waits"): a command never hangs and never prints a traceback.

Another connection really holds the lock — SQLite: ``BEGIN IMMEDIATE`` on the file;
PostgreSQL: ``SELECT … FOR UPDATE`` of every account and calendar week row — while a command
runs in-process with ``--lock-timeout 0.2``: each attempt waits 0.2 s, the retries run out
after about a second, and the command says the database is busy, exits 5 and writes nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Cli, reserve, school
from tests.helpers import purchase_args, reserve_args, schedule_set_args
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.errors import LockError
from tutorctl.db import uow
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database, Tx

LATER = "2026-11-24T11:00:00+01:00"  # the hold of a session opened at NOW has expired
RESERVE_FRIDAY = reserve_args(day="fri")
TABLES = (
    "reservations",
    "booking_sessions",
    "operations",
    "ledger",
    "fundings",
    "history",
    "accounts",
    "calendar_weeks",
    "purchases",
)


@contextmanager
def holding_the_lock(url: str) -> Iterator[None]:
    """A second connection holding the write lock (SQLite) or every account and week row
    (PostgreSQL) until the block ends."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        locked = [
            conn.execute(f"SELECT id FROM {table} FOR UPDATE").fetchall()
            for table in ("accounts", "calendar_weeks")
        ]
        assert any(locked), "no rows to hold: the scenario must create some"
        try:
            yield
        finally:
            conn.rollback()


def _snapshot(url: str) -> dict[str, Any]:
    with get_engine(url).connect() as conn:
        counts: dict[str, Any] = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES
        }
        counts["stamps"] = conn.execute(
            text("SELECT coalesce(sum(stamp), 0) FROM calendar_weeks")
        ).scalar_one()
        counts["balances"] = conn.execute(
            text("SELECT coalesce(sum(balance_cents), 0) FROM accounts")
        ).scalar_one()
        conn.rollback()
    return counts


def _busy(cli: Cli, *args: str) -> float:
    """Run a command while the lock is held: exit 5, one error line, nothing written."""
    before = _snapshot(cli.url)
    with holding_the_lock(cli.url):
        started = time.monotonic()
        result = cli.fails(5, "--lock-timeout", "0.2", *args)  # one `error:` line, no traceback
        elapsed = time.monotonic() - started
    assert "busy" in result.err and "lock" in result.err, result.err
    assert _snapshot(cli.url) == before
    assert elapsed < 10, f"{args[0]} took {elapsed:.1f} s with --lock-timeout 0.2"
    return elapsed


def _lessons_file(tmp_path: Path, name: str, *extra_columns: str) -> Path:
    path = tmp_path / name
    header = ",".join(("teacher", "student", "category", "date", "start", "end", "status",
                       *(c.split("=")[0] for c in extra_columns)))  # fmt: skip
    values = ",".join(("alice", "carl", "maths", "2026-11-26", "15:00", "16:00", "booked",
                       *(c.split("=")[1] for c in extra_columns)))  # fmt: skip
    path.write_text(f"{header}\n{values}\n")
    return path


@pytest.mark.slow  # real processes
def test_busy_database_exits_5_from_booking_expire_import_and_money(
    cli: Cli, tmp_path: Path
) -> None:
    school(cli)
    assert reserve(cli).code == 0  # open sessions: expire has something to do later
    assert reserve(cli, student="carl", day="thu", time="10:00-11:00").code == 0
    cli.ok(*purchase_args("5", "150", student="carl"))
    cli.ok("account", "credit", "bob", "20.00")
    lessons = _lessons_file(tmp_path, "lessons.csv")
    funded = _lessons_file(tmp_path, "funded.csv", "purchase=1")  # carl's package

    figures = {
        "reserve": _busy(cli, *RESERVE_FRIDAY),
        "expire": _busy(cli, "--now", LATER, "expire"),
        "import": _busy(cli, "import", "reservations", str(lessons)),
        "import funded": _busy(cli, "import", "reservations", str(funded)),
        "credit": _busy(cli, "account", "credit", "bob", "5.00"),
        "confirm": _busy(cli, "session", "confirm", "1"),
    }
    with cli.capsys.disabled():
        print("\nexit 5 after (s): " + ", ".join(f"{k} {v:.2f}" for k, v in figures.items()))

    # the lock released, the same commands go through
    cli.ok("--lock-timeout", "0.2", "import", "reservations", str(funded))
    assert cli.json("--now", LATER, "expire")["expired_sessions"] == 2


def test_lock_timeout_zero_never_means_wait_forever(cli: Cli) -> None:
    """PostgreSQL reads lock_timeout = 0 as "no limit": 0 must still end in exit 5."""
    school(cli)
    reserve(cli)
    _busy(cli, "session", "abandon", "1")
    before = _snapshot(cli.url)
    with holding_the_lock(cli.url):
        cli.fails(5, "--lock-timeout", "0", "session", "abandon", "1")
    assert _snapshot(cli.url) == before


@pytest.mark.parametrize("value", ["-1", "abc", "nan", "inf", "1e3", "", "3601", "１"])
def test_bad_lock_timeout_is_exit_2(cli: Cli, value: str) -> None:
    result = cli.fails(2, "--lock-timeout", value, "user", "list")
    assert "--lock-timeout" in result.err


def test_bad_lock_timeout_from_the_environment_is_exit_2(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUTORCTL_LOCK_TIMEOUT", "-0.5")
    cli.fails(2, "user", "list")
    monkeypatch.setenv("TUTORCTL_LOCK_TIMEOUT", "0.2")
    school(cli)
    reserve(cli)
    _busy(cli, "session", "abandon", "1")  # the option wins over the environment anyway
    before = _snapshot(cli.url)
    with holding_the_lock(cli.url):  # the environment alone
        result = cli.fails(5, "session", "abandon", "1")
    assert "--lock-timeout 0.2" in result.err
    assert _snapshot(cli.url) == before


def _db(url: str, lock_timeout: float) -> Database:
    return Database(url, Clock(parse_now("2026-11-24T09:00:00+01:00")), "tester", lock_timeout)


def test_a_lock_wait_goes_through_the_retry_loop(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite's BEGIN IMMEDIATE and PostgreSQL's lock_timeout both fail into the retry loop:
    the holder lets go during the first pause between attempts, and the second attempt wins."""
    cli.ok("user", "add", "t1", "--name", "T1", "--role", "teacher")
    cli.ok(*schedule_set_args("t1", "this", "mon", "09:00-10:00"), "--open")
    week = parse_now("2026-11-23T12:00:00+01:00").date()
    attempts: list[int] = []

    def bump(tx: Tx) -> int:
        attempts.append(1)
        tx.lock(weeks=[(1, week)])
        return int(tx.conn.execute(text("SELECT stamp FROM calendar_weeks")).scalar_one())

    stack: list[Any] = []  # the holder, released from inside the first retry pause

    def pause(_seconds: float) -> None:  # the retry's jitter: the holder commits meanwhile
        if stack:
            stack.pop().__exit__(None, None, None)

    monkeypatch.setattr(uow.time, "sleep", pause)
    retries = uow.STATS["retries"]
    held = holding_the_lock(cli.url)
    held.__enter__()
    stack.append(held)
    assert _db(cli.url, 0.1).write("bump", bump) == 2
    assert uow.STATS["retries"] == retries + 1
    if cli.url.startswith("sqlite"):
        assert attempts == [1]  # BEGIN IMMEDIATE itself was busy: the body never ran
    else:
        assert attempts == [1, 1]  # the row lock timed out inside the body


def test_retries_stop_within_a_budget_of_about_twice_the_timeout(cli: Cli) -> None:
    cli.ok("user", "add", "t1", "--name", "T1", "--role", "teacher")
    cli.ok(*schedule_set_args("t1", "this", "mon", "09:00-10:00"), "--open")
    week = parse_now("2026-11-23T12:00:00+01:00").date()
    retries = uow.STATS["retries"]
    with holding_the_lock(cli.url):
        started = time.monotonic()
        with pytest.raises(LockError, match="busy") as info:
            _db(cli.url, 0.3).write("bump", lambda tx: tx.lock(weeks=[(1, week)]))
        elapsed = time.monotonic() - started
    assert info.value.exit_code == 5
    attempts = uow.STATS["retries"] - retries + 1
    assert 2 <= attempts <= 4, attempts  # 0.3 s each within a 1 s budget
    assert 0.6 <= elapsed < 5, elapsed

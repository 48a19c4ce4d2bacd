"""Crash safety: a process killed at any statement leaves all of a mutation or none of it.

A forked child runs one command and SIGKILLs itself at its N-th SQL statement, for N = 1, 2, 3 …
until the command finishes first. After every kill the database must pass PRAGMA
integrity_check (SQLite) and `tutorctl check`, and the operation must be wholly there or absent.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import signal
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import Cli, PgServer, _pg_admin_connect, _pg_url
from tests.helpers import reserve_args, schedule_set_args
from tests.stress import workers
from tutorctl.db.engine import dispose_engines, get_engine


def _prepare(cli: Cli) -> None:
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    cli.ok("user", "add", "bob", "--name", "Bob", "--role", "student")
    cli.ok("category", "add", "maths", "--price", "40")
    cli.ok(
        *schedule_set_args("alice", "next", "mon-fri", "09:00-18:00"),
        "--open",
    )


@contextmanager
def _copies(cli: Cli, pg_server: PgServer, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """A factory of fresh copies of the database as it is now."""
    dispose_engines()
    if cli.url.startswith("sqlite"):
        source = Path(cli.url.removeprefix("sqlite:///"))
        counter = iter(range(10_000))

        def copy_sqlite() -> str:
            target = tmp_path / f"copy{next(counter)}.db"
            shutil.copy(source, target)
            return f"sqlite:///{target}"

        yield copy_sqlite
        return
    base = cli.url.rsplit("/", 1)[1]
    made: list[str] = []

    def copy_pg() -> str:
        name = f"tutorctl_crash_{uuid.uuid4().hex[:12]}"
        with _pg_admin_connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
        made.append(name)
        return _pg_url(name)

    try:
        yield copy_pg
    finally:
        for name in made:
            pg_server.drop(name)


def _kill_points(
    copy: Callable[[], str], args: list[str], verify: Callable[[str, bool], None], stride: int
) -> int:
    ctx = mp.get_context("fork")
    kill_at = 1
    while kill_at < 400:
        url = copy()
        dispose_engines()
        child = ctx.Process(target=workers.crash_worker, args=(url, kill_at, args))
        child.start()
        child.join(120)
        killed = child.exitcode == -signal.SIGKILL
        assert killed or child.exitcode == 100, f"kill point {kill_at}: exit {child.exitcode}"
        verify(url, killed)
        dispose_engines()
        if not killed:
            print(
                f"\n{args[0]} {args[1]} on {url.split(':')[0]}: killed at {len(range(1, kill_at, stride))} points, "
                f"finished at statement {kill_at}"
            )
            return kill_at
        kill_at += stride
    raise AssertionError("the command never finished")


def _verify_common(url: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    from tutorctl.cli.app import main

    assert main(["--db", url, "check"]) == 0


def _scalar(url: str, sql: str) -> object:
    with get_engine(url).connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.mark.slow
def test_reserve_is_all_or_nothing(cli: Cli, pg_server: PgServer, tmp_path: Path) -> None:
    _prepare(cli)

    def verify(url: str, killed: bool) -> None:
        _verify_common(url)
        lessons = _scalar(url, "SELECT count(*) FROM reservations")
        operations = _scalar(url, "SELECT count(*) FROM operations")
        history = _scalar(url, "SELECT count(*) FROM history WHERE command = 'reserve'")
        assert (lessons, operations, history) in ((0, 0, 0), (1, 1, 1))
        if not killed:
            assert lessons == 1

    args = [
        *reserve_args(week="next"),
    ]
    with _copies(cli, pg_server, tmp_path) as copy:
        points = _kill_points(copy, args, verify, stride=1)
    assert points > 5


@pytest.mark.slow
def test_pay_is_all_or_nothing_and_a_kill_between_leaves_awaiting_payment(
    cli: Cli, pg_server: PgServer, tmp_path: Path
) -> None:
    _prepare(cli)
    cli.ok(
        *reserve_args(week="next"),
    )
    seen: set[str] = set()

    def verify(url: str, killed: bool) -> None:
        _verify_common(url)
        status = str(_scalar(url, "SELECT status FROM booking_sessions"))
        payments = _scalar(url, "SELECT count(*) FROM payments")
        booked = _scalar(url, "SELECT count(*) FROM reservations WHERE status = 'booked'")
        succeeded = _scalar(url, "SELECT count(*) FROM payments WHERE status = 'succeeded'")
        assert (status, payments, succeeded, booked) in (
            ("open", 0, 0, 0),
            ("awaiting_payment", 1, 0, 0),
            ("paid", 1, 1, 1),
        ), (status, payments, succeeded, booked)
        seen.add(status)

    with _copies(cli, pg_server, tmp_path) as copy:
        _kill_points(copy, ["session", "pay", "1", "--method", "card"], verify, stride=1)
    assert seen == {"open", "awaiting_payment", "paid"}


@pytest.mark.slow
def test_import_is_all_or_nothing(cli: Cli, pg_server: PgServer, tmp_path: Path) -> None:
    _prepare(cli)
    rows = ["teacher,student,category,date,start,end,status"]
    rows += [
        f"alice,bob,maths,2026-11-{d:02d},{h:02d}:00,{h + 1:02d}:00,done"
        for d in range(2, 7)
        for h in range(9, 17)
    ]
    lessons = tmp_path / "lessons.csv"
    lessons.write_text("\n".join(rows) + "\n")

    def verify(url: str, killed: bool) -> None:
        _verify_common(url)
        assert _scalar(url, "SELECT count(*) FROM reservations") in (0, 0 if killed else 40, 40)

    with _copies(cli, pg_server, tmp_path) as copy:
        _kill_points(copy, ["import", "reservations", str(lessons)], verify, stride=2)

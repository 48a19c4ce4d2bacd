"""PostgreSQL as a school chain runs it (issue 25, SPEC §2): through a real PgBouncer
(``pool_mode = transaction``, stock settings, 2 server connections), the same exit codes, lock
bounds and results as a direct connection; errors that name their real cause.

Each test runs on SQLite where it applies, on PostgreSQL directly, and through PgBouncer
(``db_url``'s ``pgbouncer`` variant, for tests marked ``pooled``). The lock holders and the
test's own look at the server connect directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, PG_ADMIN, Cli, school

pytestmark = pytest.mark.pooled


def _direct(url: str) -> str:
    """The same database, straight to the server (past the pooler)."""
    name = url.rsplit("/", 1)[1]
    return f"{PG_ADMIN.replace('postgresql+psycopg://', 'postgresql://').rsplit('/', 1)[0]}/{name}"


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(_direct(url))


def _pg_only(url: str) -> None:
    if url.startswith("sqlite"):
        pytest.skip("a PostgreSQL lock, role or backend")


def _tutorctl(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tutorctl", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def _waiting_backend(url: str, *, not_pid: int, timeout: float = 60) -> int:
    """The pid of the server backend of this database waiting for a lock (polling the
    server's activity for that state, not sleeping through a race)."""
    name = url.rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout
    with _connect(url) as watcher:
        watcher.autocommit = True
        while time.monotonic() < deadline:
            row = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> %s "
                "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'",
                (name, not_pid),
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("no backend of the command ever waited for the lock")


def _balance(cli: Cli, student: str) -> int:
    return int(cli.json("account", "show", student)["balance_cents"])


# -- a busy database: exit 5 whichever statement waits, the first included (issue 23 item 11) --


def test_every_table_locked_is_busy_not_uninitialised(cli: Cli) -> None:
    """A migration, VACUUM FULL or a long LOCK TABLE holds every table ACCESS EXCLUSIVE: the
    first statement of a read and of a write waits at most the lock timeout, then exit 5
    ("busy"), never "not initialised" (which sent staff to run `db init` on a live school)."""
    _pg_only(cli.url)
    school(cli)
    with _connect(cli.url) as holder:
        names = [r[0] for r in holder.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        holder.execute(f"LOCK TABLE {', '.join(names)} IN ACCESS EXCLUSIVE MODE")
        for args in (("account", "credit", "bob", "5"), ("account", "show", "bob")):
            started = time.monotonic()
            result = cli.fails(5, "--lock-timeout", "0.3", *args)
            took = time.monotonic() - started
            assert "busy" in result.err and "not initialised" not in result.err
            assert took < 3, f"{args}: {took:.1f} s for a 0.3 s lock timeout (budget ~1 s)"
        holder.rollback()
    assert _balance(cli, "bob") == 0


def test_a_held_row_lock_is_exit_5_within_the_bound(cli: Cli) -> None:
    _pg_only(cli.url)
    school(cli)
    with _connect(cli.url) as holder:
        holder.execute("SELECT id FROM accounts FOR UPDATE").fetchall()
        started = time.monotonic()
        cli.fails(5, "--lock-timeout", "0.5", "account", "credit", "bob", "5")
        assert time.monotonic() - started < 4  # budget: 2 × 0.5 s, at least 1 s
        holder.rollback()
    assert _balance(cli, "bob") == 0


# -- the shell: hundreds of lines, one warm process, transactions on changing connections --


def test_the_shell_runs_hundreds_of_lines(cli: Cli) -> None:
    """Psycopg prepares a statement on the server after a few runs of it; behind a pooler the
    next transaction lands on another server connection. 300 lines of the same few
    commands: every one succeeds, with the same results as on a direct connection."""
    school(cli)
    lines = []
    for i in range(100):
        lines += ["account credit bob 1.00", "account show bob --json", f"schedule show alice --week +{i % 4}"]
    shell = subprocess.run(
        [sys.executable, "-m", "tutorctl", "shell"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == 0, shell.stderr[-2000:]
    assert shell.stderr == ""
    assert _balance(cli, "bob") == 100_00

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
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_ADMIN, Cli, school

pytestmark = pytest.mark.pooled


def _direct(url: str) -> str:
    """The same database as the same role, straight to the server (past the pooler)."""
    from sqlalchemy.engine import make_url

    server, parsed = make_url(PG_ADMIN), make_url(url)
    return f"postgresql://{parsed.username}@{server.host}:{server.port or 5432}/{parsed.database}"


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
        names = [
            r[0]
            for r in holder.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
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
        lines += [
            "account credit bob 1.00",
            "account show bob --json",
            f"schedule show alice --week +{i % 4}",
        ]
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


# -- the desk role (`db grant`): daily work yes, schema changes no --------------------------


@contextmanager
def desk_role(cli: Cli) -> Iterator[str]:
    """A fresh login role given exactly `db grant`'s rights (granted by the owner, ``cli``,
    on the database as it is now): its URL, through the pooler where ``cli``'s goes."""
    from tests.pgbouncer import bouncer_of

    _pg_only(cli.url)
    role = f"desk_{uuid.uuid4().hex[:10]}"
    with _connect(cli.url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    bouncer = bouncer_of(cli.url)
    if bouncer:
        bouncer.add_user(role)
    printed = cli.ok("db", "grant", role, "--print").out
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE" in printed
    assert "REVOKE CREATE ON SCHEMA" in printed
    assert not [line for line in printed.splitlines() if "GRANT" in line and "CREATE" in line]
    cli.ok("db", "grant", role)
    try:
        yield cli.url.replace("://postgres@", f"://{role}@")
    finally:
        from tutorctl.db.engine import dispose_engines

        dispose_engines()
        with _connect(cli.url) as admin:
            admin.autocommit = True
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def desk(cli: Cli) -> Iterator[str]:
    with desk_role(cli) as url:
        yield url


def test_the_desk_role_runs_the_daily_work_and_cannot_change_the_schema(
    cli: Cli,
    desk: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg

    as_desk = Cli(desk, capsys, monkeypatch)  # from here on, every command runs as the desk
    school(as_desk)
    booking = as_desk.json(
        "reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
        "--week", "this", "--day", "wed", "--time", "10:00-11:00",
    )  # fmt: skip
    as_desk.ok("session", "pay", str(booking["session_id"]), "--method", "card")
    as_desk.ok("session", "confirm", str(booking["session_id"]))
    as_desk.ok("account", "credit", "carl", "50.00")
    as_desk.ok("purchase", "add", "--student", "carl", "--teacher", "bruno", "--category",
               "piano", "--hours", "4", "--price", "150.00")  # fmt: skip
    held = as_desk.json(
        "reserve", "--teacher", "bruno", "--student", "carl", "--category", "piano",
        "--week", "+1", "--day", "thu", "--time", "14:00-15:00",
    )  # fmt: skip
    as_desk.ok("cancel", str(booking["reservation_id"]), "--waive-notice")
    (tmp_path / "credits.csv").write_text("student,amount,reason\nbob,12.00,cash\n")
    as_desk.ok("import", "credits", str(tmp_path / "credits.csv"))
    (tmp_path / "lessons.csv").write_text(
        "teacher,student,category,date,start,end,status\n"
        "alice,carl,maths,2026-12-02,15:00,16:00,booked\n"
    )
    as_desk.ok("import", "reservations", str(tmp_path / "lessons.csv"))
    as_desk.ok("export", "reservations", "--format", "csv", "--output", str(tmp_path / "out.csv"))
    as_desk.ok("--now", "2026-11-24T12:00:00+01:00", "expire")
    for report in ("revenue", "hours", "balances", "occupancy"):
        as_desk.ok("report", report)
    as_desk.ok("history", "--limit", "5")
    as_desk.ok("session", "show", str(held["session_id"]))
    assert "alice" in (tmp_path / "out.csv").read_text()
    result = as_desk.fails(4, "db", "init")
    assert "needs the owner" in result.err
    # a desk cannot grant (not even itself); `db grant postgres` is refused first (exit 2)
    assert (
        "needs the owner" in as_desk.fails(4, "db", "grant", desk.split("://")[1].split("@")[0]).err
    )
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    with psycopg.connect(_direct(desk)) as conn:
        for ddl in (
            "DROP TABLE history",
            "ALTER TABLE users ADD COLUMN x int",
            "CREATE TABLE t (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(ddl)
            conn.rollback()


def test_a_role_without_select_on_one_table_is_told_which(
    cli: Cli, desk: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    school(cli)
    role = desk.split("://")[1].split("@")[0]
    with _connect(cli.url) as admin:
        admin.execute(f'REVOKE SELECT ON accounts FROM "{role}"')
        admin.commit()
    as_desk = Cli(desk, capsys, monkeypatch)
    for args in (("account", "show", "bob"), ("account", "credit", "bob", "5")):
        result = as_desk.fails(4, *args)
        assert f"role {role} lacks SELECT on table accounts" in result.err, result.err
        assert "not initialised" not in result.err
    monkeypatch.setenv("TUTORCTL_DB", cli.url)  # the owner's check after the scenario


# -- a connection lost mid-command, a process killed mid-import -----------------------------


def test_the_backend_terminated_mid_transaction_is_exit_4_and_writes_nothing(cli: Cli) -> None:
    _pg_only(cli.url)
    school(cli)
    cli.ok("account", "credit", "bob", "10.00")
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    with _connect(cli.url) as holder:
        holder.execute("SELECT id FROM accounts FOR UPDATE").fetchall()
        holder_pid = holder.info.backend_pid
        command = _tutorctl("--lock-timeout", "60", "account", "credit", "bob", "5")
        victim = _waiting_backend(cli.url, not_pid=holder_pid)
        holder.execute("SELECT pg_terminate_backend(%s)", (victim,))
        out, err = command.communicate(timeout=60)
        holder.rollback()
    assert command.returncode == 4, err
    assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert "lost the connection" in err and "nothing of it was written" in err, err
    assert _balance(cli, "bob") == 10_00


def test_an_import_killed_mid_transaction_writes_nothing(cli: Cli, tmp_path: Path) -> None:
    _pg_only(cli.url)
    school(cli)
    rows = [
        f"alice,bob,maths,2026-12-0{d},{h:02d}:00,{h + 1:02d}:00,booked"
        for d in (1, 2, 3, 4) for h in range(9, 18)
    ]  # fmt: skip
    (tmp_path / "lessons.csv").write_text(
        "teacher,student,category,date,start,end,status\n" + "\n".join(rows) + "\n"
    )
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    with _connect(cli.url) as holder:
        count = holder.execute("SELECT count(*) FROM reservations").fetchone()
        holder.execute("SELECT id FROM calendar_weeks FOR UPDATE").fetchall()
        command = _tutorctl(
            "--lock-timeout", "60", "import", "reservations", str(tmp_path / "lessons.csv")
        )
        _waiting_backend(cli.url, not_pid=holder.info.backend_pid)
        command.send_signal(signal.SIGKILL)
        command.wait(30)
        holder.rollback()
        assert holder.execute("SELECT count(*) FROM reservations").fetchone() == count
    assert command.returncode == -signal.SIGKILL


def test_a_poolers_refusal_is_exit_4_with_its_reason_and_no_password(cli: Cli) -> None:
    from tests.pgbouncer import bouncer_of

    bouncer = bouncer_of(cli.url)
    if bouncer is None:
        pytest.skip("a refusal by the pooler")
    url = cli.url.replace("://postgres@", "://nobody_here:s3cr3t-pw@")
    result = cli.fails(4, "--db", url, "user", "list")
    assert "cannot connect" in result.err and "FATAL" in result.err, result.err
    assert "s3cr3t-pw" not in result.err and "nobody_here:***@" in result.err
    # a URL that asks for a start-up parameter the pooler refuses: its reason, exit 4
    result = cli.fails(4, "--db", f"{cli.url}?options=-c%20work_mem%3D8MB", "user", "list")
    assert "unsupported startup parameter: options" in result.err, result.err


def test_server_side_prepares_are_off_unless_a_direct_url_asks(cli: Cli) -> None:
    """Off by default (pooler-safe); ``?prepare_threshold=N`` on a direct connection's URL turns
    psycopg's automatic prepares on (faster, docs/performance.md); a bad value is exit 4."""
    from tests.pgbouncer import bouncer_of

    _pg_only(cli.url)
    if bouncer_of(cli.url):
        pytest.skip("the opt-in is for direct connections")
    from tutorctl.db.engine import get_engine

    with get_engine(cli.url).connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold is None
    with get_engine(f"{cli.url}?prepare_threshold=2").connect() as conn:
        assert conn.connection.driver_connection.prepare_threshold == 2
    school(cli)
    for _ in range(5):  # past the threshold: the statements are prepared on the server
        cli.ok("--db", f"{cli.url}?prepare_threshold=2", "account", "show", "bob")
    result = cli.fails(4, "--db", f"{cli.url}?prepare_threshold=soon", "user", "list")
    assert "prepare_threshold" in result.err

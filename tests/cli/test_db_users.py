"""CLI: db init/info, user and category commands — stdout, stderr and exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tutorctl.cli.app import main
from tutorctl.db.migrations import SCHEMA_VERSION


@pytest.mark.pooled
def test_db_init_is_safe_to_rerun_and_stores_settings(cli: Cli) -> None:
    first = cli.json(
        "db", "init", "--timezone", "America/New_York", "--slot-minutes", "30", "--currency", "usd"
    )
    assert first["schema_version_before"] == first["schema_version"] == SCHEMA_VERSION
    assert first["settings"]["timezone"] == "America/New_York"
    assert first["settings"]["slot_minutes"] == 30
    assert first["settings"]["currency"] == "USD"
    again = cli.json("db", "init")
    assert again["settings"] == first["settings"]
    info = cli.json("db", "info")
    assert info["schema_version"] == SCHEMA_VERSION and info["settings"] == first["settings"]


def test_db_init_on_empty_database(
    empty_db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(empty_db_url, capsys, monkeypatch)
    cli.fails(4, "user", "list")
    created = cli.json("db", "init", "--hold-minutes", "15")
    assert created["schema_version_before"] is None
    assert created["settings"]["hold_minutes"] == 15


def test_db_init_never_grafts_onto_another_applications_tables(
    empty_db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another application's `users` table: `db init` refuses (exit 4) and changes nothing,
    instead of adding its tables and foreign keys around a table it cannot use."""
    from sqlalchemy import inspect, text

    from tutorctl.db.engine import dispose_engines, get_engine

    with get_engine(empty_db_url).begin() as conn:
        conn.execute(text("CREATE TABLE users (id integer PRIMARY KEY, email text)"))
        conn.execute(text("INSERT INTO users (id, email) VALUES (1, 'ann@example.org')"))
    dispose_engines()
    cli = Cli(empty_db_url, capsys, monkeypatch)
    error = cli.fails(4, "db", "init").err
    assert "users" in error and "another application" in error
    with get_engine(empty_db_url).connect() as conn:
        assert inspect(conn).get_table_names() == ["users"]
        assert conn.execute(text("SELECT email FROM users")).scalars().all() == ["ann@example.org"]
    dispose_engines()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--timezone", "Mars/Olympus"], "timezone"),
        (["--timezone", "../../etc/passwd"], "timezone"),
        (["--slot-minutes", "7"], "divide 1440"),
        (["--currency", "EURO"], "currency"),
        (["--hold-minutes", "0"], "hold-minutes"),
        (["--cancel-notice-hours", "-1"], "cancel-notice-hours"),
    ],
)
def test_db_init_refuses_bad_settings(cli: Cli, args: list[str], needle: str) -> None:
    before = cli.json("db", "info")
    result = cli.fails(2, "db", "init", *args)
    assert needle in result.err
    assert cli.json("db", "info") == before


def test_slot_length_is_fixed_once_calendars_exist(cli: Cli) -> None:
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    from tests.db.test_uow import WEEK, _db

    _db(cli.url).write("touch", lambda tx: tx.lock(weeks=[(1, WEEK)]))
    result = cli.fails(1, "db", "init", "--slot-minutes", "30")
    assert "slot length" in result.err


def test_db_info_masks_password_and_bad_password_never_printed() -> None:
    secret = "pw-Sup3rSecret"
    url = f"postgresql://postgres:{secret}@127.0.0.1:1/nowhere"
    env = {**os.environ, "TUTORCTL_DB": url}
    proc = subprocess.run(
        [sys.executable, "-m", "tutorctl", "db", "info"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 4
    assert secret not in proc.stdout + proc.stderr
    assert "***" in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")


@pytest.mark.pooled
def test_user_add_list_show_deactivate(cli: Cli) -> None:
    alice = cli.json("user", "add", "alice", "--name", "Alice Martin", "--role", "teacher")
    assert alice == {
        "id": alice["id"],
        "handle": "alice",
        "name": "Alice Martin",
        "role": "teacher",
        "active": True,
        "balance_cents": None,
        "currency": None,
        "email": None,
        "notify": True,
    }
    bob = cli.json("user", "add", "bob", "--name", "Bob", "--role", "student")
    assert cli.json("user", "show", "bob")["balance_cents"] == 0
    assert cli.json("user", "show", str(bob["id"]))["handle"] == "bob"
    assert [u["handle"] for u in cli.json("user", "list")["users"]] == ["alice", "bob"]
    assert [u["handle"] for u in cli.json("user", "list", "--role", "student")["users"]] == ["bob"]
    cli.ok("user", "deactivate", "bob")
    assert [u["handle"] for u in cli.json("user", "list")["users"]] == ["alice"]
    assert len(cli.json("user", "list", "--all")["users"]) == 2
    cli.fails(1, "user", "deactivate", "bob")
    table = cli.ok("user", "list", "--all").out
    assert "Alice Martin" in table and "teacher" in table


@pytest.mark.parametrize(
    "handle",
    ["Robert'); DROP TABLE users;--", "ALICE", "", "a b", "-dash", "é", "12345", "x" * 65, "a\nb"],
)
def test_hostile_handles_are_refused_and_nothing_written(cli: Cli, handle: str) -> None:
    result = cli.fails(2, "user", "add", handle, "--name", "X", "--role", "teacher")
    assert ("option" if handle.startswith("-") else "handle") in result.err
    assert cli.json("user", "list", "--all")["users"] == []


def test_bad_role_name_and_duplicates(cli: Cli) -> None:
    cli.fails(2, "user", "add", "zed", "--name", "Zed", "--role", "admin")
    cli.fails(2, "user", "add", "zed", "--name", "   ", "--role", "teacher")
    cli.ok("user", "add", "zed", "--name", "Zed", "--role", "teacher")
    result = cli.fails(1, "user", "add", "zed", "--name", "Zed", "--role", "teacher")
    assert "already exists" in result.err
    cli.fails(3, "user", "show", "nobody")
    cli.fails(3, "user", "show", "999")


@pytest.mark.pooled
def test_categories(cli: Cli) -> None:
    maths = cli.json("category", "add", "maths", "--price", "40.00")
    assert maths["price_cents"] == 4000 and maths["currency"] == "EUR"
    cli.ok("category", "add", "piano lessons", "--price", "45.5")
    listed = cli.json("category", "list")["categories"]
    assert [(c["name"], c["price_cents"]) for c in listed] == [
        ("maths", 4000),
        ("piano lessons", 4550),
    ]
    assert "45.50 EUR" in cli.ok("category", "list").out
    cli.fails(1, "category", "add", "maths", "--price", "10")
    for price in ["-5", "4.005", "abc", "1e9"]:
        cli.fails(2, "category", "add", "bad", "--price", price)
    assert len(cli.json("category", "list")["categories"]) == 2


def test_usage_errors_are_one_line_exit_2(cli: Cli) -> None:
    cli.fails(2, "user", "add", "x", "--role", "teacher")  # missing --name
    cli.fails(2, "user", "frobnicate")
    cli.fails(2, "--now", "yesterday", "user", "list")


def test_no_arguments_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "user" in capsys.readouterr().out


def test_help_does_not_import_the_database_layer() -> None:
    code = (
        "import sys\n"
        "from tutorctl.cli.app import main\n"
        "rc = main(['--help'])\n"
        "heavy = [m for m in ('sqlalchemy', 'sqlmodel', 'psycopg') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_sqlite_file_and_its_wal_are_private(tmp_path: Path) -> None:
    from sqlalchemy import text

    from tutorctl.db.engine import dispose_engines, get_engine

    path = tmp_path / "school.db"
    old = os.umask(0o022)  # a permissive umask must not leak into the files
    try:
        assert main(["--db", str(path), "db", "init"]) == 0
        with get_engine(f"sqlite:///{path}").connect() as conn:  # WAL files exist while connected
            conn.execute(
                text("INSERT INTO categories (name, price_cents, active) VALUES ('x', 1, 1)")
            )
            modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
            conn.rollback()
    finally:
        os.umask(old)
        dispose_engines()
    assert modes == {"school.db": 0o600, "school.db-wal": 0o600, "school.db-shm": 0o600}


def test_a_single_students_view_carries_the_balance_after_add_and_set(cli: Cli) -> None:
    added = cli.json("user", "add", "zoe", "--name", "Zoe", "--role", "student")
    assert (added["balance_cents"], added["currency"]) == (0, "EUR")
    cli.ok("account", "credit", "zoe", "12.50")
    changed = cli.json("user", "set", "zoe", "--name", "Zoé")
    assert changed["balance_cents"] == 1250 == cli.json("user", "show", "zoe")["balance_cents"]
    teacher = cli.json("user", "add", "tom", "--name", "Tom", "--role", "teacher")
    assert teacher["balance_cents"] is None

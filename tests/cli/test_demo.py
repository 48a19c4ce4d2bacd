"""tutorctl demo: builds a demo school, and re-running refreshes it without duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NOW, Cli
from tests.helpers import schedule_set_args
from tutorctl.cli.app import main


def test_demo_builds_and_refreshes(cli: Cli) -> None:
    first = cli.ok("demo")
    assert "alice (teacher)" in first.out and "demo school ready" in first.out
    users = cli.json("user", "list")["users"]
    assert [u["handle"] for u in users] == ["alice", "bruno", "chloe", "david", "emma"]
    lessons = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    lessons += cli.json("schedule", "show", "alice", "--week", "next")["lessons"]
    assert {lesson["student"] for lesson in lessons} >= {"chloe", "david"}
    cli.ok("demo")
    assert len(cli.json("user", "list")["users"]) == 5
    assert len(cli.json("category", "list")["categories"]) == 3
    assert len(cli.json("purchase", "list")["purchases"]) == 1
    again = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    again += cli.json("schedule", "show", "alice", "--week", "next")["lessons"]
    assert sorted(x["id"] for x in again) == sorted(x["id"] for x in lessons)


def test_demo_refuses_a_school_and_writes_nothing(cli: Cli) -> None:
    cli.ok("user", "add", "zoe", "--name", "Zoé", "--role", "student")
    before = cli.json("history")["entries"]
    refused = cli.fails(1, "demo")
    assert "not a demo (1 user(s)" in refused.err and "--fresh" in refused.err
    assert "tutorctl --db sqlite:///PATH demo" in refused.err
    assert cli.json("history")["entries"] == before
    assert [u["handle"] for u in cli.json("user", "list")["users"]] == ["zoe"]


def _state(cli: Cli) -> dict[str, object]:
    """What a refused demo must leave as it was: history, lessons, money, availability."""
    lessons = []
    for week in ("this", "next", "+2"):
        for teacher in ("alice", "bruno"):
            shown = cli.json("schedule", "show", teacher, "--week", week)
            lessons.append((shown["stamp"], shown["days"], shown["lessons"]))
    return {
        "history": cli.json("history", "--limit", "100000")["entries"],
        "lessons": lessons,
        "revenue": cli.json("report", "revenue", "--month", "2026-11"),
        "david": cli.json("account", "show", "david"),
    }


def test_a_demo_used_for_real_is_a_school(cli: Cli) -> None:
    """Issue 23 item 10: a demo database used for real is no longer a demo: `demo` refuses
    it and writes nothing (no demo lessons, no fake payments, no slots re-opened)."""
    cli.ok("demo")
    cli.ok("user", "add", "zoe", "--name", "Zoé", "--role", "student")
    cli.ok("account", "credit", "david", "50", "--reason", "real cash")
    cli.ok(
        *schedule_set_args("alice", "this..+2", "mon-sun", "09:00-18:00"),
        "--close",
        "--force",
    )
    later = "2026-11-30T09:00:00+01:00"  # the demo's lessons are past: it would book new ones
    before = _state(cli)
    refused = cli.fails(1, "--now", later, "demo")
    assert "a demo that was used since it was built" in refused.err
    assert "`user add`" in refused.err  # the first entry that was not the demo's
    assert "tutorctl demo --fresh" in refused.err
    assert _state(cli) == before


def test_a_demo_refreshes_while_only_the_demo_wrote(cli: Cli) -> None:
    cli.ok("demo")
    cli.ok("--now", "2026-11-30T09:00:00+01:00", "demo")  # a week later: refreshed
    commands = {e["command"] for e in cli.json("history", "--limit", "100000")["entries"]}
    assert "db init" in commands  # the empty database's own, before the demo
    marks = [e for e in cli.json("history")["entries"] if e["subject"] == "demo school"]
    assert len(marks) == 1 and marks[0]["command"] == "demo"
    cli.ok("--now", "2026-11-30T09:00:00+01:00", "expire")  # cron writes: no longer the demo's
    cli.fails(1, "--now", "2026-12-01T09:00:00+01:00", "demo")


def test_settings_changed_after_the_demo_make_it_a_school(cli: Cli) -> None:
    cli.ok("demo")
    cli.ok("db", "init", "--hold-minutes", "30")
    refused = cli.fails(1, "demo")
    assert "`db init`" in refused.err


def test_a_demo_built_before_the_marker_is_recognised(cli: Cli) -> None:
    from sqlalchemy import create_engine, text

    cli.ok("demo")
    engine = create_engine(cli.url)
    with engine.begin() as conn:  # as a demo of an older tutorctl left it: no marker
        conn.execute(text("DELETE FROM history WHERE subject = 'demo school'"))
    engine.dispose()
    cli.ok("demo")


def test_fresh_gets_its_own_file(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    own = tmp_path / "xdg" / "tutorctl" / "demo.db"
    cli.ok("user", "add", "zoe", "--name", "Zoé", "--role", "student")
    cli.fails(1, "demo")
    first = cli.ok("demo", "--fresh")
    assert f"demo school ready in sqlite:///{own}" in first.out
    assert f"try: tutorctl --db {own} schedule show emma" in first.out
    assert own.exists()
    cli.ok("demo", "--fresh")  # a previous demo there is replaced
    assert "zoe" in cli.ok("user", "list").out  # the school in TUTORCTL_DB was not touched
    assert "alice" not in cli.ok("user", "list").out
    cli.ok("--db", f"sqlite:///{own}", "user", "add", "x1", "--name", "X", "--role", "student")
    used = cli.fails(1, "demo", "--fresh")  # used since: a school now, never replaced
    assert "never replaces it" in used.err and f"mv {own} " in used.err
    assert "x1" in cli.ok("--db", f"sqlite:///{own}", "user", "list").out
    from tutorctl.db.engine import dispose_engines

    dispose_engines()  # as a new process would: no connection left open on the old file
    own.unlink()
    cli.ok("demo", "--fresh")
    wrong = cli.fails(2, "--db", cli.url, "demo", "--fresh")
    assert "not both" in wrong.err


def test_demo_refuses_a_database_of_another_application(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    assert main(["--db", f"sqlite:///{path}", "--now", NOW, "demo"]) == 1
    err = capsys.readouterr().err
    assert "1 table(s) that are not a tutorctl school's" in err
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["users"]


def test_demo_refuses_a_table_of_another_application_beside_a_school(cli: Cli) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    refused = cli.fails(1, "demo")
    assert "1 table(s) that are not a tutorctl school's (invoices)" in refused.err
    assert cli.json("user", "list")["users"] == []


def test_demo_refuses_tables_in_another_postgresql_schema(
    empty_db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not empty_db_url.startswith("postgresql"):
        pytest.skip("schemas are PostgreSQL's")
    from sqlalchemy import create_engine, text

    engine = create_engine(empty_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA billing"))
        conn.execute(text("CREATE TABLE billing.invoices (id integer PRIMARY KEY)"))
    assert main(["--db", empty_db_url, "--now", NOW, "demo"]) == 1
    err = capsys.readouterr().err
    assert "1 table(s) that are not a tutorctl school's (billing.invoices)" in err
    assert main(["--db", empty_db_url, "db", "init"]) == 0  # a school beside it: still refused
    capsys.readouterr()
    assert main(["--db", empty_db_url, "--now", NOW, "demo"]) == 1
    assert "billing.invoices" in capsys.readouterr().err
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
    engine.dispose()

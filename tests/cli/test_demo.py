"""tutorctl demo: builds a demo school, and re-running refreshes it without duplicates."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import NOW, Cli
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


def test_a_demo_played_with_is_still_a_demo(cli: Cli) -> None:
    cli.ok("demo")
    cli.ok("user", "add", "zoe", "--name", "Zoé", "--role", "student")  # staff try it out
    cli.ok("demo")  # the marker says it is the demo's database: it refreshes
    marks = [e for e in cli.json("history")["entries"] if e["subject"] == "demo school"]
    assert len(marks) == 1 and marks[0]["command"] == "demo"


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
    cli.ok("demo", "--fresh")  # still the demo's file: marker
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

"""SPEC §11, people and settings: emails are checked when typed, people may opt out, the
school turns messages on (both backends)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli


def test_user_email_is_checked_and_kept(cli: Cli) -> None:
    added = cli.json("user", "add", "bob", "--name", "Bob", "--role", "student",
                     "--email", "Bob.Li@Example.ORG")  # fmt: skip
    assert (added["email"], added["notify"]) == ("Bob.Li@example.org", True)
    shown = cli.ok("user", "show", "bob").out
    assert "Bob.Li@example.org" in shown
    quiet = cli.json("user", "set", "bob", "--no-notify")
    assert (quiet["email"], quiet["notify"]) == ("Bob.Li@example.org", False)
    assert cli.json("user", "set", "bob", "--email", "")["email"] is None
    history = cli.ok("history", "--user", "bob", "--json").out
    assert "Bob.Li@example.org" in history  # the change of address is in history


@pytest.mark.parametrize(
    "address",
    [
        "bob",
        "bob@",
        "bob@localhost",
        "bob@example.org\r\nBcc: eve@evil.example",
        "Bob <bob@example.org>",
        "bob@example.org, eve@evil.example",
        "bob @example.org",
        "chloé@example.org",
        "a" * 250 + "@example.org",
    ],
)
def test_a_bad_email_is_bad_input(cli: Cli, address: str) -> None:
    result = cli.fails(2, "user", "add", "bob", "--name", "Bob", "--role", "student",
                       "--email", address)  # fmt: skip
    assert "bad --email" in result.err
    cli.fails(3, "user", "show", "bob")  # nothing was written


def test_db_init_turns_messages_on(cli: Cli) -> None:
    assert cli.json("db", "info")["settings"]["notifications"] is False
    cli.fails(2, "db", "init", "--notifications", "on")  # from whom?
    cli.fails(2, "db", "init", "--notifications", "maybe", "--mail-from", "d@school.example")
    cli.fails(2, "db", "init", "--mail-from", "desk")
    cli.fails(2, "db", "init", "--reminder-hours", "-1")
    settings = cli.json("db", "init", "--notifications", "on", "--mail-from",
                        "desk@school.example", "--reminder-hours", "12")["settings"]  # fmt: skip
    assert (settings["notifications"], settings["mail_from"], settings["reminder_hours"]) == (
        True, "desk@school.example", 12,
    )  # fmt: skip
    text = cli.ok("db", "info").out
    assert "notifications" in text and "desk@school.example" in text and "12 h before" in text
    assert cli.json("db", "init", "--notifications", "off")["settings"]["notifications"] is False


def test_import_users_reads_an_optional_email_column(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "users.csv"
    good.write_text(
        "handle,name,role,email\n"
        "alice,Alice Martin,teacher,alice@school.example\n"
        "bob,Bob Li,student,\n"
    )
    assert cli.json("import", "users", str(good))["written"] == 2
    assert cli.json("user", "show", "alice")["email"] == "alice@school.example"
    assert cli.json("user", "show", "bob")["email"] is None
    bad = tmp_path / "bad.csv"
    bad.write_text("handle,name,role,email\ncarl,Carl,student,carl@@example.org\n")
    result = cli("import", "users", str(bad))
    assert result.code == 2 and "email" in result.err, result
    cli.fails(3, "user", "show", "carl")

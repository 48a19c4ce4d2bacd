"""Hostile input through the CLI: the SPEC exit code, one line on stderr, nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cli, school


def _fingerprint(cli: Cli) -> tuple[Any, ...]:
    return (
        cli.json("user", "list", "--all"),
        cli.json("category", "list", "--all"),
        cli.json("session", "list"),
        cli.json("purchase", "list"),
        cli.json("account", "history", "bob"),
        cli.ok("export", "reservations", "--format", "csv").out,
        len(cli.json("history")["entries"]),
    )


HOSTILE: list[tuple[int, list[str]]] = [
    (2, ["user", "add", "x'; DROP TABLE users; --", "--name", "X", "--role", "teacher"]),
    (2, ["user", "add", "zed", "--name", "a\x00b", "--role", "teacher"]),
    (2, ["user", "add", "zed", "--name", "x" * 10_000, "--role", "teacher"]),
    (2, ["user", "add", "zed", "--name", "Zed", "--role", "teacher' OR '1'='1"]),
    (3, ["user", "show", "' OR 1=1 --"]),
    (3, ["user", "show", "2147483647"]),
    (2, ["category", "add", "x", "--price", "1e308"]),
    (2, ["category", "add", "x", "--price", "NaN"]),
    (2, ["category", "add", "x", "--price", "12345678901234567890"]),
    (2, ["account", "credit", "bob", "-5"]),
    (2, ["account", "credit", "bob", "0.001"]),
    (2, ["account", "credit", "bob", "99999999999999999999"]),
    (3, ["account", "credit", "nobody", "5"]),
    (3, ["cancel", "99999999999999999999"]),  # SPEC §6: an id over 2**31-1 is not found
    (2, ["cancel", "-1"]),
    (3, ["cancel", "424242"]),
    (2, ["session", "show", "0"]),
    (3, ["session", "show", "424242"]),
    (3, ["session", "drop", "424242", "1"]),
    (
        2,
        [
            "reserve",
            "--teacher",
            "alice",
            "--student",
            "bob",
            "--category",
            "maths",
            "--week",
            "2026-W99",
            "--day",
            "wed",
            "--time",
            "10:00-11:00",
        ],
    ),
    (
        2,
        [
            "reserve",
            "--teacher",
            "alice",
            "--student",
            "bob",
            "--category",
            "maths",
            "--week",
            "next",
            "--day",
            "wed",
            "--time",
            "25:00-26:00",
        ],
    ),
    (
        2,
        [
            "reserve",
            "--teacher",
            "alice",
            "--student",
            "bob",
            "--category",
            "maths",
            "--week",
            "next",
            "--day",
            "wed",
            "--time",
            "10:00-11:00",
            "--repeat",
            "100000",
        ],
    ),
    (
        3,
        [
            "reserve",
            "--teacher",
            "alice",
            "--student",
            "bob",
            "--category",
            "'; DELETE FROM categories; --",
            "--week",
            "next",
            "--day",
            "wed",
            "--time",
            "10:00-11:00",
        ],
    ),
    (
        2,
        [
            "schedule",
            "set",
            "alice",
            "--week",
            "next",
            "--days",
            "mon;drop",
            "--hours",
            "09:00-10:00",
            "--open",
        ],
    ),
    (2, ["schedule", "show", "alice", "--week", "+99999"]),
    (2, ["history", "--since", "2026-02-30"]),
    (2, ["--now", "not-a-date", "user", "list"]),
    (2, ["session", "pay", "1", "--method", "card", "--expect-total", "-3"]),
    (2, ["import", "users", "/dev/null/nope.csv"]),
    (4, ["--db", "mysql://root@localhost/x", "user", "list"]),
    (4, ["--db", "not a url at all://", "user", "list"]),
]


@pytest.mark.parametrize(("code", "args"), HOSTILE, ids=[" ".join(a)[:40] for _, a in HOSTILE])
def test_hostile_input_changes_nothing(cli: Cli, code: int, args: list[str]) -> None:
    school(cli)
    before = _fingerprint(cli)
    result = cli.fails(code, *args)
    assert "Traceback" not in result.err
    assert _fingerprint(cli) == before


def test_sql_looking_text_is_stored_verbatim(cli: Cli) -> None:
    school(cli)
    name = "Robert'); DROP TABLE users;-- 数学 ✓"
    cli.ok("user", "add", "bobby", "--name", name, "--role", "student")
    assert cli.json("user", "show", "bobby")["name"] == name
    cli.ok("category", "add", "数学 ✓; DROP", "--price", "1.00")
    assert "数学 ✓; DROP" in [c["name"] for c in cli.json("category", "list")["categories"]]
    assert len(cli.json("user", "list")["users"]) == 5

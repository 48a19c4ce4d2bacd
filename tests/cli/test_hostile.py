"""Hostile input through the CLI: the SPEC exit code, one line on stderr, nothing changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Cli, school
from tests.helpers import purchase_args, reserve_args, schedule_set_args


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
    (2, ["user", "show", "0"]),  # a user or category named by id: 0 is bad input too
    (2, ["account", "debit", "0", "1.00", "--reason", "x"]),
    (2, ["history", "--user", "0"]),
    (2, ["category", "set", "0", "--price", "1.00"]),
    (3, ["session", "show", "424242"]),
    (3, ["session", "drop", "424242", "1"]),
    (
        2,
        [
            *reserve_args(week="2026-W99"),
        ],
    ),
    (
        2,
        [
            *reserve_args(week="next", time="25:00-26:00"),
        ],
    ),
    (
        2,
        [
            *reserve_args(week="next"),
            "--repeat",
            "100000",
        ],
    ),
    (
        3,
        [
            *reserve_args(category="'; DELETE FROM categories; --", week="next"),
        ],
    ),
    (
        2,
        [
            *schedule_set_args("alice", "next", "mon;drop", "09:00-10:00"),
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


RESERVE = ["reserve", "--teacher", "alice", "--student", "bob", "--category", "maths"]
AT = ["--week", "next", "--day", "wed", "--time", "10:00-11:00"]
OPEN_MON = ["--days", "mon", "--hours", "09:00-10:00", "--open"]
PURCHASE = ["purchase", "add", "--student", "bob", "--teacher", "alice", "--category", "maths"]
LONG = "x" * 201  # SPEC §6: names, reasons, references and actors up to 200 characters

# issue 15 section C, cases 13 and 14: each gave a traceback, or a different exit code on
# PostgreSQL and SQLite. "{big_csv}" and "{folder}" are files the test makes.
HOSTILE += [
    # 13: tracebacks
    (3, ["user", "show", "²"]),  # '²'.isdigit() is True, int('²') is not
    (3, [*RESERVE[:2], "²", *RESERVE[3:], *AT]),
    (3, ["reserve", "--teacher", "alice", "--student", "²", *RESERVE[5:], *AT]),
    (3, ["user", "show", "99999999999999999999"]),
    (2, ["schedule", "show", "alice", "--week", "9999-W52"]),
    (2, ["schedule", "show", "alice", "--week", "0001-W01"]),
    (2, ["schedule", "set", "alice", "--week", "this..9999-W52", *OPEN_MON]),
    (2, ["export", "reservations", "--format", "csv", "--from", "0001-W01"]),
    (2, ["history", "--since", "0001-01-01"]),
    (2, ["history", "--since", "3000-01-01"]),
    (2, ["--now", "9999-12-31T23:59:59-05:00", "user", "list"]),
    (2, ["--now", "1899-12-31T23:00:00Z", "user", "list"]),
    (2, ["import", "users", "{big_csv}"]),  # a CSV field over 131072 characters
    (2, ["export", "reservations", "--format", "ics", "--output", "/nonexistent/x.ics"]),
    (2, ["export", "reservations", "--format", "csv", "--output", "{folder}"]),
    (2, ["export", "reservations", "--format", "csv", "--from", "next", "--to", "last"]),
    (4, ["--db", "postgresql://[::1", "user", "list"]),
    (4, ["--db", "postgresql://u:pw@[::1", "account", "credit", "bob", "5"]),
    # 14: the same limits on both databases, before the database sees the value
    (2, ["account", "credit", "bob", "30000000.00"]),
    (2, ["account", "credit", "bob", "10000000.01"]),
    (2, ["category", "add", "harp", "--price", "10000000.01"]),
    (2, ["session", "pay", "1", "--method", "card", "--expect-total", "92233720368547758.08"]),
    (2, [*PURCHASE, "--hours", "10000.5", "--price", "1.00"]),
    (2, [*PURCHASE, "--hours", "2", "--price", "30000000.00"]),
    (3, ["user", "show", "9999999999"]),
    (3, ["user", "show", "2147483648"]),
    (3, ["account", "show", "9999999999"]),
    (3, ["cancel", "2147483648"]),
    (3, ["move", "9999999999", *AT]),
    (3, ["session", "show", "9999999999"]),
    (3, ["session", "resume", "9999999999"]),
    (3, ["session", "pay", "9999999999", "--method", "cash"]),
    (3, ["session", "drop", "1", "9999999999"]),
    (3, ["history", "--session", "9999999999"]),
    (3, [*RESERVE, *AT, "--session", "9999999999"]),
    (3, [*RESERVE[:6], "9999999999", *AT]),  # a category id
    (3, ["schedule", "show", "9999999999"]),
    (2, ["--actor", LONG, "account", "credit", "bob", "5"]),
    (2, ["--actor", "a\x00b", "account", "credit", "bob", "5"]),
    (2, ["account", "credit", "bob", "5", "--reason", LONG]),
    (2, ["session", "pay", "1", "--method", "card", "--reference", LONG]),
    (2, ["user", "add", "zed", "--name", LONG, "--role", "student"]),
    (2, ["category", "add", LONG, "--price", "1.00"]),
    (2, ["user", "add", "12345", "--name", "Num", "--role", "student"]),
    (2, ["user", "add", "bob\n", "--name", "Bob", "--role", "student"]),
    (2, ["account", "credit", "bob", "٣٠"]),  # only ASCII digits are digits
    (2, ["account", "credit", "bob", "３０"]),
    (2, ["cancel", "٣"]),
    (2, ["session", "show", "²"]),
    (2, ["cancel", "1_0"]),
    (2, [*RESERVE, "--week", "٢٠٢٦-W49", "--day", "wed", "--time", "10:00-11:00"]),
    (2, [*RESERVE, "--week", "next", "--day", "٣", "--time", "10:00-11:00"]),
    (2, [*RESERVE, "--week", "next", "--day", "wed", "--time", "١٠:00-11:00"]),
]


@pytest.mark.parametrize(("code", "args"), HOSTILE, ids=[" ".join(a)[:40] for _, a in HOSTILE])
def test_hostile_input_changes_nothing(
    cli: Cli, tmp_path: Path, code: int, args: list[str]
) -> None:
    school(cli)
    big = tmp_path / "big.csv"
    big.write_text("handle,name,role\nzed," + "x" * 140_000 + ",student\n")
    files = {"{big_csv}": str(big), "{folder}": str(tmp_path)}
    before = _fingerprint(cli)
    result = cli.fails(code, *[files.get(a, a) for a in args])
    assert "Traceback" not in result.err
    assert _fingerprint(cli) == before


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("TUTORCTL_NOW", "9999-12-31T23:59:59-05:00", 2),
        ("TUTORCTL_NOW", "0001-01-01T00:00:00", 2),
        ("TUTORCTL_ACTOR", LONG, 2),
        ("TUTORCTL_DB", "postgresql://[::1", 4),
    ],
)
def test_hostile_environment_changes_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, name: str, value: str, code: int
) -> None:
    school(cli)
    before = _fingerprint(cli)
    monkeypatch.setenv(name, value)
    cli.fails(code, "account", "credit", "bob", "5")
    cli.fails(code, "user", "list")
    monkeypatch.undo()
    monkeypatch.setenv("TUTORCTL_DB", cli.url)
    monkeypatch.setenv("TUTORCTL_NOW", NOW)
    monkeypatch.setenv("TUTORCTL_ACTOR", "tester")
    assert _fingerprint(cli) == before


def test_limits_at_the_edge_are_accepted_on_both_databases(cli: Cli) -> None:
    """What SPEC §6 allows works the same on SQLite and PostgreSQL (issue 15 case 14: a
    30,000,000.00 credit was exit 0 on one and 4 on the other; a 201-character actor broke
    every mutation on PostgreSQL)."""
    school(cli)
    cli.ok("--actor", "a" * 200, "account", "credit", "bob", "10000000.00", "--reason", "r" * 200)
    cli.ok("user", "add", "zed", "--name", "z" * 200, "--role", "student")
    cli.ok(
        *purchase_args("10000", "10000000.00"),
    )
    cli.fails(3, "user", "show", "2147483647")
    assert cli.json("account", "show", "bob")["balance_cents"] == 1_000_000_000
    entry = cli.json("account", "history", "bob")["entries"][-1]
    assert (entry["actor"], entry["reason"]) == ("a" * 200, "r" * 200)
    assert cli.json("history")["entries"][-3]["actor"] == "a" * 200


SECRET = "Sekr3tQ"


def test_a_password_is_never_printed(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15 case 15: a password in a password= query parameter, or with an unencoded '@',
    appeared in `db info`, `demo` and connection errors."""
    if not db_url.startswith("postgresql"):
        pytest.skip("a password is a PostgreSQL matter")
    cli = Cli(db_url, capsys, monkeypatch)
    base, name = db_url.rsplit("/", 1)
    host = base.split("@", 1)[1]
    with_query = f"{db_url}?password={SECRET}"  # trust auth: the password is ignored
    for args in (["db", "info"], ["db", "info", "--json"], ["demo"]):
        result = cli.ok("--db", with_query, *args)
        assert SECRET not in result.out + result.err
        assert "password=***" in result.out
    unreachable = [
        f"postgresql://u:p@{SECRET}@nohost.invalid/{name}",  # unencoded '@': tail ≠ host
        f"postgresql://u:{SECRET}@nohost.invalid/{name}",
        f"postgresql://u@nohost.invalid/{name}?password={SECRET}",
        f"postgresql://postgres:{SECRET}@{host}/no_such_database_{name}",
        f"postgresql://postgres@{host}/no_such_database_{name}?password={SECRET}",
        f"postgresql://u:{SECRET}@[::1",
        f"postgresql://u:{SECRET}@{host}:99999/{name}",
    ]
    for url in unreachable:
        for args in (["db", "info"], ["user", "list"], ["db", "init"], ["demo"]):
            result = cli.fails(4, "--db", url, *args)
            assert SECRET not in result.err, result.err
            assert "ss@" not in result.err


def test_sql_looking_text_is_stored_verbatim(cli: Cli) -> None:
    school(cli)
    name = "Robert'); DROP TABLE users;-- 数学 ✓"
    cli.ok("user", "add", "bobby", "--name", name, "--role", "student")
    assert cli.json("user", "show", "bobby")["name"] == name
    cli.ok("category", "add", "数学 ✓; DROP", "--price", "1.00")
    assert "数学 ✓; DROP" in [c["name"] for c in cli.json("category", "list")["categories"]]
    assert len(cli.json("user", "list")["users"]) == 5

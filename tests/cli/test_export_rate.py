"""An exported lesson keeps the hourly price it was chosen at (column ``rate``), an imported
lesson's money must be its price's share of the minutes it pays, and ``check`` (invariant 4)
finds a booked or done lesson whose money does not cover its price."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import Cli, PgServer, fresh_database
from tests.helpers import reserve_args, schedule_set_args


def _people(cli: Cli, *db: str) -> None:
    for handle, role in (("alice", "teacher"), ("chloe", "student")):
        cli.ok(*db, "user", "add", handle, "--name", handle, "--role", role)
    cli.ok(*db, "category", "add", "maths", "--price", "40.00")


def _backend(cli: Cli) -> str:
    return "sqlite" if cli.url.startswith("sqlite") else "postgresql"


def _lesson(cli: Cli, *db: str) -> Any:
    lessons = cli.json(*db, "schedule", "show", "alice", "--week", "next")["lessons"]
    assert len(lessons) == 1, lessons
    return cli.json(*db, "lesson", "show", str(lessons[0]["id"]))


def _check_ok(cli: Cli, *db: str) -> None:
    result = cli(*db, "check", "--json")
    assert result.code == 0 and result.json()["violations"] == [], result.out


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_round_trip_after_a_price_change_keeps_the_price(
    cli: Cli, pg_server: PgServer, tmp_path: Path, fmt: str
) -> None:
    """The tester's case A: booked at 40.00, maths now 45.00 in both schools."""
    _people(cli)
    cli.ok(*schedule_set_args("alice", "this..+4", "mon-fri", "09:00-18:00"), "--open")
    cli.ok("account", "credit", "chloe", "100")
    sid = cli.json(*reserve_args(student="chloe", week="next", day="mon"))["session_id"]
    cli.ok("session", "confirm", str(sid))
    cli.ok("category", "set", "maths", "--price", "45.00")
    exported = tmp_path / f"rt.{fmt}"
    cli.ok("export", "reservations", "--format", fmt, "--output", str(exported))
    row = exported.read_text().splitlines()[-1]
    if fmt == "csv":
        assert row.endswith(",balance: 60 min = 40.00,40.00"), row
    else:
        assert json.loads(row)["rate_cents"] == 4000, row
    before = _lesson(cli)
    assert before["lesson"]["price_cents"] == 4000
    with fresh_database(_backend(cli), pg_server) as url:
        db = ("--db", url)
        _people(cli, *db)
        cli.ok(*db, "category", "set", "maths", "--price", "45.00")
        cli.ok(*db, "import", "reservations", str(exported))
        after = _lesson(cli, *db)
        assert after["lesson"]["price_cents"] == 4000, after
        assert after["funding"] == before["funding"]
        _check_ok(cli, *db)
        again = tmp_path / f"again.{fmt}"
        cli.ok(*db, "export", "reservations", "--format", fmt, "--output", str(again))
        assert again.read_text() == exported.read_text()
        # a longer move charges the extra hour at the lesson's own 40.00, as in school A
        cli.ok(*db, *schedule_set_args("alice", "this..+4", "mon-fri", "09:00-18:00"), "--open")
        moved = cli.json(*db, "move", str(after["lesson"]["id"]), "--week", "next", "--day", "mon",
                         "--time", "10:00-12:00")  # fmt: skip
        resume = cli.json(*db, "session", "resume", str(moved["session_id"]))
        assert resume["to_pay_cents"] == 4000, resume
        cli.ok(*db, "session", "pay", str(moved["session_id"]), "--method", "cash")
        cli.ok(*db, "session", "confirm", str(moved["session_id"]))
        assert _lesson(cli, *db)["lesson"]["price_cents"] == 8000
        _check_ok(cli, *db)


HEAD = "teacher,student,category,date,start,end,status,history,funding"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_money_unrelated_to_the_price_is_a_bad_row(cli: Cli, tmp_path: Path, fmt: str) -> None:
    """The tester's case B: 0.01 and 999,999.00 for an hour of maths at 40.00."""
    _people(cli)
    rows = [
        ("10:00", "11:00", "balance", 1),
        ("11:00", "12:00", "payment", 99999900),
        ("13:00", "14:00", "payment", 4000),  # right: the file is refused for the others
    ]
    if fmt == "csv":
        lines = [HEAD] + [
            f"alice,chloe,maths,2026-12-01,{a},{b},booked,true,{s}: 60 min = "
            f"{c // 100}.{c % 100:02d}"
            for a, b, s, c in rows
        ]
    else:
        lines = [
            json.dumps({"teacher": "alice", "student": "chloe", "category": "maths",
                        "date": "2026-12-01", "start": a, "end": b, "status": "booked",
                        "history": "true", "rate_cents": 4000,
                        "funding": [{"source": s, "minutes": 60, "amount_cents": c}]})
            for a, b, s, c in rows
        ]  # fmt: skip
    bad = tmp_path / f"bad.{fmt}"
    bad.write_text("\n".join(lines) + "\n")
    result = cli("import", "reservations", str(bad))
    assert result.code == 2 and result.out == "", result.err
    first = 2 if fmt == "csv" else 1
    err = result.err.strip().splitlines()
    assert err[0] == f"error: 2 bad row(s) in bad.{fmt}; nothing was written", err
    assert err[1] == (
        f"  line {first}, column funding: its money (0.01) is not the price of the 60 min it "
        "pays (40.00 at 40.00 an hour)"
    ), err
    assert err[2] == (
        f"  line {first + 1}, column funding: its money (999999.00) is not the price of the "
        "60 min it pays (40.00 at 40.00 an hour)"
    ), err
    assert cli.json("schedule", "show", "alice", "--week", "2026-12-01")["lessons"] == []
    assert cli.json("account", "show", "chloe")["balance_cents"] == 0
    # the file's own rate is the price the money is held to
    fine = tmp_path / "fine.csv"
    fine.write_text(f"{HEAD},rate\nalice,chloe,maths,2026-12-01,10:00,12:00,booked,true,"
                    "payment: 120 min = 100.00,50.00\n")  # fmt: skip
    cli.ok("import", "reservations", str(fine))
    lesson = cli.json("schedule", "show", "alice", "--week", "2026-12-01")["lessons"][0]
    assert cli.json("lesson", "show", str(lesson["id"]))["lesson"]["price_cents"] == 10000


def test_check_finds_a_lesson_its_money_does_not_cover(cli: Cli, tmp_path: Path) -> None:
    """Invariant 4 counted minutes only: a lesson priced 45.00 holding 40.00 passed."""
    _people(cli)
    ok = tmp_path / "ok.csv"
    ok.write_text(f"{HEAD}\nalice,chloe,maths,2026-12-01,10:00,11:00,booked,true,"
                  "balance: 60 min = 40.00\n")  # fmt: skip
    cli.ok("import", "reservations", str(ok))
    _check_ok(cli)
    lesson = cli.json("schedule", "show", "alice", "--week", "2026-12-01")["lessons"][0]
    engine = create_engine(cli.url)
    set_price = text("UPDATE reservations SET price_cents = :p WHERE id = :id")
    try:
        with engine.begin() as conn:
            conn.execute(set_price, {"p": 4500, "id": lesson["id"]})
        result = cli("check", "--json")
        assert result.code == 1, result.out
        assert result.json()["violations"] == [
            f"funding: lesson {lesson['id']} is paid 4000 for 60 min, its price's share is "
            "4500 (of 4500)"
        ]
    finally:
        with engine.begin() as conn:  # the fixture's own check runs after the test
            conn.execute(set_price, {"p": 4000, "id": lesson["id"]})
        engine.dispose()


def test_a_lesson_from_before_rates_were_kept_exports_its_price_per_hour(
    cli: Cli, tmp_path: Path
) -> None:
    """No kept rate (a database migrated from before the column): its price's share of an
    hour, which reads back as the same price."""
    _people(cli)
    two = tmp_path / "two.csv"
    two.write_text(f"{HEAD},rate\nalice,chloe,maths,2026-12-01,10:00,12:00,booked,true,"
                   "balance: 120 min = 91.00,45.50\n")  # fmt: skip
    cli.ok("import", "reservations", str(two))
    engine = create_engine(cli.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE reservations SET rate_cents = NULL"))
    engine.dispose()
    rows = cli.ok("export", "reservations", "--format", "csv").out.splitlines()
    assert rows[1].endswith(",balance: 120 min = 91.00,45.50"), rows

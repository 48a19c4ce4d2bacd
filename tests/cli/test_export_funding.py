"""Issue 23, item 2: an export carries the whole funding of a lesson (every package with its
minutes, the balance and the payment with their money), and `import reservations` reads it
back into a fresh database of the same backend with nothing lost: `check` passes there and
every lesson has the same funding."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, PgServer, fresh_database, school
from tests.helpers import purchase_args, reserve_args

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"


def _package(cli: Cli, *db: str, hours: str = "1", student: str = "bob") -> None:
    cli.ok(
        *db, *purchase_args(hours, f"{40 * int(hours)}.00", student=student),
    )  # fmt: skip


def _book(cli: Cli, day: str, time: str, *, card: bool) -> None:
    data = cli.json(
        *reserve_args(week="next", day=day, time=time),
    )  # fmt: skip
    sid = str(data["session_id"])
    if card:
        cli.ok("session", "pay", sid, "--method", "card")
    cli.ok("session", "confirm", sid)


def _multi_source_school(cli: Cli, tmp_path: Path) -> None:
    """Lesson A: 2 h, 1 h from package 1 and 1 h from the balance. Lesson B: 3 h, 1 h each
    from packages 2 and 3 and 1 h paid by card. And a done lesson from package 4 (2 h)."""
    school(cli)
    _package(cli)  # 1
    cli.ok("account", "credit", "bob", "40")
    _book(cli, "wed", "10:00-12:00", card=False)
    _package(cli)  # 2
    _package(cli)  # 3
    _book(cli, "thu", "10:00-13:00", card=True)
    _package(cli, hours="2")  # 4
    done = tmp_path / "done.csv"
    done.write_text(
        "teacher,student,category,date,start,end,status,purchase\n"
        "alice,bob,maths,2026-11-16,10:00,12:00,done,4\n"
    )
    cli.ok("import", "reservations", str(done))


def _fundings(cli: Cli, *db: str) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """(date, start) → the lesson's funding parts (the payment's own id is not the lesson's)."""
    found = {}
    for week in ("2026-W47", "next"):
        for lesson in cli.json(*db, "schedule", "show", "alice", "--week", week)["lessons"]:
            shown = cli.json(*db, "lesson", "show", str(lesson["id"]))
            found[(lesson["date"], lesson["start"])] = [
                (p["source"], p["minutes"], p["amount_cents"], p["purchase_id"])
                for p in shown["funding"]
            ]
    return found


def _fresh_school(cli: Cli, url: str) -> None:
    """The same users, categories and packages (same ids), nothing else."""
    db = ("--db", url)
    for handle, role in (("alice", "teacher"), ("bruno", "teacher"), ("bob", "student")):
        cli.ok(*db, "user", "add", handle, "--name", handle, "--role", role)
    cli.ok(*db, "category", "add", "maths", "--price", "40.00")
    for hours in ("1", "1", "1", "2"):
        _package(cli, *db, hours=hours)


def _backend(cli: Cli) -> str:
    return "sqlite" if cli.url.startswith("sqlite") else "postgresql"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_multi_source_lessons_round_trip(
    cli: Cli, pg_server: PgServer, tmp_path: Path, fmt: str
) -> None:
    _multi_source_school(cli, tmp_path)
    before = _fundings(cli)
    assert before[("2026-12-02", "10:00")] == [("purchase", 60, 0, 1), ("balance", 60, 4000, None)]
    assert before[("2026-12-03", "10:00")] == [
        ("purchase", 60, 0, 2), ("purchase", 60, 0, 3), ("payment", 60, 4000, None),
    ]  # fmt: skip
    exported = tmp_path / f"lessons.{fmt}"
    cli.ok("export", "reservations", "--format", fmt, "--output", str(exported))
    with fresh_database(_backend(cli), pg_server) as url:
        _fresh_school(cli, url)
        cli.ok("--db", url, "import", "reservations", str(exported))
        assert _fundings(cli, "--db", url) == before
        result = cli("--db", url, "check", "--json")
        assert result.code == 0 and result.json()["violations"] == [], result.out
        packages = cli.json("--db", url, "purchase", "list")["purchases"]
        assert [p["consumed_minutes"] for p in packages] == [60, 60, 60, 120]
        # the money came with its lessons: nothing lands on the balance
        assert cli.json("--db", url, "account", "show", "bob")["balance_cents"] == 0
        again = tmp_path / f"again.{fmt}"
        cli.ok("--db", url, "export", "reservations", "--format", fmt, "--output", str(again))
        assert again.read_text() == exported.read_text()  # export → import → export: the same
        # the imported money is the lesson's like any other: a cancel refunds it to the balance
        # and gives the package hours back
        lesson = cli.json("--db", url, "schedule", "show", "alice", "--week", "next")["lessons"][1]
        sid = cli.json("--db", url, "cancel", str(lesson["id"]))["session_id"]
        cli.ok("--db", url, "session", "confirm", str(sid))
        assert cli.json("--db", url, "account", "show", "bob")["balance_cents"] == 4000
        packages = cli.json("--db", url, "purchase", "list")["purchases"]
        assert [p["consumed_minutes"] for p in packages] == [60, 0, 0, 120]
        result = cli("--db", url, "check", "--json")
        assert result.code == 0 and result.json()["violations"] == [], result.out


def test_the_funding_column(cli: Cli, tmp_path: Path) -> None:
    """One column, every source: package hours by id, money with its amount."""
    _multi_source_school(cli, tmp_path)
    rows = cli.ok("export", "reservations", "--format", "csv").out.splitlines()
    assert rows[0] == "teacher,student,category,date,start,end,status,history,funding,rate"
    assert rows[1:] == [
        "alice,bob,maths,2026-11-16,10:00,12:00,done,true,purchase 4: 120 min,40.00",
        "alice,bob,maths,2026-12-02,10:00,12:00,booked,true,purchase 1: 60 min; "
        "balance: 60 min = 40.00,40.00",
        "alice,bob,maths,2026-12-03,10:00,13:00,booked,true,purchase 2: 60 min; "
        "purchase 3: 60 min; payment: 60 min = 40.00,40.00",
    ]
    lines = cli.ok("export", "reservations", "--format", "jsonl").out.splitlines()
    assert json.loads(lines[2])["rate_cents"] == 4000
    assert json.loads(lines[2])["funding"] == [
        {"source": "purchase", "purchase_id": 2, "minutes": 60},
        {"source": "purchase", "purchase_id": 3, "minutes": 60},
        {"source": "payment", "minutes": 60, "amount_cents": 4000},
    ]


HEAD = "teacher,student,category,date,start,end,status"


def test_package_hours_that_run_out_name_their_line(cli: Cli, tmp_path: Path) -> None:
    """The issue's failure, with the old single `purchase` column: a 2 h lesson on a package
    with 1 h left is refused on its own line (it used to be a line-less "file" error)."""
    school(cli)
    _package(cli)
    old = tmp_path / "old.csv"
    old.write_text(f"{HEAD},purchase\nalice,bob,maths,2026-11-16,10:00,12:00,done,1\n")
    result = cli("import", "reservations", str(old))
    assert result.code == 2 and result.out == ""
    assert "line 2, column purchase: purchase 1 has 60 min left" in result.err, result.err
    many = tmp_path / "many.csv"
    many.write_text(
        f"{HEAD},funding\n"
        "alice,bob,maths,2026-11-16,10:00,11:00,done,purchase 1: 60 min\n"  # 2: fine
        "alice,bob,maths,2026-11-17,10:00,11:00,done,purchase 1: 60 min\n"  # 3: none left
        "alice,bob,maths,2026-11-18,10:00,12:00,done,purchase 1: 60 min; balance: 60 min = 40.00\n"
    )
    result = cli("import", "reservations", str(many))
    assert result.code == 2 and result.out == ""
    lines = result.err.strip().splitlines()
    assert lines[0] == "error: 2 bad row(s) in many.csv; nothing was written"
    assert lines[1].startswith("  line 3, column funding: purchase 1 has 60 min left"), lines
    assert lines[2].startswith("  line 4, column funding: purchase 1 has 60 min left"), lines
    assert cli.json("purchase", "list")["purchases"][0]["consumed_minutes"] == 0
    assert cli.json("schedule", "show", "alice", "--week", "2026-W47")["lessons"] == []


def test_bad_funding_values_are_reported_per_line(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    _package(cli)
    _package(cli, student="carl")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{HEAD},funding,purchase\n"
        "alice,bob,maths,2026-11-16,10:00,12:00,done,purchase 1: 60 min,\n"  # 2: 60 of 120
        "alice,bob,maths,2026-11-17,10:00,11:00,done,cash: 60 min = 40.00,\n"  # 3: no source
        "alice,bob,maths,2026-11-18,10:00,11:00,done,balance: 60 min,\n"  # 4: no amount
        "alice,bob,maths,2026-11-19,10:00,11:00,done,purchase 2: 60 min,\n"  # 5: carl's
        "alice,bob,maths,2026-11-20,10:00,11:00,done,purchase 1: 60 min,1\n"  # 6: both columns
        "alice,bob,maths,2026-11-20,14:00,15:00,done,balance: 60 min = -4.00,\n"  # 7: negative
    )
    result = cli("import", "reservations", str(bad))
    assert result.code == 2, result.err
    err = result.err
    assert "line 2, column funding: the funding covers 60 of the lesson's 120 min" in err, err
    assert "line 3, column funding: bad funding part 'cash: 60 min = 40.00'" in err, err
    assert "line 4, column funding: bad funding part 'balance: 60 min'" in err, err
    assert "line 5, column funding: purchase 2 is not this student's package" in err, err
    assert "line 6, column funding: give the funding or the purchase, not both" in err, err
    assert "line 7, column funding: bad funding part 'balance: 60 min = -4.00'" in err, err
    jsonl = tmp_path / "bad.jsonl"
    row = {"teacher": "alice", "student": "bob", "category": "maths", "date": "2026-11-16",
           "start": "10:00", "end": "11:00", "status": "done"}  # fmt: skip
    jsonl.write_text(
        json.dumps({**row, "funding": [{"source": "balance", "minutes": 60, "amount_cents": 40.0}]})
        + "\n"
        + json.dumps({**row, "date": "2026-11-17", "funding": [{"source": "purchase", "minutes": 60}]})
        + "\n"
    )  # fmt: skip
    result = cli("import", "reservations", str(jsonl))
    assert result.code == 2, result.err
    assert "line 1, column funding: " in result.err and "JSON float" in result.err, result.err
    assert "line 2, column funding: " in result.err and "purchase_id" in result.err, result.err
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    assert cli.json("schedule", "show", "alice", "--week", "2026-W47")["lessons"] == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_sample_files_fund_a_lesson_from_two_sources(cli: Cli, fmt: str) -> None:
    """examples/import/reservations.csv and .jsonl: the same lessons, the same funding."""
    for kind in ("users", "categories", "availability", "purchases", "credits"):
        cli.ok("import", kind, str(SAMPLES / f"{kind}.csv"))
    result = cli.json("import", "reservations", str(SAMPLES / f"reservations.{fmt}"))
    assert result["details"] == {"lessons": 5, "funded_minutes": 240, "funded_cents": 4000}
    week = cli.json("schedule", "show", "alice", "--week", "2026-11-13")["lessons"]
    lesson = next(x for x in week if x["date"] == "2026-11-13")
    funding = cli.json("lesson", "show", str(lesson["id"]))["funding"]
    assert [(p["source"], p["minutes"], p["amount_cents"], p["purchase_id"]) for p in funding] == [
        ("purchase", 60, 0, 1), ("balance", 60, 4000, None),
    ]  # fmt: skip
    assert cli.json("account", "show", "chloe")["balance_cents"] == 5000  # its credit, unspent
    history = cli.json("account", "history", "chloe")["entries"]
    assert [(e["reason"], e["amount_cents"], e["reservation_id"]) for e in history][-2:] == [
        (f"lesson {lesson['id']}: paid before the import", 4000, lesson["id"]),
        (f"lesson {lesson['id']}", -4000, lesson["id"]),
    ]


def test_a_money_part_of_no_whole_minute_reads_back(cli: Cli, tmp_path: Path) -> None:
    """A move's rounding can leave a few cents of payment on a lesson with no minute of its
    own: the export writes `payment: 0 min = 0.05`, and the import reads it back (a purchase
    part still needs a minute, and an empty money part is still refused)."""
    school(cli)
    good = tmp_path / "good.csv"
    good.write_text(
        f"{HEAD},funding\n"
        "alice,bob,maths,2026-11-16,10:00,11:00,done,balance: 60 min = 40.00; payment: 0 min = 0.05\n"
    )
    cli.ok("import", "reservations", str(good))
    (lesson,) = cli.json("schedule", "show", "alice", "--week", "2026-W47")["lessons"]
    parts = cli.json("lesson", "show", str(lesson["id"]))["funding"]
    assert [(p["source"], p["minutes"], p["amount_cents"]) for p in parts] == [
        ("balance", 60, 4000), ("payment", 0, 5),
    ]  # fmt: skip
    assert cli.json("check")["ok"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{HEAD},funding\n"
        "alice,bob,maths,2026-11-17,10:00,11:00,done,balance: 60 min = 40.00; payment: 0 min = 0.00\n"
        "alice,bob,maths,2026-11-18,10:00,11:00,done,purchase 1: 0 min; balance: 60 min = 40.00\n"
    )
    result = cli("import", "reservations", str(bad))
    assert result.code == 2, result.err
    err = result.err
    assert "line 2, column funding: bad funding part 'payment: 0 min = 0.00'" in err, err
    assert "line 3, column funding: bad funding part 'purchase 1: 0 min'" in err, err

"""import / export: all or nothing, every bad row reported, round trips, ICS across DST."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, school

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"
KINDS = ["users", "categories", "availability", "purchases", "credits", "reservations"]


def _load_samples(cli: Cli) -> None:
    for kind in KINDS:
        cli.ok("import", kind, str(SAMPLES / f"{kind}.csv"))


def test_sample_files_import_and_check(cli: Cli) -> None:
    _load_samples(cli)
    result = cli.json("import", "users", str(SAMPLES / "users.jsonl"))
    assert (result["rows"], result["written"]) == (2, 2)
    assert len(cli.json("user", "list")["users"]) == 6
    assert cli.json("account", "show", "david")["balance_cents"] == 12000
    chloe = cli.json("purchase", "list", "--student", "chloe")["purchases"][0]
    assert (chloe["consumed_minutes"], chloe["owed_minutes"]) == (180, 120)
    week = cli.json("schedule", "show", "alice", "--week", "2026-W49")
    assert [s["time"] for s in week["days"][2]["slots"] if s["open"]] == [
        "09:00",
        "10:00",
        "11:00",
        "14:00",
        "15:00",
        "16:00",
        "17:00",
    ]
    assert [x["status"] for x in week["lessons"]] == ["booked"]


def test_bad_rows_are_all_reported_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    existing = cli.json(
        "reserve",
        "--teacher",
        "alice",
        "--student",
        "bob",
        "--category",
        "maths",
        "--week",
        "this",
        "--day",
        "wed",
        "--time",
        "10:00-11:00",
    )
    bad = tmp_path / "lessons.csv"
    bad.write_text(
        "teacher,student,category,date,start,end\n"
        "alice,carl,maths,2026-11-25,10:00,11:00\n"  # 2: overlaps the held lesson
        "alice,nobody,maths,2026-11-26,10:00,11:00\n"  # 3: unknown student
        "alice,carl,maths,2026-11-26,10:30,11:00\n"  # 4: off the grid
        "alice,carl,maths,2026-11-28,10:00,11:00\n"  # 5: Saturday, closed
        "alice,carl,cooking,2026-11-27,10:00,11:00\n"  # 6: unknown category
        "alice,carl,maths,2026-11-27,15:00,16:00\n"  # 7: fine
        "alice,carl,maths,2026-11-27,09:00,08:00\n"  # 8: end before start
    )
    result = cli("import", "reservations", str(bad))
    assert result.code == 2 and result.out == ""
    lines = result.err.strip().splitlines()
    assert lines[0] == "error: 6 bad row(s) in lessons.csv; nothing was written"
    reported = [line.split(",")[0].strip() for line in lines[1:]]
    assert reported == ["line 2", "line 3", "line 4", "line 5", "line 6", "line 8"]
    assert f"overlaps lesson {existing['reservation_id']}" in lines[1]
    lessons = cli.json("schedule", "show", "alice")["lessons"]
    assert [x["id"] for x in lessons] == [existing["reservation_id"]]


@pytest.mark.parametrize(
    "content", ["handle,name\nx,y\n", "not,a,header\n1,2,3,4\n", '{"handle": 1\n', "[1,2]\n"]
)
def test_malformed_files(cli: Cli, tmp_path: Path, content: str) -> None:
    path = tmp_path / ("f.jsonl" if content.startswith(("{", "[")) else "f.csv")
    path.write_text(content)
    assert cli("import", "users", str(path)).code == 2
    assert cli.json("user", "list", "--all")["users"] == []


def test_usage_errors(cli: Cli, tmp_path: Path) -> None:
    cli.fails(2, "import", "unicorns", str(SAMPLES / "users.csv"))
    cli.fails(2, "import", "users", str(tmp_path / "missing.csv"))
    (tmp_path / "users.txt").write_text("handle,name,role\n")
    cli.fails(2, "import", "users", str(tmp_path / "users.txt"))
    cli.fails(2, "import", "users", "-")
    cli.fails(2, "export", "reservations", "--format", "xml")


def test_dry_run_writes_nothing(cli: Cli) -> None:
    result = cli.json("import", "users", str(SAMPLES / "users.csv"), "--dry-run")
    assert result["dry_run"] is True and result["written"] == 4
    assert cli.json("user", "list")["users"] == []
    assert all(e["command"] != "import users" for e in cli.json("history")["entries"])


def test_stdin(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO('{"handle": "zoe", "name": "Zoé", "role": "student"}\n')
    )
    cli.ok("import", "users", "-", "--format", "jsonl")
    assert cli.json("user", "show", "zoe")["name"] == "Zoé"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_round_trip_into_a_fresh_database(cli: Cli, tmp_path: Path, fmt: str) -> None:
    _load_samples(cli)
    cli.ok("account", "credit", "chloe", "100")
    cli.ok(
        "reserve",
        "--teacher",
        "alice",
        "--student",
        "chloe",
        "--category",
        "maths",
        "--week",
        "2026-W49",
        "--day",
        "thu",
        "--time",
        "14:00-16:00",
    )
    sid = cli.json("session", "list", "--student", "chloe")["sessions"][0]["id"]
    cli.ok("session", "confirm", str(sid))
    exported = tmp_path / f"lessons.{fmt}"
    cli.ok("export", "reservations", "--format", fmt, "--output", str(exported))
    before = sorted(_lesson_keys(cli))
    assert len(before) == 5
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    cli.ok("--db", fresh, "db", "init")
    for kind in ("users", "categories"):
        cli.ok("--db", fresh, "import", kind, str(SAMPLES / f"{kind}.csv"))
    cli.ok("--db", fresh, "import", "reservations", str(exported))
    assert sorted(_lesson_keys(cli, "--db", fresh)) == before
    assert cli("--db", fresh, "check").code == 0


def _lesson_keys(cli: Cli, *db: str) -> list[tuple[str, ...]]:
    keys = []
    for teacher in ("alice", "bruno"):
        for week in ("2026-W45", "2026-W46", "2026-W49"):
            for x in cli.json(*db, "schedule", "show", teacher, "--week", week)["lessons"]:
                if x["teacher"] == teacher:
                    keys.append(
                        (
                            x["teacher"],
                            x["student"],
                            x["category"],
                            x["date"],
                            x["start"],
                            x["end"],
                            x["status"],
                        )
                    )
    return keys


def test_ics_opens_in_a_real_calendar_library_with_dst_offsets(cli: Cli, tmp_path: Path) -> None:
    icalendar = pytest.importorskip("icalendar")
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    cli.ok("user", "add", "bob", "--name", "Bob, Jr.", "--role", "student")
    cli.ok("category", "add", "maths; advanced", "--price", "40")
    lessons = tmp_path / "h.csv"
    lessons.write_text(
        "teacher,student,category,date,start,end,status\n"
        "alice,bob,maths; advanced,2026-10-24,10:00,11:00,done\n"  # CEST, UTC+2
        "alice,bob,maths; advanced,2026-10-26,10:00,11:00,done\n"  # CET, UTC+1
    )
    cli.ok("import", "reservations", str(lessons))
    path = tmp_path / "lessons.ics"
    cli.ok("export", "reservations", "--format", "ics", "--output", str(path))
    raw = path.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # every content line ends with CRLF
    calendar = icalendar.Calendar.from_ical(raw)
    events = [c for c in calendar.walk("VEVENT")]
    starts = sorted(e.decoded("DTSTART").isoformat() for e in events)
    assert starts == ["2026-10-24T08:00:00+00:00", "2026-10-26T09:00:00+00:00"]
    assert {str(e.get("SUMMARY")) for e in events} == {"maths; advanced: alice with bob"}
    assert all((e.decoded("DTEND") - e.decoded("DTSTART")).total_seconds() == 3600 for e in events)

"""import / export: all or nothing, every bad row reported, round trips, ICS across DST."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, school
from tests.helpers import purchase_args, reserve_args

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "import"
KINDS = ["users", "categories", "availability", "purchases", "credits", "reservations"]


def _load_samples(cli: Cli) -> None:
    for kind in KINDS:
        cli.ok("import", kind, str(SAMPLES / f"{kind}.csv"))


@pytest.mark.pooled
def test_sample_files_import_and_check(cli: Cli) -> None:
    _load_samples(cli)
    result = cli.json("import", "users", str(SAMPLES / "users.jsonl"))
    assert (result["rows"], result["written"]) == (2, 2)
    assert len(cli.json("user", "list")["users"]) == 6
    assert cli.json("account", "show", "david")["balance_cents"] == 12000
    chloe = cli.json("purchase", "list", "--student", "chloe")["purchases"][0]
    assert (chloe["consumed_minutes"], chloe["owed_minutes"]) == (240, 120)
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


@pytest.mark.pooled
def test_bad_rows_are_all_reported_and_nothing_is_written(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    existing = cli.json(
        *reserve_args(),
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


@pytest.mark.pooled
def test_stdin(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        sys, "stdin", io.StringIO('{"handle": "zoe", "name": "Zoé", "role": "student"}\n')
    )
    cli.ok("import", "users", "-", "--format", "jsonl")
    assert cli.json("user", "show", "zoe")["name"] == "Zoé"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.pooled
def test_round_trip_into_a_fresh_database(cli: Cli, tmp_path: Path, fmt: str) -> None:
    _load_samples(cli)
    cli.ok("account", "credit", "chloe", "100")
    cli.ok(
        *reserve_args(student="chloe", week="2026-W49", day="thu", time="14:00-16:00"),
    )
    sid = cli.json("session", "list", "--student", "chloe")["sessions"][0]["id"]
    cli.ok("session", "confirm", str(sid))
    exported = tmp_path / f"lessons.{fmt}"
    cli.ok("export", "reservations", "--format", fmt, "--output", str(exported))
    before = sorted(_lesson_keys(cli))
    assert len(before) == 6
    packages = cli.json("purchase", "list")["purchases"]
    assert sum(p["consumed_minutes"] for p in packages) == 360  # 4 imported + 2 booked hours
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    cli.ok("--db", fresh, "db", "init")
    for kind in ("users", "categories", "purchases"):  # not availability: not needed
        cli.ok("--db", fresh, "import", kind, str(SAMPLES / f"{kind}.csv"))
    cli.ok("--db", fresh, "import", "reservations", str(exported))
    assert sorted(_lesson_keys(cli, "--db", fresh)) == before
    # the funding purchase came back: the same package hours are consumed (issue 15 case 17)
    assert cli.json("--db", fresh, "purchase", "list")["purchases"] == packages
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


# -- issue 15, cases 16 and 17 ---------------------------------------------------------------


def test_a_utf8_bom_is_accepted(cli: Cli, tmp_path: Path) -> None:
    """Spreadsheets save "CSV UTF-8" with a byte order mark: it is not part of the header."""
    csv_file = tmp_path / "users.csv"
    csv_file.write_bytes("handle,name,role\nzoe,Zoé,student\n".encode("utf-8-sig"))
    cli.ok("import", "users", str(csv_file))
    jsonl = tmp_path / "users.jsonl"
    jsonl.write_bytes('{"handle": "yan", "name": "Yan", "role": "teacher"}\n'.encode("utf-8-sig"))
    cli.ok("import", "users", str(jsonl))
    assert [u["handle"] for u in cli.json("user", "list")["users"]] == ["yan", "zoe"]


@pytest.mark.parametrize("handle", ["123", "2147483648", "007"])
def test_an_all_digit_handle_is_refused(cli: Cli, tmp_path: Path, handle: str) -> None:
    path = tmp_path / "users.csv"
    path.write_text(f"handle,name,role\nann,Ann,student\n{handle},Num,student\n")
    result = cli("import", "users", str(path))
    assert result.code == 2 and result.out == ""
    assert f"line 3, column handle: bad handle '{handle}'" in result.err
    assert cli.json("user", "list", "--all")["users"] == []


def test_done_rows_are_checked_for_overlap(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    path = tmp_path / "done.csv"
    path.write_text(
        "teacher,student,category,date,start,end,status\n"
        "alice,bob,maths,2026-11-02,10:00,11:00,done\n"
        "alice,carl,maths,2026-11-02,10:00,12:00,done\n"  # alice twice at 10:00
    )
    result = cli("import", "reservations", str(path))
    assert result.code == 2
    assert "line 2, column start: overlaps line 3" in result.err
    assert "line 3, column start: overlaps line 2" in result.err
    one = tmp_path / "one.csv"
    one.write_text(
        "teacher,student,category,date,start,end,status\n"
        "alice,bob,maths,2026-11-02,10:00,11:00,done\n"
    )
    cli.ok("import", "reservations", str(one))
    lesson = cli.json("schedule", "show", "alice", "--week", "2026-11-02")["lessons"][0]["id"]
    again = tmp_path / "again.csv"  # a done row against a done lesson already there
    again.write_text(
        "teacher,student,category,date,start,end,status\n"
        "bruno,bob,piano,2026-11-02,09:00,11:00,done\n"
    )
    result = cli("import", "reservations", str(again))
    assert result.code == 2 and f"overlaps lesson {lesson}" in result.err
    assert len(cli.json("schedule", "show", "bob", "--week", "2026-11-02")["lessons"]) == 1


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("credits", '{"student": "bob", "amount": 1e2}'),
        ("credits", '{"student": "bob", "amount": 100.0}'),
        ("categories", '{"name": "chess", "price": 40.5}'),
        ("purchases", '{"student": "bob", "teacher": "alice", "category": "maths", '
         '"hours": 2, "price": 80.0}'),
    ],
)  # fmt: skip
def test_json_floats_are_refused_for_money(cli: Cli, tmp_path: Path, kind: str, line: str) -> None:
    school(cli)
    path = tmp_path / f"{kind}.jsonl"
    path.write_text(line + "\n")
    result = cli("import", kind, str(path))
    assert result.code == 2 and "is a JSON float" in result.err, result.err
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    assert len(cli.json("category", "list")["categories"]) == 2
    assert cli.json("purchase", "list")["purchases"] == []


def test_json_money_as_a_string_or_a_whole_number(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    path = tmp_path / "credits.jsonl"
    path.write_text('{"student": "bob", "amount": "45.50"}\n{"student": "bob", "amount": 100}\n')
    cli.ok("import", "credits", str(path))
    assert cli.json("account", "show", "bob")["balance_cents"] == 14550


def test_a_csv_field_over_the_limit_is_one_error(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("handle,name,role\nzed," + "x" * 140_000 + ",student\n")
    result = cli.fails(2, "import", "users", str(path))
    assert "line 2" in result.err and "field larger than field limit" in result.err
    assert cli.json("user", "list", "--all")["users"] == []


def test_import_limits(cli: Cli, tmp_path: Path) -> None:
    """SPEC §6 limits apply to imported rows as to the command line, on both databases."""
    school(cli)
    credits = tmp_path / "credits.csv"
    credits.write_text(
        "student,amount,reason\n"
        f"bob,5,{'y' * 201}\n"  # 2: a reason over 200 characters
        "bob,10000000.01,x\n"  # 3: over 10,000,000.00
    )
    result = cli("import", "credits", str(credits))
    assert result.code == 2 and "line 2, column reason" in result.err
    assert "line 3, column amount" in result.err
    purchases = tmp_path / "purchases.csv"
    purchases.write_text(
        "student,teacher,category,hours,price\n"
        "bob,alice,maths,10000.5,1.00\n"  # 2: over 10,000 hours
        "bob,alice,maths,١٠,1.00\n"  # 3: not ASCII digits
        "bob,bob,maths,1,1.00\n"  # 4: the teacher is a student
    )
    result = cli("import", "purchases", str(purchases))
    assert result.code == 2 and "line 2, column hours" in result.err
    assert "line 3, column hours" in result.err
    assert "line 4, column teacher: 'bob' is a student, not a teacher" in result.err
    lessons = tmp_path / "lessons.csv"
    lessons.write_text(
        "teacher,student,category,date,start,end,status,purchase\n"
        "alice,bob,maths,2026-11-02,10:00,11:00,done,99999999999\n"  # 2: id over 2**31-1
        "alice,bob,maths,0001-01-01,10:00,11:00,done,\n"  # 3: year 1
    )
    result = cli("import", "reservations", str(lessons))
    assert result.code == 2 and "line 2, column purchase: no purchase" in result.err
    assert "line 3, column date" in result.err
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    assert cli.json("purchase", "list")["purchases"] == []


def test_output_is_written_atomically(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    keep = tmp_path / "keep.csv"
    keep.write_text("precious\n")
    keep.chmod(0o640)
    cli.fails(
        3, "export", "reservations", "--format", "csv", "--user", "nobody", "--output", str(keep)
    )
    cli.fails(
        2, "export", "reservations", "--format", "csv", "--from", "3000-W01", "--output", str(keep)
    )
    assert keep.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir() if "tutorctl.db" not in p.name) == ["keep.csv"]
    cli.fails(
        2, "export", "reservations", "--format", "csv", "--output", str(tmp_path / "no" / "x.ics")
    )
    assert not (tmp_path / "no").exists()
    cli.fails(2, "export", "reservations", "--format", "ics", "--output", str(tmp_path))
    cli.ok("export", "reservations", "--format", "csv", "--output", str(keep))
    assert keep.read_text().startswith(
        "teacher,student,category,date,start,end,status,history,funding"
    )
    assert keep.stat().st_mode & 0o777 == 0o640  # the file keeps its permissions
    new = tmp_path / "new.jsonl"
    cli.ok("export", "reservations", "--format", "jsonl", "--output", str(new))
    assert new.exists() and sorted(p.name for p in tmp_path.iterdir() if "tutorctl.db" not in p.name) == [
        "keep.csv", "new.jsonl",
    ]  # fmt: skip


def test_from_after_to_is_bad_input(cli: Cli) -> None:
    cli.fails(2, "export", "reservations", "--format", "csv", "--from", "next", "--to", "last")
    cli.ok("export", "reservations", "--format", "csv", "--from", "this", "--to", "this")


def test_a_round_trip_keeps_future_lessons_and_their_funding(cli: Cli, tmp_path: Path) -> None:
    """Booked future lessons are exported as records of bookings already made (history=true):
    they come back booked, with their package, into a fresh database without availability."""
    school(cli)
    cli.ok(
        *purchase_args("3", "120.00"),
    )  # fmt: skip
    reserve = ["--teacher", "alice", "--student", "bob", "--category", "maths", "--day", "wed"]
    for week in ("next", "+2"):
        cli.ok("reserve", *reserve, "--week", week, "--time", "10:00-12:00")
        sid = cli.json("session", "list", "--status", "open")["sessions"][0]["id"]
        resume = cli.json("session", "resume", str(sid))
        if resume["to_pay_cents"]:
            cli.ok("session", "pay", str(sid), "--method", "cash")
        cli.ok("session", "confirm", str(sid))
    exported = tmp_path / "lessons.csv"
    cli.ok("export", "reservations", "--format", "csv", "--output", str(exported))
    rows = exported.read_text().splitlines()
    assert rows[1].endswith(",booked,true,purchase 1: 120 min,40.00")  # 2 h from package 1
    # 1 h from package 1, 1 h paid in cash: both parts (issue 23: the payment was lost)
    assert rows[2].endswith(",booked,true,purchase 1: 60 min; payment: 60 min = 40.00,40.00")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    cli.ok("--db", fresh, "db", "init")
    cli.ok("--db", fresh, "import", "users", str(SAMPLES / "users.csv"))
    for handle in ("bob", "carl"):
        cli.ok("--db", fresh, "user", "add", handle, "--name", handle, "--role", "student")
    cli.ok("--db", fresh, "category", "add", "maths", "--price", "40.00")
    cli.ok(
        "--db", fresh, *purchase_args("4", "160.00"),
    )  # fmt: skip
    cli.ok("--db", fresh, "import", "reservations", str(exported))
    for week in ("next", "+2"):
        lessons = cli.json("--db", fresh, "schedule", "show", "alice", "--week", week)["lessons"]
        assert [(x["status"], x["start"], x["end"]) for x in lessons] == [
            ("booked", "10:00", "12:00")
        ]
    assert cli.json("--db", fresh, "purchase", "list")["purchases"][0]["consumed_minutes"] == 180
    assert cli("--db", fresh, "check").code == 0


def test_stdin_that_is_not_utf8_is_one_error(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO(b"handle,name,role\nzoe,Z\xff\xfe,student\n")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
    result = cli.fails(2, "import", "users", "-", "--format", "csv")
    assert "stdin is not UTF-8 text" in result.err
    bom = io.BytesIO("handle,name,role\nzoe,Zoé,student\n".encode("utf-8-sig"))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(bom, encoding="utf-8"))
    cli.ok("import", "users", "-", "--format", "csv")
    assert cli.json("user", "show", "zoe")["name"] == "Zoé"

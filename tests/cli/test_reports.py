"""Reports (SPEC §10): revenue, hours, balances, occupancy — exact figures of real scenarios,
their JSON and CSV shapes, bad periods; and the history link (``history --user``)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, purchase_args
from tutorctl.db.engine import get_engine

LATER = "2026-11-26T12:00:00+01:00"  # Thursday of this week: Wednesday's lessons are over


def _month(cli: Cli) -> dict[str, Any]:
    """A month at the school (November 2026; now is Tuesday 2026-11-24 09:00, Paris).

    bob:  L1 wed 10-11 alice maths, card 40.00 (done by Thursday)
          L2 thu 10-12 alice maths, card 80.00, cancelled in time: 80.00 back to his balance
          L4 tue 15-16 alice maths, card 40.00, cancelled late (6 h before): kept, no refund
          L5 fri 10-12 alice maths, card 80.00, moved to Mon 30 10-11: 40.00 back (move-refund)
          debit 30.00 paid out of his balance
    carl: credit 100.00; L3 wed 14-15 bruno piano from the balance (45.50; done by Thursday)
          package bruno piano 4 h for 160.00, 2 h paid (80.00 cash), 1 h settled later (40.00)
    """
    school(cli)
    ids = {"L1": booked(cli, day="wed", time="10:00-11:00")}
    ids["L2"] = booked(cli, day="thu", time="10:00-12:00")
    cli.ok("account", "credit", "carl", "100.00", "--reason", "cash at the desk")
    ids["L3"] = booked(cli, student="carl", teacher="bruno", category="piano", day="wed",
                       time="14:00-15:00")  # fmt: skip
    package = cli.json(*purchase_args("4", "160.00", student="carl", teacher="bruno", category="piano"),
                       "--paid-hours", "2")["id"]  # fmt: skip
    cli.ok("purchase", "settle", str(package), "--hours", "1", "--method", "card")
    ids["L4"] = booked(cli, day="tue", time="15:00-16:00")
    ids["L5"] = booked(cli, day="fri", time="10:00-12:00")
    planned = cli.json("cancel", str(ids["L2"]))
    cli.ok("session", "confirm", str(planned["session_id"]))
    planned = cli.json("cancel", str(ids["L4"]))
    cli.ok("session", "confirm", str(planned["session_id"]))
    moved = cli.json(*move_args(ids["L5"], week="next", day="mon", time="10:00-11:00"))
    cli.ok("session", "confirm", str(moved["session_id"]))
    ids["L6"] = moved["reservation_id"]
    cli.ok("account", "debit", "bob", "30.00", "--reason", "paid back in cash")
    cli.ok("--now", LATER, "expire")
    return ids


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: {k: v for k, v in row.items() if k not in ("name", "id")}
            for row in report["rows"]}  # fmt: skip


def _money(payments: int = 0, packages: int = 0, credits: int = 0, refunded: int = 0,
           paid_out: int = 0) -> dict[str, int]:  # fmt: skip
    taken = payments + packages + credits
    return {
        "payments_cents": payments,
        "package_payments_cents": packages,
        "credits_cents": credits,
        "taken_cents": taken,
        "refunded_cents": refunded,
        "paid_out_cents": paid_out,
        "net_cents": taken - paid_out,
    }


@pytest.mark.pooled
def test_revenue_of_a_month_totals_and_attribution(cli: Cli) -> None:
    _month(cli)
    total = cli.json("report", "revenue", "--month", "2026-11")
    assert total["period"] == {
        "label": "2026-11",
        "first_date": "2026-11-01",
        "last_date": "2026-11-30",
        "starts_at": "2026-11-01T00:00:00+01:00",
        "ends_at": "2026-12-01T00:00:00+01:00",
    }
    assert total["currency"] == "EUR" and total["rows"] == [] and total["by"] is None
    # payments 40 + 80 + 40 + 80 by card; packages 80 + 40; credit 100; refunds 80 + 40; debit 30
    everything = _money(24000, 12000, 10000, refunded=12000, paid_out=3000)
    assert {k: v for k, v in total["total"].items() if k not in ("name", "id")} == everything
    # by teacher: a payment goes to the lessons it funded; the part a shortened move gave back
    # (40.00 of L5's 80.00) is no lesson's any more: (account), like the credit and the debit
    by_teacher = cli.json("report", "revenue", "--by", "teacher", "--month", "2026-11")
    assert _rows(by_teacher) == {
        "alice": _money(20000, refunded=12000),
        "bruno": _money(packages=12000),
        "(account)": _money(4000, credits=10000, paid_out=3000),
    }
    assert [r["name"] for r in by_teacher["rows"]] == ["alice", "bruno", "(account)"]
    assert by_teacher["rows"][0]["id"] is not None and by_teacher["rows"][2]["id"] is None
    assert by_teacher["total"] == {**total["total"]}
    by_category = cli.json("report", "revenue", "--by", "category", "--month", "2026-11")
    assert _rows(by_category) == {
        "maths": _money(20000, refunded=12000),
        "piano": _money(packages=12000),
        "(account)": _money(4000, credits=10000, paid_out=3000),
    }
    by_month = cli.json("report", "revenue", "--by", "month", "--from", "2026-W45", "--to", "+2")
    assert by_month["period"]["label"] == "2026-W45..2026-W50"
    assert _rows(by_month) == {"2026-11": everything}  # nothing in December
    # nothing moved in October, and a week range picks money by the week it moved in
    assert cli.json("report", "revenue", "--month", "2026-10")["total"] == {
        "name": "total", "id": None, **_money()}  # fmt: skip
    assert cli.json("report", "revenue", "--from", "this")["total"]["taken_cents"] == 46000
    assert cli.json("report", "revenue", "--from", "last", "--to", "last")["total"] == {
        "name": "total", "id": None, **_money()}  # fmt: skip


def test_revenue_months_follow_the_school_zone(cli: Cli) -> None:
    """A payment at 00:30 on 1 December in Paris is 23:30 UTC on 30 November: December's."""
    school(cli)
    cli.ok("--now", "2026-12-01T00:30:00+01:00", "account", "credit", "bob", "10.00")
    cli.ok("--now", "2026-11-30T23:30:00+01:00", "account", "credit", "bob", "5.00")
    by_month = cli.json("report", "revenue", "--by", "month", "--from", "2026-W48", "--to",
                        "2026-W49")  # fmt: skip
    assert [(r["name"], r["credits_cents"]) for r in by_month["rows"]] == [
        ("2026-11", 500), ("2026-12", 1000)]  # fmt: skip
    assert cli.json("report", "revenue", "--month", "2026-12")["total"]["credits_cents"] == 1000


def test_hours_by_teacher_student_and_category(cli: Cli) -> None:
    _month(cli)

    def hours(booked: int = 0, done: int = 0, cancelled: int = 0, late: int = 0,
              moved: int = 0, lessons: int = 0) -> dict[str, int]:  # fmt: skip
        return {"lessons": lessons, "booked_minutes": booked, "done_minutes": done,
                "cancelled_minutes": cancelled, "late_cancelled_minutes": late,
                "moved_minutes": moved, "payable_minutes": done + late}  # fmt: skip

    alice = hours(booked=60, done=60, cancelled=120, late=60, moved=120, lessons=2)
    bruno = hours(done=60, lessons=1)
    by_teacher = cli.json("report", "hours", "--month", "2026-11")
    assert by_teacher["by"] == "teacher"
    assert _rows(by_teacher) == {"alice": alice, "bruno": bruno}
    assert by_teacher["total"] == {"name": "total", "id": None,
        **hours(booked=60, done=120, cancelled=120, late=60, moved=120, lessons=3)}  # fmt: skip
    assert _rows(cli.json("report", "hours", "--by", "student", "--month", "2026-11")) == {
        "bob": alice, "carl": bruno}  # fmt: skip
    assert _rows(cli.json("report", "hours", "--by", "category", "--month", "2026-11")) == {
        "maths": alice, "piano": bruno}  # fmt: skip
    # by the date of the lesson: this week has all but the moved lesson's new place (Mon 30)
    this_week = _rows(cli.json("report", "hours", "--from", "this", "--to", "this"))
    assert this_week["alice"] == hours(done=60, cancelled=120, late=60, moved=120, lessons=1)
    assert cli.json("report", "hours", "--month", "2026-12")["rows"] == []


@pytest.mark.pooled
def test_balances_who_owes_whom(cli: Cli) -> None:
    _month(cli)
    cli.ok("user", "add", "dora", "--name", "Dora", "--role", "student")
    cli.ok("account", "credit", "dora", "50.00")
    held = reserve(cli, "--json", student="dora", day="thu", week="next").json()  # 40.00
    reserve(cli, student="dora", day="fri", week="next")  # another 40.00: 30.00 to pay by card
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card", "--simulate", "pending")
    report = cli.json("report", "balances")
    assert report["currency"] == "EUR" and report["as_of"] == "2026-11-24T09:00:00+01:00"
    assert [{k: r[k] for k in ("student", "balance_cents", "reserved_cents", "available_cents",
                               "owed_minutes", "owed_cents")} for r in report["rows"]] == [
        {"student": "bob", "balance_cents": 9000, "reserved_cents": 0, "available_cents": 9000,
         "owed_minutes": 0, "owed_cents": 0},
        {"student": "carl", "balance_cents": 5450, "reserved_cents": 0, "available_cents": 5450,
         "owed_minutes": 60, "owed_cents": 4000},
        {"student": "dora", "balance_cents": 5000, "reserved_cents": 5000, "available_cents": 0,
         "owed_minutes": 0, "owed_cents": 0},
    ]  # fmt: skip
    assert report["total"]["student_id"] is None
    assert (report["total"]["balance_cents"], report["total"]["owed_cents"]) == (19450, 4000)
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card")  # settles it
    cli.ok("purchase", "settle", "1", "--method", "cash")
    after = {r["student"]: r for r in cli.json("report", "balances")["rows"]}
    assert set(after) == {"bob", "carl"} and after["carl"]["owed_minutes"] == 0  # dora: 0.00


def test_occupancy_open_against_booked_hours(cli: Cli) -> None:
    _month(cli)
    held = reserve(cli, "--json", student="carl", day="fri", time="14:00-16:00").json()
    report = cli.json("report", "occupancy", "--from", "this", "--to", "next")
    assert report["weeks"] == ["2026-W48", "2026-W49"]
    assert [(r["teacher"], r["week"], r["open_minutes"], r["booked_minutes"], r["held_minutes"])
            for r in report["rows"]] == [
        ("alice", "2026-W48", 45 * 60, 60, 120),  # L1 done (L2, L4, L5 cancelled); carl's hold
        ("alice", "2026-W49", 45 * 60, 60, 0),  # L6, the moved lesson
        ("bruno", "2026-W48", 45 * 60, 60, 0),  # L3 done
        ("bruno", "2026-W49", 45 * 60, 0, 0),
    ]  # fmt: skip
    # a month counts only its own days: of week 49, Monday 30 November
    november = cli.json("report", "occupancy", "--month", "2026-11")
    assert november["weeks"][0] == "2026-W44" and november["weeks"][-1] == "2026-W49"
    w49 = {r["teacher"]: r for r in november["rows"] if r["week"] == "2026-W49"}
    assert (w49["alice"]["open_minutes"], w49["alice"]["booked_minutes"]) == (9 * 60, 60)
    assert w49["bruno"]["open_minutes"] == 9 * 60
    assert {r["week"] for r in november["rows"]} == {"2026-W48", "2026-W49"}
    december = cli.json("report", "occupancy", "--month", "2026-12")  # from Tuesday 1st
    w49 = {r["teacher"]: r for r in december["rows"] if r["week"] == "2026-W49"}
    assert (w49["alice"]["open_minutes"], w49["alice"]["booked_minutes"]) == (4 * 9 * 60, 0)
    table = cli.ok("report", "occupancy", "--from", "this", "--to", "next").out
    assert "1/45 2%" in table and "+2 held" in table and "2/90 2%" in table
    cli.ok("session", "abandon", str(held["session_id"]))  # leave nothing held behind


@pytest.mark.pooled
def test_csv_is_a_spreadsheet_table(cli: Cli) -> None:
    _month(cli)
    out = cli.ok("report", "revenue", "--by", "teacher", "--month", "2026-11", "--format",
                 "csv").out  # fmt: skip
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["name", "id", "payments", "package_payments", "credits", "taken",
                       "refunded", "paid_out", "net"]  # fmt: skip
    assert rows[1][0] == "alice" and rows[1][2:] == ["200.00", "0.00", "0.00", "200.00",
                                                     "120.00", "0.00", "200.00"]  # fmt: skip
    assert rows[3][:2] == ["(account)", ""] and rows[-1][0] == "total" and len(rows) == 5
    hours = list(csv.DictReader(io.StringIO(
        cli.ok("report", "hours", "--month", "2026-11", "--format", "csv").out)))  # fmt: skip
    assert hours[0]["name"] == "alice" and hours[0]["late_cancelled_minutes"] == "60"
    balances = list(csv.DictReader(io.StringIO(
        cli.ok("report", "balances", "--format", "csv").out)))  # fmt: skip
    assert [(b["student"], b["balance"], b["owed"]) for b in balances] == [
        ("bob", "90.00", "0.00"), ("carl", "54.50", "40.00"), ("total", "144.50", "40.00")]  # fmt: skip
    occupancy = list(csv.DictReader(io.StringIO(
        cli.ok("report", "occupancy", "--format", "csv").out)))  # fmt: skip
    assert occupancy[0] == {"teacher": "alice", "teacher_id": "1", "week": "2026-W48",
                            "week_start": "2026-11-23", "open_minutes": "2700",
                            "booked_minutes": "60", "held_minutes": "0"}  # fmt: skip


def test_tables_show_each_report(cli: Cli) -> None:
    _month(cli)
    revenue = cli.ok("report", "revenue", "--by", "teacher").out
    assert "revenue by teacher · 2026-11 (2026-11-01 → 2026-11-30) · EUR" in revenue
    assert "(account)" in revenue and "460.00" in revenue
    assert "late cancelled" in cli.ok("report", "hours", "--by", "student").out
    assert "54.50" in cli.ok("report", "balances").out


@pytest.mark.parametrize(
    "args",
    [
        ("revenue", "--month", "2026-13"),
        ("revenue", "--month", "2026-1"),
        ("revenue", "--month", "nov"),
        ("revenue", "--month", "3000-01"),
        ("hours", "--from", "2026-W50", "--to", "2026-W48"),
        ("hours", "--from", "next", "--to", "this"),
        ("hours", "--from", "+2"),  # after this week, the default --to
        ("hours", "--to", "2026-W48"),
        ("hours", "--month", "2026-11", "--from", "this"),
        ("hours", "--from", "2026-W54"),
        ("hours", "--by", "room"),
        ("revenue", "--by", "student"),
        ("occupancy", "--format", "xml"),
        ("balances", "--format", "csv", "--json"),
    ],
)
def test_bad_periods_and_options_exit_2(cli: Cli, args: tuple[str, ...]) -> None:
    school(cli)
    cli.fails(2, "report", *args)


# -- history at scale: the (user, entry) link ------------------------------------------------------


def test_history_user_finds_expire_import_and_payment_entries(cli: Cli, tmp_path: Any) -> None:
    school(cli)
    booked(cli)  # a payment (card) and its confirmation
    reserve(cli, day="fri")  # an open session, expired below
    credits = tmp_path / "credits.csv"
    credits.write_text("student,amount,reason\nbob,12.00,opening balance\n")
    cli.ok("import", "credits", str(credits))
    cli.ok("--now", "2026-11-24T10:00:00+01:00", "expire")
    commands = [e["command"] for e in cli.json("history", "--user", "bob")["entries"]]
    assert "session pay" in commands and "import credits" in commands
    assert commands[-1] == "expire"
    carl = [e["command"] for e in cli.json("history", "--user", "carl")["entries"]]
    assert carl == ["user add"]  # nothing of bob's
    # paging through the link: the newest N, then older ones from an entry id
    bobs = cli.json("history", "--user", "bob")["entries"]
    newest = cli.json("history", "--user", "bob", "--limit", "2")["entries"]
    assert newest == bobs[-2:]
    older = cli.json("history", "--user", "bob", "--limit", "2", "--before",
                     str(newest[0]["id"]))["entries"]  # fmt: skip
    assert older == bobs[-4:-2]
    with get_engine(cli.url).begin() as conn:  # one link per person of every entry
        links = conn.execute(text("SELECT count(*) FROM history_users")).scalar_one()
        people = conn.execute(text(
            "SELECT user_ids FROM history")).scalars().all()  # fmt: skip
    assert links == sum(len(p.strip(",").split(",")) for p in people if p.strip(","))


def test_history_user_reads_the_link_not_the_text_column(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "5.00")
    with get_engine(cli.url).begin() as conn:  # the text column no longer decides
        conn.execute(text("UPDATE history SET user_ids = ','"))
    assert [e["command"] for e in cli.json("history", "--user", "bob")["entries"]] == [
        "user add", "account credit"]  # fmt: skip


def test_csv_never_hands_a_spreadsheet_a_formula_someone_typed(cli: Cli) -> None:
    _month(cli)
    cli.ok("user", "set", "carl", "--name", '=HYPERLINK("http://x","y")')
    balances = list(csv.DictReader(io.StringIO(
        cli.ok("report", "balances", "--format", "csv").out)))  # fmt: skip
    carl = next(b for b in balances if b["student"] == "carl")
    assert carl["name"] == '\'=HYPERLINK("http://x","y")'
    assert cli.json("report", "balances")["rows"][1]["name"] == '=HYPERLINK("http://x","y")'


def test_imported_past_packages_count_in_the_month_they_were_sold(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    sales = tmp_path / "purchases.csv"
    sales.write_text(
        "student,teacher,category,hours,price,paid_hours,date\n"
        "bob,bruno,maths,2,50.00,2,2026-10-15\n"
        "carl,alice,maths,1,40.00,1,2026-11-24\n"
    )
    cli.ok("import", "purchases", str(sales))
    october = cli.json("report", "revenue", "--month", "2026-10")["total"]
    november = cli.json("report", "revenue", "--month", "2026-11")["total"]
    assert october["package_payments_cents"] == 5000
    assert november["package_payments_cents"] == 4000

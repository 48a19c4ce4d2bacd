"""Running a school day after day (SPEC §10): corrections, the teacher's day off, one lesson's
story. Every scenario ends with `check` (the `cli` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, purchase_args, reserve_args

LATE = "2026-11-25T08:00:00+01:00"  # Wednesday, two hours before the 10:00 lesson


# -- user set, category set ----------------------------------------------------------------------


@pytest.mark.pooled
def test_user_set_renames_and_reactivates_with_history(cli: Cli) -> None:
    school(cli)
    cli.ok("user", "deactivate", "bob")
    assert "inactive" in reserve(cli).err
    shown = cli.json("user", "set", "bob", "--name", "Bob [the] Builder", "--active")
    assert shown["name"] == "Bob [the] Builder" and shown["active"] is True
    assert reserve(cli).code == 0
    entry = cli.json("history", "--user", "bob")["entries"][-2]
    assert entry["command"] == "user set"
    assert entry["details"]["changes"]["active"] == {"from": False, "to": True}
    cli.fails(2, "user", "set", "bob")  # nothing to change
    cli.fails(1, "user", "set", "bob", "--active")  # already so
    cli.fails(3, "user", "set", "nobody", "--inactive")
    cli.fails(2, "user", "set", "bob", "--name", "x" * 201)


def test_category_price_change_applies_to_lessons_booked_afterwards(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "100.00")
    first = booked(cli)  # at 40.00
    cli.ok("category", "set", "maths", "--price", "50.00", "--rename", "algebra")
    second = booked(cli, day="thu", category="algebra")
    prices = {
        lesson["id"]: lesson["price_cents"]
        for lesson in cli.json("schedule", "show", "alice")["lessons"]
    }
    assert prices[first] == 4000 and prices[second] == 5000
    assert cli.json("account", "show", "bob")["balance_cents"] == 1000
    assert [c["name"] for c in cli.json("category", "list")["categories"]] == ["algebra", "piano"]
    cli.fails(1, "category", "set", "algebra", "--rename", "piano")  # taken
    cli.fails(2, "category", "set", "algebra", "--rename", "123")
    cli.fails(2, "category", "set", "algebra", "--price", "-1")


def test_an_inactive_category_cannot_be_booked_until_reactivated(cli: Cli) -> None:
    school(cli)
    cli.ok("category", "set", "maths", "--inactive")
    assert "inactive" in cli.fails(1, *_reserve_args()).err
    assert [c["name"] for c in cli.json("category", "list")["categories"]] == ["piano"]
    cli.ok("category", "set", "maths", "--active")
    cli.ok(*_reserve_args())


def _reserve_args() -> tuple[str, ...]:
    return reserve_args()


# -- schedule off ---------------------------------------------------------------------------------


@pytest.mark.pooled
def test_teacher_off_cancels_and_refunds_everyone_in_full(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    paid_from_balance = booked(cli, day="wed", time="10:00-11:00")
    cli.ok(*purchase_args("2", "70.00", student="carl"))
    from_package = booked(cli, student="carl", day="wed", time="14:00-15:00")
    other_day = booked(cli, student="carl", day="thu", time="10:00-11:00")
    held = reserve(cli, "--json", student="carl", day="wed", time="16:00-17:00").json()
    # inside the notice: a cancel would be late, but the school waives it
    off = cli.json("--now", LATE, "schedule", "off", "alice", "--date", "2026-11-25",
                   "--reason", "ill [flu]")  # fmt: skip
    lines = {line["lesson_id"]: line for line in off["lessons"]}
    assert lines[paid_from_balance]["action"] == "cancelled"
    assert lines[paid_from_balance]["refunded_cents"] == 4000
    assert lines[from_package]["refunded_minutes"] == 60
    assert lines[held["reservation_id"]]["action"] == "released"
    assert (lines[held["reservation_id"]]["was"], lines[from_package]["was"]) == ("held", "booked")
    assert other_day not in lines
    assert off["closed_slots"] == 9
    assert cli.json("--now", LATE, "account", "show", "bob")["balance_cents"] == 4000
    carl = cli.json("--now", LATE, "purchase", "list", "--student", "carl")["purchases"][0]
    assert carl["consumed_minutes"] == 60  # the thursday lesson only
    week = cli.json("--now", LATE, "schedule", "show", "alice")
    assert not any(slot["open"] for slot in week["days"][2]["slots"])  # wednesday closed
    assert any(slot["open"] for slot in week["days"][3]["slots"])
    shown = cli("--now", LATE, "schedule", "off", "alice", "--date", "2026-11-25", "--reason", "x")
    assert shown.code == 0 and "no lesson there" in shown.out
    story = cli.json("--now", LATE, "lesson", "show", str(paid_from_balance))
    assert any("notice waived" in e["what"] for e in story["events"])
    assert any("refunded to the balance" in e["what"] for e in story["events"])
    session = cli.json("--now", LATE, "session", "show", str(held["session_id"]))
    assert "teacher off: ill [flu]" in session["operations"][0]["note"]


def test_teacher_off_on_some_hours_leaves_the_rest(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "80.00")
    morning = booked(cli, time="10:00-11:00")
    afternoon = booked(cli, time="15:00-16:00")
    off = cli.json("schedule", "off", "alice", "--date", "2026-11-25", "--hours",
                   "09:00-12:00", "--reason", "dentist")  # fmt: skip
    assert [line["lesson_id"] for line in off["lessons"]] == [morning]
    assert off["closed_slots"] == 3
    assert cli.json("lesson", "show", str(afternoon))["lesson"]["status"] == "booked"
    cli.fails(2, "schedule", "off", "alice", "--date", "2026-11-25", "--hours", "12:30-13:00",
              "--reason", "x")  # fmt: skip
    cli.fails(2, "schedule", "off", "alice", "--date", "someday", "--reason", "x")
    cli.fails(1, "schedule", "off", "bob", "--date", "2026-11-25", "--reason", "x")  # a student


def test_teacher_off_is_refused_while_a_payment_is_pending_there(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card", "--simulate", "pending")
    refused = cli.fails(1, "schedule", "off", "alice", "--date", "2026-11-25", "--reason", "ill")
    assert "awaits its payment" in refused.err
    assert cli.json("lesson", "show", str(held["reservation_id"]))["lesson"]["status"] == "held"
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card")  # settled
    off = cli.json("schedule", "off", "alice", "--date", "2026-11-25", "--reason", "ill")
    assert off["lessons"][0]["refunded_cents"] == 4000


def test_teacher_off_keeps_a_lesson_that_has_started(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    lesson = booked(cli)
    during = "2026-11-25T10:30:00+01:00"
    off = cli.json("--now", during, "schedule", "off", "alice", "--date", "2026-11-25",
                   "--reason", "left early")  # fmt: skip
    assert off["lessons"][0]["action"] == "kept (already started)"
    assert cli.json("--now", during, "lesson", "show", str(lesson))["lesson"]["status"] == "booked"


def test_teacher_off_drops_a_pending_move_of_a_lesson_there(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    lesson = booked(cli)
    moved = cli.json(*move_args(lesson, week="next", day="mon", time="10:00-11:00"))
    off = cli.json("schedule", "off", "alice", "--date", "2026-11-25", "--reason", "ill")
    assert off["lessons"][0]["refunded_cents"] == 4000
    shown = cli.json("lesson", "show", str(moved["reservation_id"]))
    assert shown["lesson"]["status"] == "released"
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000


# -- lesson show ----------------------------------------------------------------------------------


def test_lesson_show_tells_funding_and_story(cli: Cli, tmp_path: Any) -> None:
    school(cli)
    cli.ok(*purchase_args("1", "35.00"))
    cli.ok("account", "credit", "bob", "10.00")
    lesson = booked(cli, time="10:00-12:00")
    shown = cli.json("lesson", "show", str(lesson))
    sources = [(f["source"], f["minutes"], f["amount_cents"]) for f in shown["funding"]]
    assert sources == [("purchase", 60, 0), ("balance", 15, 1000), ("payment", 45, 3000)]
    story = [e["what"] for e in shown["events"]]
    assert story[0] == "held by a reserve" and story[4] == "booked", story
    assert sorted(story[1:4]) == ["1 h from package 1", "10.00 EUR paid from the balance",
                                  "30.00 EUR paid by payment 1"], story  # fmt: skip
    text = cli("lesson", "show", str(lesson)).out
    assert "package 1" in text and "story" in text
    moved = cli.json(*move_args(lesson, week="next", day="wed", time="10:00-12:00"))
    cli.ok("session", "confirm", str(moved["session_id"]))
    old = cli.json("lesson", "show", str(lesson))
    assert old["lesson"]["status"] == "cancelled"
    assert any(e["what"] == f"moved to lesson {moved['reservation_id']}" for e in old["events"])
    new = cli.json("lesson", "show", str(moved["reservation_id"]))
    assert new["events"][0]["what"] == f"held by a move of lesson {lesson}"
    assert sum(f["minutes"] for f in new["funding"]) == 120
    cli.fails(3, "lesson", "show", "999")
    cli.fails(2, "lesson", "show", "abc")
    imported = tmp_path / "l.csv"
    imported.write_text(
        "teacher,student,category,date,start,end,status,history,purchase\n"
        "bruno,carl,piano,2026-11-02,10:00,11:00,done,true,\n"
    )
    cli.ok("import", "reservations", str(imported))
    story = [event["what"] for event in cli.json("lesson", "show", "3")["events"]]
    assert story == ["done", "imported as unfunded history"]  # in the order they happened


def test_a_lessons_story_tells_every_source_that_paid_it_in_order(cli: Cli) -> None:
    """Paid by card and from a package, then cancelled in the same instant: the story reads
    held, paid (payment and package hours), booked, cancelled, refunded — never the cancel
    before the payment."""
    school(cli)
    by_card = booked(cli, day="fri", time="10:00-11:00")
    cli.ok(*purchase_args("2", "80.00"))
    from_package = booked(cli, day="fri", time="14:00-16:00")
    for lesson in (by_card, from_package):
        planned = cli.json("cancel", str(lesson))
        cli.ok("session", "confirm", str(planned["session_id"]))
    card = [e["what"] for e in cli.json("lesson", "show", str(by_card))["events"]]
    assert card[0] == "held by a reserve" and card[1].endswith("paid by payment 1")
    assert card[2:4] == ["booked", "cancelled"] and "refunded" in card[4], card
    package = [e["what"] for e in cli.json("lesson", "show", str(from_package))["events"]]
    assert package[1] == "2 h from package 1" and package[2:4] == ["booked", "cancelled"], package


def test_teacher_off_on_an_incomplete_date_with_a_weekday_changes_nothing(cli: Cli) -> None:
    # "Wed Dec 2026" once read as the first Wednesday of December and cancelled its lesson
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    lesson = booked(cli, week="+1", day="wed")  # Wednesday 2026-12-02
    before = cli.json("schedule", "show", "alice", "--week", "+1")
    failed = cli.fails(2, "schedule", "off", "alice", "--date", "Wed Dec 2026", "--reason", "x")
    assert "not a whole date (no day)" in failed.err
    cli.fails(2, "schedule", "show", "alice", "--week", "Mon Nov 2026")
    after = cli.json("schedule", "show", "alice", "--week", "+1")
    assert after == before
    assert [(x["id"], x["status"]) for x in after["lessons"]] == [(lesson, "booked")]
    assert cli.json("account", "show", "bob")["balance_cents"] == 0

"""The payment flow of the seed (resume → pay → result → confirm) on both databases.

Every scenario ends with `tutorctl check` (the `cli` fixture), so money is conserved throughout.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, purchase_args, reserve_args


def _resume(cli: Cli, sid: int | str) -> Any:
    return cli.json("session", "resume", str(sid))


def _status(cli: Cli, lesson: int) -> str:
    lessons = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    return next((x["status"] for x in lessons if x["id"] == lesson), "gone")


@pytest.mark.pooled
def test_success_path_pays_from_package_then_balance_then_card(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *purchase_args("1.5", "57.00"),
        "--paid-hours",
        "1",
    )
    cli.ok("account", "credit", "bob", "30.00")
    a = reserve(cli, "--json").json()
    b = reserve(cli, "--json", day="thu", time="10:00-12:00").json()
    sid = a["session_id"]
    resume = _resume(cli, sid)
    assert resume["balance_before_cents"] == 3000
    assert resume["purchases_before"][0]["remaining_minutes"] == 90
    assert resume["purchases_before"][0]["owed_minutes"] == 30
    assert resume["new_lessons"] == [
        {
            "teacher": "alice",
            "category": "maths",
            "lessons": 2,
            "minutes": 180,
            "price_cents": 12000,
            "from_purchases_minutes": 90,
            "from_balance_cents": 3000,
            "external_cents": 3000,
            "lesson_ids": [a["reservation_id"], b["reservation_id"]],
            "on_credit_minutes": 30,  # the package's last half hour is not paid yet
            "from_purchases": [{"purchase_id": 1, "minutes": 90, "on_credit_minutes": 30}],
        }
    ]
    assert resume["new_lesson_totals"] == {
        "lessons": 2,
        "minutes": 180,
        "price_cents": 12000,
        "from_purchases_minutes": 90,
        "on_credit_minutes": 30,
        "from_balance_cents": 3000,
        "external_cents": 3000,
    }
    assert resume["moves"] == [] and resume["cancellation_totals"]["lessons"] == 0
    assert resume["to_pay_cents"] == 3000 and resume["balance_after_cents"] == 0
    text = cli.ok("session", "resume", str(sid)).out
    for phrase in (
        "1. Now",
        "2. Cancellations",
        "3. After the cancellations",
        "4. New lessons",
        "5. To pay now: 30.00 EUR",
    ):
        assert phrase in text
    assert (
        "changed"
        in cli.fails(
            1, "session", "pay", str(sid), "--method", "card", "--expect-total", "29.99"
        ).err
    )
    paid = cli.json(
        "session",
        "pay",
        str(sid),
        "--method",
        "card",
        "--expect-total",
        "30.00",
        "--reference",
        "T-1",
    )
    assert (
        paid["status"] == "paid"
        and paid["payment_status"] == "succeeded"
        and paid["amount_cents"] == 3000
    )
    assert _status(cli, a["reservation_id"]) == _status(cli, b["reservation_id"]) == "booked"
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    assert (
        cli.json("purchase", "list", "--student", "bob")["purchases"][0]["consumed_minutes"] == 90
    )
    again = cli.json("session", "pay", str(sid), "--method", "card")
    assert (
        again["payment_id"] == paid["payment_id"] and "nothing was taken again" in again["message"]
    )
    assert cli.json("session", "confirm", str(sid))["status"] == "applied"


@pytest.mark.pooled
def test_purchase_list_json_fields(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *purchase_args("10", "380"),
    )
    [line] = cli.json("purchase", "list")["purchases"]
    assert (line["bought_minutes"], line["consumed_minutes"], line["remaining_minutes"]) == (
        600,
        0,
        600,
    )
    cli.fails(
        2,
        *purchase_args("0", "1"),
    )
    cli.fails(
        2,
        *purchase_args("1.01", "1"),
    )
    cli.fails(
        2,
        *purchase_args("2", "1"),
        "--paid-hours",
        "3",
    )
    cli.fails(
        1,
        *purchase_args("2", "1", student="alice"),
    )


@pytest.mark.pooled
def test_failure_releases_new_lessons_then_confirm_applies_chosen_cancels(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    kept = booked(cli, day="fri")
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    cancel = cli.json("cancel", str(kept))
    new = reserve(cli, "--json", day="thu").json()
    sid = str(cancel["session_id"])
    resume = _resume(cli, sid)
    assert resume["cancellations"][0]["refunded_cents_to_balance"] == 4000
    assert resume["balance_between_cents"] == 4000
    assert resume["to_pay_cents"] == 0  # the refund pays the new lesson
    failed_session = reserve(cli, "--json", day="wed", time="15:00-17:00").json()
    assert failed_session["session_id"] == cancel["session_id"]
    assert _resume(cli, sid)["to_pay_cents"] == 8000
    failed = cli.json("session", "pay", sid, "--method", "wechat", "--simulate", "failure")
    assert failed["status"] == "payment_failed" and failed["payment_status"] == "failed"
    assert (
        _status(cli, new["reservation_id"]) == "released"
        or _status(cli, new["reservation_id"]) == "gone"
    )
    assert _status(cli, kept) == "booked"
    cli.fails(
        1,
        *reserve_args(day="mon"),
        "--session",
        sid,
    )
    done = cli.json("session", "confirm", sid, "--cancels")
    assert done["status"] == "applied"
    assert _status(cli, kept) == "gone"  # cancelled lessons leave the grid
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000
    ops = {op["kind"]: op["status"] for op in cli.json("session", "show", sid)["operations"]}
    assert ops == {"cancel": "applied", "reserve": "abandoned"}


def test_failure_then_confirm_without_choices_abandons_the_rest(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40.00")
    lesson = booked(cli, day="fri")
    planned = cli.json("cancel", str(lesson))
    reserve(cli, day="thu")
    sid = str(planned["session_id"])
    cli.ok("account", "credit", "bob", "0.01")
    reserve(cli, day="thu", time="12:00-14:00")
    cli.json("session", "pay", sid, "--method", "card", "--simulate", "failure")
    assert cli.json("session", "confirm", sid)["status"] == "applied"
    assert _status(cli, lesson) == "booked"
    assert cli.json("account", "show", "bob")["balance_cents"] == 1


def test_failure_then_moves_chosen_or_refused_when_they_need_money(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "80.00")
    short = booked(cli, day="fri")
    long = booked(cli, day="fri", time="14:00-15:00")
    m1 = cli.json(*move_args(short, week="this", day="thu", time="09:00-10:00"))
    m2 = cli.json(*move_args(long, week="this", day="thu", time="14:00-16:00"))  # +1 h
    reserve(cli, day="wed", time="16:00-17:00")
    sid = str(m1["session_id"])
    assert _resume(cli, sid)["to_pay_cents"] == 8000
    cli.json("session", "pay", sid, "--method", "card", "--simulate", "failure")
    refused = cli.fails(1, "session", "confirm", sid, "--moves")
    assert "need" in refused.err and "--no-moves" in refused.err
    cli.ok("account", "credit", "bob", "40.00")
    done = cli.json("session", "confirm", sid, "--moves")
    assert done["status"] == "applied"
    lessons = {x["id"]: x for x in cli.json("schedule", "show", "alice")["lessons"]}
    assert lessons[m1["reservation_id"]]["status"] == "booked"
    assert lessons[m2["reservation_id"]]["duration_minutes"] == 120
    assert short not in lessons and long not in lessons
    assert cli.json("account", "show", "bob")["balance_cents"] == 0


def test_nothing_to_pay_confirm_applies_and_pay_is_refused(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *purchase_args("2", "70"),
    )
    held = reserve(cli, "--json").json()
    sid = str(held["session_id"])
    assert _resume(cli, sid)["to_pay_cents"] == 0
    assert "nothing to pay" in cli.fails(1, "session", "pay", sid, "--method", "cash").err
    assert cli.json("session", "confirm", sid)["status"] == "applied"
    assert _status(cli, held["reservation_id"]) == "booked"
    assert cli.json("purchase", "list")["purchases"][0]["remaining_minutes"] == 60
    cli.fails(1, "session", "confirm", sid)


def test_open_session_with_something_to_pay_cannot_be_confirmed(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    assert "to pay" in cli.fails(1, "session", "confirm", str(held["session_id"])).err


def test_packages_exhausted_mid_session(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *purchase_args("1", "35"),
    )
    cli.ok(
        *purchase_args("5", "200", category="piano"),
    )
    reserve(cli, day="wed")
    reserve(cli, day="thu", time="10:00-12:00")
    sid = str(cli.json("session", "list", "--student", "bob")["sessions"][0]["id"])
    resume = _resume(cli, sid)
    [group] = resume["new_lessons"]
    assert group["from_purchases_minutes"] == 60  # the piano package does not match maths
    assert resume["to_pay_cents"] == 8000
    assert [p["remaining_minutes"] for p in resume["purchases_between"]] == [60, 300]
    cli.ok("session", "pay", sid, "--method", "cash")
    lines = cli.json("purchase", "list", "--student", "bob")["purchases"]
    assert [(p["category"], p["remaining_minutes"]) for p in lines] == [
        ("maths", 0),
        ("piano", 300),
    ]


def test_late_cancel_is_not_refunded_and_says_so(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    lesson = booked(cli, day="tue", time="17:00-18:00")  # today, 8 h from now
    planned = cli.json("cancel", str(lesson))
    resume = _resume(cli, planned["session_id"])
    [group] = resume["cancellations"]
    assert group["late_lessons"] == 1 and group["refunded_cents_to_balance"] == 0
    assert any("late cancel" in note for note in resume["notes"])
    cli.ok("session", "confirm", str(planned["session_id"]))
    assert cli.json("account", "show", "bob")["balance_cents"] == 0


def test_cancel_refunds_hours_to_the_package(cli: Cli) -> None:
    school(cli)
    cli.ok(
        *purchase_args("3", "100"),
    )
    lesson = booked(cli, day="fri", time="10:00-12:00")
    assert cli.json("purchase", "list")["purchases"][0]["consumed_minutes"] == 120
    planned = cli.json("cancel", str(lesson))
    assert (
        _resume(cli, planned["session_id"])["cancellations"][0]["refunded_minutes_to_purchases"]
        == 120
    )
    cli.ok("session", "confirm", str(planned["session_id"]))
    assert cli.json("purchase", "list")["purchases"][0]["consumed_minutes"] == 0


def test_shortened_move_refunds_the_difference(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "80")
    lesson = booked(cli, day="fri", time="10:00-12:00")
    planned = cli.json(*move_args(lesson, week="next", day="mon", time="10:00-11:00"))
    resume = _resume(cli, planned["session_id"])
    assert resume["cancellations"][0]["refunded_cents_to_balance"] == 4000
    assert resume["to_pay_cents"] == 0
    cli.ok("session", "confirm", str(planned["session_id"]))
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000
    moved = cli.json("schedule", "show", "alice", "--week", "next")["lessons"]
    assert [(x["status"], x["duration_minutes"]) for x in moved] == [("booked", 60)]


def test_pending_payment_survives_and_is_never_taken_twice(cli: Cli) -> None:
    school(cli)
    held = reserve(cli, "--json").json()
    sid = str(held["session_id"])
    first = cli.json("session", "pay", sid, "--method", "card", "--simulate", "pending")
    assert first["status"] == "awaiting_payment" and first["payment_status"] == "pending"
    assert cli.json("session", "show", sid)["status"] == "awaiting_payment"
    cli.fails(1, "session", "abandon", sid)
    second = cli.json("session", "pay", sid, "--method", "card", "--simulate", "pending")
    assert second["payment_id"] == first["payment_id"]
    done = cli.json("session", "pay", sid, "--method", "card")
    assert done["status"] == "paid" and done["payment_id"] == first["payment_id"]


def test_money_input_is_exact(cli: Cli) -> None:
    school(cli)
    for bad in ("-5", "1.001", "1e2", "ten", "0"):
        cli.fails(2, "account", "credit", "bob", bad)
    cli.fails(2, "session", "pay", "1", "--method", "bitcoin")
    assert cli.json("account", "credit", "bob", "0.10", "--reason", "gift")["balance_cents"] == 10
    history = cli.json("account", "history", "bob")
    assert [(e["amount_cents"], e["reason"]) for e in history["entries"]] == [(10, "gift")]
    cli.fails(1, "account", "show", "alice")

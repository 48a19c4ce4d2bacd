"""A pending payment pays for what it was taken for: money that reached the balance while it
was pending (a top-up) stays on the balance, the lesson is funded by the payment."""

from __future__ import annotations

from typing import Any

from tests.conftest import Cli, school
from tests.helpers import reserve_args


def _payments_of(cli: Cli, name: str) -> int:
    rows = cli.json("report", "revenue", "--by", "teacher", "--month", "2026-11")["rows"]
    row: dict[str, Any] = next(r for r in rows if r["name"] == name)
    return int(row["payments_cents"])


def test_a_top_up_while_a_payment_is_pending_stays_on_the_balance(cli: Cli) -> None:
    school(cli)
    session = str(cli.json(*reserve_args(day="thu"))["session_id"])
    pending = cli.json("session", "pay", session, "--method", "card", "--simulate", "pending")
    assert pending["amount_cents"] == 4000
    cli.ok("account", "credit", "bob", "40.00")  # the family tops up meanwhile
    settled = cli.json("session", "pay", session, "--method", "card")
    assert settled["status"] == "paid", settled
    assert "went to the balance" not in settled["message"], settled["message"]
    lesson = cli.json("schedule", "show", "alice")["lessons"][0]["id"]
    funding = cli.json("lesson", "show", str(lesson))["funding"]
    assert [(p["source"], p["amount_cents"]) for p in funding] == [("payment", 4000)]
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000  # the top-up, untouched
    assert _payments_of(cli, "alice") == 4000  # the teacher's takings, not (account)'s


def test_the_balance_held_for_the_payment_is_spent_as_planned(cli: Cli) -> None:
    """10.00 of the balance was held when the payment started: the lesson is funded by those
    10.00 and the 30.00 payment; the 50.00 that came in meanwhile stays on the balance."""
    school(cli)
    cli.ok("account", "credit", "bob", "10.00")
    session = str(cli.json(*reserve_args(day="thu"))["session_id"])
    pending = cli.json("session", "pay", session, "--method", "card", "--simulate", "pending")
    assert pending["amount_cents"] == 3000  # 10.00 of the balance held for it
    cli.ok("account", "credit", "bob", "50.00")
    settled = cli.json("session", "pay", session, "--method", "card")
    assert settled["status"] == "paid", settled
    lesson = cli.json("schedule", "show", "alice")["lessons"][0]["id"]
    funding = cli.json("lesson", "show", str(lesson))["funding"]
    assert sorted((p["source"], p["amount_cents"]) for p in funding) == [
        ("balance", 1000),
        ("payment", 3000),
    ]
    assert cli.json("account", "show", "bob")["balance_cents"] == 5000

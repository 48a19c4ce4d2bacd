"""A pending payment settled after some or all of its lessons started (README "Time passes
between choosing and paying", SPEC §11): the student is told all the money the provider took,
what it paid for, what went back to the balance and the balance after (as the ledger says),
and the lessons that could not be booked; a payment that booked nothing ends the session
``payment_failed`` and its message, shown by ``session receipt``, says where the money went."""

from __future__ import annotations

from typing import Any

from tests.conftest import Cli, booked, reserve
from tests.notify.conftest import mail_school, outbox
from tests.notify.smtp import Inbox

PENDING = "2026-11-24T09:50:00+01:00"  # NOW is Tuesday 24 November 2026, 09:00
SETTLED = "2026-11-24T10:05:00+01:00"  # the 10:00 lesson has started


def _pay(cli: Cli, session: int, *extra: str, now: str) -> Any:
    return cli.json("--now", now, "session", "pay", str(session), "--method", "card", *extra)


def _body(inbox: Inbox) -> str:
    (message,) = [m for m in inbox.received if "bob@example.org" in str(m["To"])]
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_the_receipt_tells_the_whole_payment_and_what_went_to_the_balance(
    cli: Cli, inbox: Inbox
) -> None:
    mail_school(cli)
    cli.ok("account", "credit", "bob", "30.00")
    started = reserve(cli, "--json", day="tue", time="10:00-12:00").json()  # starts at 10:00
    later = reserve(cli, "--json", day="wed", time="10:00-11:00").json()
    session = started["session_id"]
    assert later["session_id"] == session
    _pay(cli, session, "--simulate", "pending", "--expect-total", "90.00", now=PENDING)
    paid = _pay(cli, session, "--simulate", "success", now=SETTLED)
    assert paid["status"] == "paid" and "80.00 EUR of it went to the balance" in paid["message"]
    balance = cli.json("account", "show", "bob")["balance_cents"]
    assert balance == 8000  # 30.00 + 90.00 - Wednesday's 40.00
    receipt = cli.json("session", "receipt", str(session))
    assert receipt["money"] == {
        "package_minutes": 0,
        "balance_cents": 3000,
        "payment_cents": 9000,  # what the card took, not what the lessons used
        "surplus_cents": 8000,
        "refund_cents": 0,
        "refund_minutes": 0,
        "balance_after_cents": balance,
    }
    assert [line["id"] for line in receipt["lessons"]] == [later["reservation_id"]]
    (left,) = receipt["not_applied"]
    assert left["id"] == started["reservation_id"] and left["action"] == "not booked"
    assert "had already started" in left["why"]
    said = [
        "- booked: maths with Alice Martin, Wednesday 25 November 2026, 10:00-11:00, 40.00 EUR",
        "- not booked: maths with Alice Martin, Tuesday 24 November 2026, 10:00-12:00 (lesson "
        f"{started['reservation_id']} had already started)",
        "- from your balance: 30.00 EUR",
        "- paid: 90.00 EUR",
        "- of it, for these lessons: 10.00 EUR",
        "- of it, back to your balance: 80.00 EUR",
        "- your balance now: 80.00 EUR",
    ]
    lines = receipt["text"].splitlines()
    assert all(line in lines for line in said), receipt["text"]
    assert (
        cli.json("--now", SETTLED, "notify", "send")["sent"] == 2
    )  # bob's receipt, alice's message
    body = _body(inbox).splitlines()
    assert all(line in body for line in said), body


def test_a_payment_that_booked_nothing_fails_the_session_and_tells_the_student(
    cli: Cli, inbox: Inbox
) -> None:
    mail_school(cli)
    held = reserve(cli, "--json", day="tue", time="10:00-11:00").json()
    session = held["session_id"]
    _pay(cli, session, "--simulate", "pending", now=PENDING)
    settled = _pay(cli, session, "--simulate", "success", now=SETTLED)
    assert "nothing was left to apply" in settled["message"]
    assert (settled["status"], settled["payment_status"]) == ("payment_failed", "succeeded")
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000
    (told,) = [row for row in outbox(cli) if row["user_id"] == 3]  # bob
    assert (told["kind"], told["session_id"]) == ("payment_failed", session)
    receipt = cli.json("session", "receipt", str(session))  # the desk sees it
    assert receipt["status"] == "payment_failed"
    assert receipt["money"]["payment_cents"] == receipt["money"]["surplus_cents"] == 4000
    assert receipt["money"]["balance_after_cents"] == 4000
    assert [line["id"] for line in receipt["not_applied"]] == [held["reservation_id"]]
    assert cli.json("--now", SETTLED, "notify", "send")["sent"] == 1
    body = _body(inbox)
    assert "was taken, but it booked nothing: all of it went to your balance" in body
    assert "- not booked: maths with Alice Martin, Tuesday 24 November 2026, 10:00-11:00" in body
    assert "- of it, back to your balance: 40.00 EUR" in body
    assert "- your balance now: 40.00 EUR" in body
    subject = str(inbox.received[0]["Subject"])
    assert subject == f"Nothing was booked: your payment went to your balance (session {session})"


def test_a_payment_short_of_a_changed_resume_tells_where_the_money_went(cli: Cli) -> None:
    mail_school(cli)
    cli.ok("db", "init", "--cancel-notice-hours", "1")
    lesson = booked(cli, day="tue", time="11:00-12:00")  # 40.00 by card
    cancel = cli.json("cancel", str(lesson))  # 1 h notice: 10:00 makes it late
    session = cancel["session_id"]
    assert reserve(cli, "--session", str(session), day="wed", time="10:00-12:00").code == 0
    pending = _pay(cli, session, "--simulate", "pending", now=PENDING)
    assert pending["amount_cents"] == 4000  # 80.00 less the 40.00 the cancel refunds
    failed = _pay(cli, session, "--simulate", "success", now=SETTLED)
    assert (failed["status"], failed["payment_status"]) == ("payment_failed", "succeeded")
    assert cli.json("account", "show", "bob")["balance_cents"] == 4000
    receipt = cli.json("session", "receipt", str(session))
    assert receipt["money"]["surplus_cents"] == receipt["money"]["balance_after_cents"] == 4000
    assert [line["action"] for line in receipt["not_applied"]] == ["not booked"]
    assert "- your balance now: 40.00 EUR" in receipt["text"].splitlines()

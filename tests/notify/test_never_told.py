"""SPEC §11, each person hears once about the lesson as it now stands: nobody receives the
cancellation (or the move) of a lesson they were never told of, when the message telling it
was made obsolete before it went (both backends; a lock held by another transaction: on
PostgreSQL)."""

from __future__ import annotations

from email.message import EmailMessage
from functools import partial

import pytest
from sqlalchemy import text

from tests.conftest import NOW, Cli
from tests.notify.conftest import book, mail_school, outbox
from tests.notify.smtp import Inbox
from tests.notify.test_send import calendars
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database
from tutorctl.services.notify import outbox as outbox_service


def to(inbox: Inbox, user: str) -> list[EmailMessage]:
    return [m for m in inbox.received if m["To"].addresses[0].username == user]


def body(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def uids(message: EmailMessage, method: str) -> list[str]:
    return [
        str(event["UID"])
        for calendar in calendars(message)
        if calendar["METHOD"] == method
        for event in calendar.walk("VEVENT")
    ]


def cancel(cli: Cli, lesson: int, *extra: str) -> int:
    planned = cli.json("cancel", str(lesson), *extra)
    cli.ok("session", "confirm", str(planned["session_id"]))
    return int(planned["session_id"])


def test_a_lesson_cancelled_before_any_send_is_told_to_nobody(cli: Cli, inbox: Inbox) -> None:
    """Booked by one session, cancelled by another before the run: alice hears nothing (her
    booked message and her cancellation are obsolete); bob hears the money both ways, with no
    line and no calendar part about the lesson."""
    mail_school(cli)
    _s, lesson = book(cli)
    cancel(cli, lesson)
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (2, 2)
    rows = outbox(cli)
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("receipt", "sent"), ("teacher", "obsolete"), ("receipt", "sent"), ("teacher", "obsolete"),
    ]  # fmt: skip
    whys = {m["id"]: m["answer"] for m in result["messages"] if m["status"] == "obsolete"}
    assert whys[rows[3]["id"]] == f"lesson {lesson}: never told it was booked"
    assert to(inbox, "alice") == []
    paid, refunded = to(inbox, "bob")
    for message in (paid, refunded):
        assert calendars(message) == [] and "Wednesday" not in body(message)
    assert "paid: 40.00 EUR" in body(paid)
    assert "refunded to your balance: 40.00 EUR" in body(refunded)
    assert [str(m["Subject"]) for m in (paid, refunded)] == [
        f"Your receipt (session {rows[0]['session_id']})",
        f"Your receipt (session {rows[2]['session_id']})",
    ]  # never "Your lessons: " with nothing after it
    assert rows[2]["payload"]["lessons"] == []  # stored as sent
    cli.ok("check")


def test_a_cancellation_goes_only_with_the_lessons_told(cli: Cli, inbox: Inbox) -> None:
    """Wednesday's lesson is told, then Thursday's is booked; both are cancelled together
    before the next run: the cancellation names Wednesday's only (a told lesson's cancel still
    goes), and nobody hears of Thursday's."""
    mail_school(cli)
    _s, told = book(cli)
    cli.ok("notify", "send")
    _s, untold = book(cli, day="thu")
    session = str(cli.json("cancel", str(told))["session_id"])
    cli.json("cancel", str(untold), "--session", session)
    cli.ok("session", "confirm", session)
    before = len(inbox.received)
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (3, 1)  # thursday's receipt: money only
    rows = outbox(cli)
    assert [(r["kind"], r["status"]) for r in rows[2:]] == [
        ("receipt", "sent"), ("teacher", "obsolete"), ("receipt", "sent"), ("teacher", "sent"),
    ]  # fmt: skip
    for user in ("alice", "bob"):
        *_, cancelled = to(inbox, user)
        assert uids(cancelled, "CANCEL") == [f"lesson-{told}@school.example"]
        assert uids(cancelled, "REQUEST") == []
        assert "Wednesday 2 December" in body(cancelled)
        assert "Thursday" not in body(cancelled)
    assert len(inbox.received) - before == 3
    assert [x["id"] for x in rows[5]["payload"]["lessons"]] == [told]
    cli.ok("check")


def test_a_lesson_moved_before_it_was_told_is_told_as_booked_at_its_new_time(
    cli: Cli, inbox: Inbox
) -> None:
    """Booked, then moved before the run: alice's booked message is obsolete, and her move
    message tells it as booked on Thursday (no 'moved from' a time she never heard), with the
    calendar request of its UID at its current SEQUENCE; bob's likewise."""
    mail_school(cli)
    _s, lesson = book(cli)
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (3, 1)
    for user in ("alice", "bob"):
        news = to(inbox, user)[-1]
        text_out = body(news)
        assert "booked: maths" in text_out and "Thursday 3 December 2026, 14:00" in text_out
        assert "moved" not in text_out and "Wednesday" not in text_out
        assert "moved" not in str(news["Subject"])
        (calendar,) = calendars(news)
        (event,) = calendar.walk("VEVENT")
        assert (calendar["METHOD"], str(event["UID"]), int(event["SEQUENCE"])) == (
            "REQUEST", f"lesson-{lesson}@school.example", 1,
        )  # fmt: skip
    # the next change to it is a change to what they were told: a cancellation goes
    cancel(cli, moved["reservation_id"])
    before = len(inbox.received)
    assert cli.json("notify", "send")["sent"] == 2
    assert all(uids(m, "CANCEL") for m in inbox.received[before:])
    cli.ok("check")


def test_a_message_claimed_by_another_run_may_have_told(cli: Cli, inbox: Inbox) -> None:
    """Another run claimed Wednesday's messages (in flight: they may go) before the lesson was
    cancelled: its cancellation goes. Thursday's, never claimed before its cancellation, is
    told to nobody."""
    mail_school(cli)
    _s, flying = book(cli)
    db = Database(cli.url, Clock(parse_now(NOW)), actor="tester")
    other = db.write("notify send", partial(outbox_service.claim, token="other", limit=2))
    assert [r.kind for r in other.rows] == ["receipt", "teacher"]
    _s, never = book(cli, day="thu")
    cancel(cli, flying)
    cancel(cli, never)
    cli.json("notify", "send")
    assert [uids(m, "CANCEL") for m in to(inbox, "alice")] == [[f"lesson-{flying}@school.example"]]
    statuses = [(r["kind"], r["status"]) for r in outbox(cli)]
    assert statuses[2:] == [
        ("receipt", "sent"), ("teacher", "obsolete"),  # thursday booked
        ("receipt", "sent"), ("teacher", "sent"),  # wednesday cancelled: told
        ("receipt", "sent"), ("teacher", "obsolete"),  # thursday cancelled: never told
    ]  # fmt: skip


def test_a_message_another_transaction_holds_may_have_told(cli: Cli, inbox: Inbox) -> None:
    """PostgreSQL: another run's claim holds alice's booked message under lock, not committed
    yet, when this run judges her cancellation: it may be told, so the cancellation goes."""
    if not cli.url.startswith("postgresql"):
        pytest.skip("one writer at a time on SQLite: no claim is ever in progress beside another")
    mail_school(cli)
    _s, lesson = book(cli)
    cancel(cli, lesson)
    with get_engine(cli.url).connect() as held:
        held.execute(
            text("SELECT id FROM outbox WHERE kind = 'teacher' AND id = 2 FOR UPDATE")
        ).one()
        result = cli.json("notify", "send")
        held.rollback()
    sent = {(m["kind"], m["to_address"]) for m in result["messages"] if m["status"] == "sent"}
    assert ("teacher", "alice@school.example") in sent
    assert [uids(m, "CANCEL") for m in to(inbox, "alice")] == [[f"lesson-{lesson}@school.example"]]

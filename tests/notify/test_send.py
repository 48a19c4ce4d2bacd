"""SPEC §11, delivery: `notify send` against a real SMTP server (aiosmtpd), what arrived read
with `email` and `icalendar` (both backends)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme
from icalendar import Calendar
from sqlalchemy import text

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school, outbox, stopped
from tests.notify.smtp import Inbox, smtp_server
from tutorctl.core.errors import ConfigError, LockError
from tutorctl.db.engine import get_engine
from tutorctl.services.notify import outbox as outbox_service


def calendars(message: EmailMessage) -> list[Calendar]:
    return [
        Calendar.from_ical(part.get_content())
        for part in message.walk()
        if part.get_content_type() == "text/calendar"
    ]


def test_a_receipt_arrives_with_its_text_and_calendar(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    session, lesson = book(cli)
    sent = cli.json("notify", "send")
    assert (sent["sent"], sent["failed"], sent["retried"]) == (2, 0, 0)
    assert sorted(to for _frm, (to,) in inbox.envelopes) == [
        "alice@school.example", "bob@example.org",
    ]  # fmt: skip
    receipt = next(m for m in inbox.received if m["To"].addresses[0].username == "bob")
    assert receipt["From"] == "desk@school.example"
    assert receipt["To"].addresses[0].display_name == "Bob Li"
    row = next(r for r in outbox(cli) if r["kind"] == "receipt")
    assert receipt["Message-ID"] == f"<tutorctl-outbox-{row['id']}@school.example>"
    text = receipt.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Wednesday 2 December 2026, 10:00-11:00" in text
    assert "Alice Martin" in text and "maths" in text and "40.00 EUR" in text
    (calendar,) = calendars(receipt)
    assert calendar["METHOD"] == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"lesson-{lesson}@school.example"
    assert event.decoded("DTSTART").isoformat() == "2026-12-02T10:00:00+01:00"
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert cli.json("notify", "send")["sent"] == 0  # each message goes once
    assert {r["status"] for r in outbox(cli)} == {"sent"}
    shown = cli.ok("notify", "show", str(row["id"])).out
    assert "Message-ID: <tutorctl-outbox-" in shown and "METHOD:REQUEST" in shown
    assert session


def test_without_a_server_nothing_moves(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    mail_school(cli)
    book(cli)
    monkeypatch.delenv("TUTORCTL_SMTP_URL", raising=False)
    assert "TUTORCTL_SMTP_URL" in cli.fails(4, "notify", "send").err
    assert {r["status"] for r in outbox(cli)} == {"queued"}
    dry = cli.json("notify", "send", "--dry-run")
    assert [m["status"] for m in dry["messages"]] == ["would send", "would send"]
    assert {r["status"] for r in outbox(cli)} == {"queued"}


def test_a_busy_server_is_tried_again_later(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    book(cli)
    inbox.busy = 1  # 451 to the first message, then 250
    first = cli.json("notify", "send")
    assert (first["sent"], first["retried"]) == (1, 1)
    waiting = next(m for m in first["messages"] if m["status"] == "queued")
    assert waiting["answer"].startswith("451")
    assert cli.json("notify", "send")["sent"] == 0  # not due yet: backoff
    later = cli.json("--now", "2026-11-24T09:06:00+01:00", "notify", "send")
    assert later["sent"] == 1 and len(inbox.received) == 2
    assert {r["status"] for r in outbox(cli)} == {"sent"}


def test_a_refused_recipient_fails_with_the_servers_answer(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    book(cli)
    inbox.refuse["bob@example.org"] = "550 5.1.1 no such mailbox"
    result = cli.json("notify", "send")
    assert (result["sent"], result["failed"]) == (1, 1)
    failed = cli.json("notify", "list", "--status", "failed")["messages"]
    assert [(m["user"], m["last_error"]) for m in failed] == [
        ("bob", "550 5.1.1 no such mailbox"),
    ]
    del inbox.refuse["bob@example.org"]
    assert cli.json("notify", "retry", "--failed")["ids"] == [failed[0]["id"]]
    assert cli.json("notify", "send")["sent"] == 1


def test_starttls_and_auth(cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ca = trustme.CA()
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    monkeypatch.setenv("SSL_CERT_FILE", str(pem))
    mail_school(cli)
    book(cli)
    box = Inbox()
    with smtp_server(box, tls=ca) as where:
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp+starttls://desk@{where}")
        monkeypatch.setenv("TUTORCTL_SMTP_PASSWORD", "wrong")
        refused = cli.fails(4, "notify", "send")
        assert "refused the login" in refused.err and "wrong" not in refused.err
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp+starttls://desk:s3cret%20pass@{where}")
        result = cli.ok("notify", "send").out
        assert "s3cret" not in result and "***" in result
    assert box.logins == ["desk"] and len(box.received) == 2


HOSTILE = "Eve\r\nBcc: spy@evil.example"


def test_hostile_names_add_no_header_and_are_not_evaluated(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    cli.ok("user", "set", "alice", "--name", "{{ 7*7 }} Chloé 王芳")
    book(cli)
    # typing refuses line breaks in names (exit 2); a row written otherwise (an older
    # tutorctl, by hand) still cannot add a header
    assert "bad name" in cli.fails(2, "user", "set", "bob", "--name", HOSTILE).err
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("UPDATE users SET name = :n WHERE handle = 'bob'"), {"n": HOSTILE})
        conn.execute(text("UPDATE outbox SET to_name = :n WHERE to_address LIKE 'bob%'"),
                     {"n": HOSTILE})  # fmt: skip
        conn.execute(text("UPDATE outbox SET payload = replace(payload, '\"maths\"',"
                          " '\"maths\\nBcc: spy2@evil.example\"')"))  # fmt: skip
    cli.ok("notify", "send")
    assert len(inbox.received) == 2
    for message, (_frm, rcpts) in zip(inbox.received, inbox.envelopes, strict=True):
        assert len(rcpts) == 1 and "evil" not in rcpts[0]
        assert message["Bcc"] is None and "evil" not in message["To"].addresses[0].addr_spec
        assert len(message["To"].addresses) == 1
        assert "\n" not in str(message["Subject"])
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "{{ 7*7 }} Chloé 王芳" in body and "49" not in body
    names = {m["To"].addresses[0].display_name for m in inbox.received}
    assert names == {"Eve Bcc: spy@evil.example", "{{ 7*7 }} Chloé 王芳"}


def test_book_move_cancel_leave_one_event_then_none(cli: Cli, inbox: Inbox) -> None:
    """Each change is sent before the next; the calendar parts bob receives, applied in
    order as a calendar client does (UID, SEQUENCE), leave one event at the new time, then
    none."""
    mail_school(cli)
    session, lesson = book(cli)
    cli.ok("notify", "send")
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    cli.ok("notify", "send")
    events: dict[str, tuple[int, object]] = {}

    def apply(message: EmailMessage) -> None:
        for calendar in calendars(message):
            for event in calendar.walk("VEVENT"):
                uid, seq = str(event["UID"]), int(event["SEQUENCE"])
                if uid in events and events[uid][0] > seq:
                    continue
                if calendar["METHOD"] == "CANCEL":
                    events.pop(uid, None)
                else:
                    events[uid] = (seq, event.decoded("DTSTART"))

    for message in inbox.received:
        if message["To"].addresses[0].username == "bob":
            apply(message)
    assert [(seq, start.isoformat()) for seq, start in events.values()] == [  # type: ignore[attr-defined]
        (1, "2026-12-03T14:00:00+01:00")
    ]
    cancelled = cli.json("cancel", str(moved["reservation_id"]))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    before = len(inbox.received)
    cli.ok("notify", "send")
    for message in inbox.received[before:]:
        if message["To"].addresses[0].username == "bob":
            apply(message)
    assert events == {}
    assert session


def test_a_message_about_a_lesson_changed_since_is_obsolete(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    _session, lesson = book(cli)
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (3, 1)  # the booking's teacher message
    statuses = [(r["kind"], r["status"]) for r in outbox(cli)]
    assert statuses == [("receipt", "sent"), ("teacher", "obsolete"),
                        ("receipt", "sent"), ("teacher", "sent")]  # fmt: skip
    paid, *rest = inbox.received  # the receipt's money is always told, its moved lesson not
    paid_text = paid.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "40.00 EUR" in paid_text and "Wednesday" not in paid_text and calendars(paid) == []
    texts = [m.get_body(("plain",)).get_content() for m in rest]  # type: ignore[union-attr]
    assert all("Thursday 3 December 2026, 14:00" in t for t in texts)


def test_a_broken_template_stops_before_anything_is_sent(
    cli: Cli, inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail_school(cli)
    book(cli)
    (tmp_path / "receipt.txt").write_text("Hello {{ name }}\n{% for l in lessons %}\n{{ l.text }\n")
    monkeypatch.setenv("TUTORCTL_TEMPLATES", str(tmp_path))
    err = cli.fails(2, "notify", "send").err
    assert "receipt.txt" in err and "line 3" in err
    assert inbox.received == [] and {r["status"] for r in outbox(cli)} == {"queued"}
    (tmp_path / "receipt.txt").write_text(
        "Dear {{ name }}:\n{% for l in lessons %}* {{ l.text }}\n{% endfor %}"
    )
    (tmp_path / "receipt.subject.txt").write_text("Booked: {{ lessons|length }} lesson(s)")
    cli.ok("notify", "send")
    receipt = next(m for m in inbox.received if m["To"].addresses[0].username == "bob")
    assert receipt["Subject"] == "Booked: 1 lesson(s)"
    body = receipt.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert body.replace("\r\n", "\n").startswith("Dear Bob Li:\n* booked: maths with Alice")


def test_a_connection_dropped_during_data_is_tried_again(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    book(cli)
    inbox.drop = 1
    first = stopped(cli, "notify", "send", "--json").json()  # exit 4: the server went away
    assert first["stopped"] and (first["sent"], first["retried"]) == (0, 1)
    assert {r["status"] for r in outbox(cli)} == {"queued"}  # the untried one was released
    later = cli.json("--now", "2026-11-24T09:06:00+01:00", "notify", "send")
    assert later["sent"] == 2 and len(inbox.received) == 2
    assert len({str(m["Message-ID"]) for m in inbox.received}) == 2


def test_a_server_slower_than_the_timeout_may_get_that_one_twice(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server kept the message but answered after the client gave up: it is retried, so
    it arrives twice with the same Message-ID; nothing else does."""
    mail_school(cli)
    book(cli)
    monkeypatch.setenv("TUTORCTL_SMTP_TIMEOUT", "0.5")
    inbox.slow = 2.0
    first = stopped(cli, "notify", "send", "--json").json()  # exit 4: gave up on the server
    assert first["stopped"] and first["retried"] == 1
    later = cli.json("--now", "2026-11-24T09:06:00+01:00", "notify", "send")
    assert later["sent"] == 2
    ids = [str(m["Message-ID"]) for m in inbox.received]
    assert len(ids) == 3 and len(set(ids)) == 2 and ids[0] == ids[1]
    assert {r["status"] for r in outbox(cli)} == {"sent"}


def test_a_template_failing_at_render_time_stops_before_anything_is_sent(
    cli: Cli, inbox: Inbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail_school(cli)
    book(cli)
    (tmp_path / "teacher.txt").write_text("Hi {{ name }}\n{{ nothing_here }}\n")
    monkeypatch.setenv("TUTORCTL_TEMPLATES", str(tmp_path))
    err = cli.fails(2, "notify", "send").err
    assert "teacher.txt line 2" in err and "nothing_here" in err
    assert inbox.received == [] and {r["status"] for r in outbox(cli)} == {"queued"}
    (tmp_path / "teacher.txt").write_text("{{ ''.__class__.__mro__ }}\n")  # the sandbox says no
    assert "teacher.txt line 1" in cli.fails(2, "notify", "send").err
    assert inbox.received == []


def test_a_paid_receipt_is_told_with_the_lessons_that_still_stand(cli: Cli, inbox: Inbox) -> None:
    """Two lessons booked and paid in one session, then one cancelled before the run: the
    receipt goes with the lesson that stands and the money, the cancelled one left out; the
    cancellation's receipt tells the refund but not the lesson (bob never heard of it), and
    alice's cancellation is obsolete (she never heard of it either)."""
    mail_school(cli)
    first = cli.json("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
                     "--week", "next", "--day", "wed", "--time", "10:00-11:00")  # fmt: skip
    session = first["session_id"]
    second = cli.json("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
                      "--week", "next", "--day", "thu", "--time", "10:00-11:00",
                      "--session", str(session))  # fmt: skip
    assert second["session_id"] == session
    cli.ok("session", "pay", str(session), "--method", "card")
    gone, kept = first["reservation_id"], second["reservation_id"]
    cancelled = cli.json("cancel", str(gone))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (3, 1)
    to_bob = [m for m in inbox.received if m["To"].addresses[0].username == "bob"]
    assert [str(m["Subject"]) for m in to_bob] == [
        "Your lessons: 1 booked",
        f"Your receipt (session {cancelled['session_id']})",  # its money only: no lesson
    ]
    receipt, refund = to_bob  # the receipt first, the refund after
    text = receipt.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Thursday 3 December 2026, 10:00-11:00" in text and "80.00 EUR" in text
    assert "Wednesday 2 December" not in text
    (calendar,) = calendars(receipt)
    uids = [str(e["UID"]) for e in calendar.walk("VEVENT")]
    assert uids == [f"lesson-{kept}@school.example"]  # no REQUEST for the cancelled lesson
    refund_text = refund.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "refunded to your balance: 40.00 EUR" in refund_text
    assert "Wednesday 2 December" not in refund_text and calendars(refund) == []
    (teacher,) = [m for m in inbox.received if m["To"].addresses[0].username == "alice"]
    assert "Thursday 3 December" in teacher.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    (gone_why,) = [m["answer"] for m in result["messages"] if m["status"] == "obsolete"]
    assert gone_why == f"lesson {gone}: never told it was booked"
    cli.ok("check")


def test_a_queued_message_goes_to_the_address_the_person_has_now(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    book(cli)
    cli.ok("user", "set", "bob", "--email", "bob-new@example.org", "--name", "Bob Li-Wu")
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (2, 0)
    assert sorted(to for _frm, (to,) in inbox.envelopes) == [
        "alice@school.example", "bob-new@example.org",
    ]  # fmt: skip
    receipt = next(m for m in inbox.received if m["To"].addresses[0].username == "bob-new")
    assert receipt["To"].addresses[0].addr_spec == "bob-new@example.org"
    assert receipt["To"].addresses[0].display_name == "Bob Li-Wu"
    rows = [(r["kind"], r["to_address"]) for r in outbox(cli)]
    assert ("receipt", "bob-new@example.org") in rows  # the outbox shows where it went
    cli.ok("check")


@pytest.mark.parametrize(("change", "why"), [
    (("--no-notify",), "the recipient opted out"),
    (("--email", ""), "the recipient has no email"),
])  # fmt: skip
def test_a_person_who_no_longer_hears_gets_no_queued_message(
    cli: Cli, inbox: Inbox, change: tuple[str, ...], why: str
) -> None:
    mail_school(cli)
    book(cli)
    cli.ok("user", "set", "bob", *change)
    result = cli.json("notify", "send")
    assert (result["sent"], result["obsolete"]) == (1, 1)
    assert [to for _frm, (to,) in inbox.envelopes] == ["alice@school.example"]
    (gone,) = [m for m in result["messages"] if m["status"] == "obsolete"]
    assert (gone["kind"], gone["answer"]) == ("receipt", why)
    statuses = {(r["kind"], r["status"]) for r in outbox(cli)}
    assert statuses == {("receipt", "obsolete"), ("teacher", "sent")}
    cli.ok("check")


@pytest.mark.parametrize(("error", "code"), [
    (LockError("database is busy"), 5),
    (ConfigError("lost the connection to the database"), 4),
])  # fmt: skip
def test_a_run_ended_by_an_error_releases_what_it_did_not_hand_over(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch, error: Exception, code: int
) -> None:
    """The second acceptance cannot be recorded: the run ends (exit 5 or 4) with that one
    message claimed (accepted, unrecorded: the one that may go twice after STALE_CLAIM) and
    every other message it had claimed queued again at once, for the next run."""
    mail_school(cli)
    book(cli)
    book(cli, day="thu")
    book(cli, day="fri")  # six messages: more than one claimed but untried
    recorded = outbox_service.mark_sent
    calls: list[int] = []

    def fails_second(conn: Any, message_id: int, now: Any) -> None:
        calls.append(message_id)
        if len(calls) == 2:
            raise error
        recorded(conn, message_id, now)

    monkeypatch.setattr(outbox_service, "mark_sent", fails_second)
    cli.fails(code, "notify", "send")
    assert len(inbox.received) == 2
    rows = outbox(cli)
    statuses = [r["status"] for r in rows]
    assert statuses == ["sent", "sending", "queued", "queued", "queued", "queued"]
    monkeypatch.setattr(outbox_service, "mark_sent", recorded)
    again = cli.json("notify", "send")  # at once: no waiting for the claims to go stale
    assert again["sent"] == 4 and len(inbox.received) == 6
    assert [r["status"] for r in outbox(cli)] == ["sent", "sending", *["sent"] * 4]


def test_a_run_holds_few_claims_at_a_time(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Claims are taken a few at a time, so none is held much longer than a few messages'
    SMTP time (past STALE_CLAIM another run could send it again)."""
    mail_school(cli)
    for day in ("mon", "tue", "wed", "thu", "fri"):
        book(cli, day=day)
    book(cli, day="mon", week="+2")  # twelve messages
    recorded = outbox_service.mark_sent
    held: list[int] = []

    def counting(conn: Any, message_id: int, now: Any) -> None:
        claimed = text("SELECT count(*) FROM outbox WHERE status = 'sending'")
        held.append(conn.execute(claimed).scalar())
        recorded(conn, message_id, now)

    monkeypatch.setattr(outbox_service, "mark_sent", counting)
    assert cli.json("notify", "send")["sent"] == 12
    assert len(held) == 12 and max(held) <= 5

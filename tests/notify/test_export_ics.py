"""`export reservations --format ics` names each lesson as the messages' calendar parts do
(SPEC §6, §11): one UID per lesson, kept across its moves (``lesson-<lineage>@<mail-from
domain>``), and the SEQUENCE of its latest message. A family that imports the export every week
and also gets the email invitations holds one event per lesson, moved in place."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from icalendar import Calendar

from tests.conftest import Cli, booked, school
from tests.notify.conftest import MAIL_FROM, book, mail_school
from tests.notify.smtp import Inbox


def _exported(cli: Cli, path: Path) -> list[tuple[str, int, str]]:
    """(UID, SEQUENCE, STATUS) of each event of the ICS export, parsed by ``icalendar``."""
    cli.ok("export", "reservations", "--format", "ics", "--output", str(path))
    calendar = Calendar.from_ical(path.read_bytes())
    return [(str(e["UID"]), int(e["SEQUENCE"]), str(e["STATUS"])) for e in calendar.walk("VEVENT")]


def _mailed(message: EmailMessage) -> list[tuple[str, int]]:
    """(UID, SEQUENCE) of each event of a message's calendar parts."""
    found = []
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            for event in Calendar.from_ical(payload).walk("VEVENT"):
                found.append((str(event["UID"]), int(event["SEQUENCE"])))
    return found


def test_the_export_keeps_the_uid_across_a_move_and_matches_the_emails(
    cli: Cli, inbox: Inbox, tmp_path: Path
) -> None:
    mail_school(cli)
    _session, lesson = book(cli)
    cli.ok("notify", "send")
    first = _exported(cli, tmp_path / "week1.ics")
    assert len(first) == 1
    uid, sequence, status = first[0]
    assert uid == f"lesson-{lesson}@{MAIL_FROM.rpartition('@')[2]}"
    assert status == "CONFIRMED"
    bobs = [m for m in inbox.received if m["To"].addresses[0].username == "bob"]
    assert len(bobs) == 1
    assert _mailed(bobs[0]) == [(uid, sequence)]  # the invitation's event is the export's

    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    assert moved["reservation_id"] != lesson  # a move makes a new row: its id is not the UID
    cli.ok("session", "confirm", str(moved["session_id"]))
    cli.ok("notify", "send")
    second = _exported(cli, tmp_path / "week2.ics")
    assert len(second) == 1
    uid2, sequence2, status2 = second[0]
    assert uid2 == uid  # the same event, updated in place by a client that imports it
    assert sequence2 > sequence
    assert status2 == "CONFIRMED"
    bobs = [m for m in inbox.received if m["To"].addresses[0].username == "bob"]
    assert len(bobs) == 2
    assert _mailed(bobs[1]) == [(uid2, sequence2)]  # the move's invitation: the same again


def test_without_a_mail_from_the_uid_still_outlives_a_move(cli: Cli, tmp_path: Path) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    lesson = booked(cli, week="next", day="wed", time="10:00-11:00")
    ((uid, sequence, _status),) = _exported(cli, tmp_path / "a.ics")
    assert uid == f"lesson-{lesson}@tutorctl"
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    ((uid2, sequence2, _status2),) = _exported(cli, tmp_path / "b.ics")
    assert (uid2, sequence2) == (uid, sequence + 1)

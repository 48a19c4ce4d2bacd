"""SPEC §11, reminders: queued by `notify send` for booked lessons starting within
reminder_hours that had none for their current time; none for a lesson booked inside the
window; a moved lesson gets one for its new time; a cancelled one never (both backends). The
window is the school's setting when `notify send` runs, for every booked lesson: booked before
a change of --reminder-hours, or imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school, outbox, stopped
from tests.notify.smtp import Inbox, free_port


def send_at(cli: Cli, now: str) -> dict[str, object]:
    result: dict[str, object] = cli.json("--now", now, "notify", "send")
    return result


def reminders(inbox: Inbox) -> list[str]:
    return [str(m["Subject"]) for m in inbox.received if str(m["Subject"]).startswith("Remind")]


def test_reminders_once_for_the_lesson_as_it_stands(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    cli.ok("db", "init", "--reminder-hours", "48")
    _s, soon = book(cli, week="this", day="wed")  # 25 h ahead: inside the window
    _s, later = book(cli, week="next", day="wed")  # Wed 2 Dec 10:00: due Mon 30 Nov 10:00
    _s, dropped = book(cli, week="next", day="thu")  # Thu 3 Dec 10:00: due Tue 1 Dec 10:00
    assert send_at(cli, "2026-11-24T09:00:00+01:00")["reminders_queued"] == 0
    assert reminders(inbox) == []  # the confirmation of `soon` said it: no reminder
    assert send_at(cli, "2026-11-30T10:30:00+01:00")["reminders_queued"] == 1
    assert reminders(inbox) == ["Reminder: maths on Wednesday 2 December 2026, 10:00"]
    assert send_at(cli, "2026-11-30T10:45:00+01:00")["reminders_queued"] == 0  # once
    # moved after its reminder: one more, for the new time; cancelled: never
    moved = cli.json("--now", "2026-11-30T11:00:00+01:00", "move", str(later),
                     "--week", "this", "--day", "fri", "--time", "10:00-11:00")  # fmt: skip
    cli.ok("--now", "2026-11-30T11:00:00+01:00", "session", "confirm", str(moved["session_id"]))
    cancelled = cli.json("--now", "2026-11-30T11:00:00+01:00", "cancel", str(dropped))
    cli.ok("--now", "2026-11-30T11:00:00+01:00", "session", "confirm",
           str(cancelled["session_id"]))  # fmt: skip
    send_at(cli, "2026-12-01T10:30:00+01:00")  # Thu's would be due now: it is cancelled
    assert len(reminders(inbox)) == 1
    send_at(cli, "2026-12-02T10:30:00+01:00")
    assert reminders(inbox)[1:] == ["Reminder: maths on Friday 4 December 2026, 10:00"]
    assert [r["status"] for r in outbox(cli) if r["kind"] == "reminder"] == ["sent", "sent"]
    assert soon


def test_a_reminder_queued_before_a_cancel_is_obsolete(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail_school(cli)
    session, lesson = book(cli, week="next", day="wed")
    send_at(cli, "2026-11-24T09:00:00+01:00")
    working = os.environ["TUTORCTL_SMTP_URL"]
    monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody there
    down = stopped(cli, "--now", "2026-12-01T10:30:00+01:00", "notify", "send", "--json").json()
    # exit 4; the reminder is queued, and the outage counts no attempt of it
    assert (down["reminders_queued"], down["retried"]) == (1, 0) and down["stopped"]
    cancelled = cli.json("--now", "2026-12-01T10:31:00+01:00", "cancel", str(lesson),
                         "--waive-notice")  # fmt: skip
    cli.ok("--now", "2026-12-01T10:31:00+01:00", "session", "confirm", str(cancelled["session_id"]))
    monkeypatch.setenv("TUTORCTL_SMTP_URL", working)
    result = send_at(cli, "2026-12-01T11:00:00+01:00")
    assert result["obsolete"] == 1 and reminders(inbox) == []
    assert session


def test_the_school_s_current_reminder_hours_apply_to_lessons_booked_before(
    cli: Cli, inbox: Inbox
) -> None:
    mail_school(cli)  # 24 h, as the lessons are booked
    _s, friday = book(cli, week="this", day="fri")  # Fri 27 Nov 10:00: 73 h ahead
    _s, close = book(cli, week="this", day="wed")  # Wed 25 Nov 10:00: 25 h ahead
    cli.ok("db", "init", "--reminder-hours", "48")  # raised: Friday's is due from Wed 10:00
    assert send_at(cli, "2026-11-25T09:00:00+01:00")["reminders_queued"] == 0  # 49 h before
    assert send_at(cli, "2026-11-25T11:00:00+01:00")["reminders_queued"] == 1  # 47 h before
    assert reminders(inbox) == ["Reminder: maths on Friday 27 November 2026, 10:00"]
    # Wednesday's was booked 25 h ahead: inside the window of 48 h, so it gets none
    assert [r["status"] for r in outbox(cli) if r["kind"] == "reminder"] == ["sent"]
    assert friday and close


def test_a_lowered_reminder_hours_delays_the_reminder(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)  # 24 h, as the lesson is booked
    _s, friday = book(cli, week="this", day="fri")  # Fri 27 Nov 10:00
    cli.ok("db", "init", "--reminder-hours", "12")
    assert send_at(cli, "2026-11-26T10:30:00+01:00")["reminders_queued"] == 0  # 23.5 h before
    assert send_at(cli, "2026-11-26T21:30:00+01:00")["reminders_queued"] == 0  # 12.5 h before
    assert reminders(inbox) == []
    assert send_at(cli, "2026-11-26T22:30:00+01:00")["reminders_queued"] == 1  # 11.5 h before
    assert reminders(inbox) == ["Reminder: maths on Friday 27 November 2026, 10:00"]
    assert friday


def test_imported_lessons_are_reminded_unless_imported_inside_the_window(
    cli: Cli, inbox: Inbox, tmp_path: Path
) -> None:
    mail_school(cli)
    header = "teacher,student,category,date,start,end,status\n"
    ahead, close = tmp_path / "ahead.csv", tmp_path / "close.csv"
    ahead.write_text(header + "alice,bob,maths,2026-11-27,10:00,11:00,booked\n")  # 73 h ahead
    close.write_text(header + "bruno,bob,maths,2026-11-25,10:00,11:00,booked\n")
    cli.ok("import", "reservations", str(ahead))
    cli.ok("--now", "2026-11-25T00:00:00+01:00", "import", "reservations", str(close))  # 10 h
    assert send_at(cli, "2026-11-25T09:30:00+01:00")["reminders_queued"] == 0
    assert send_at(cli, "2026-11-26T09:30:00+01:00")["reminders_queued"] == 0  # 24.5 h before
    assert send_at(cli, "2026-11-26T10:30:00+01:00")["reminders_queued"] == 1
    assert reminders(inbox) == ["Reminder: maths on Friday 27 November 2026, 10:00"]

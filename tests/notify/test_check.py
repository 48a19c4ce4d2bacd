"""SPEC §11 invariant 10 in `check`: every session applied while notifications were on has
its messages for each person concerned who has an email and did not opt out; no reminder was
sent for a lesson that was not booked at that time (both backends)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Cli, reserve
from tests.notify.conftest import book, mail_school
from tests.notify.smtp import Inbox
from tutorctl.db.engine import get_engine


def violations(cli: Cli) -> list[str]:
    result: list[str] = cli("check", "--json").json()["violations"]
    return result


def test_a_missing_message_is_a_violation(cli: Cli) -> None:
    mail_school(cli)
    session, _lesson = book(cli)
    assert violations(cli) == []
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("DELETE FROM outbox"))
    assert violations(cli) == [
        f"messages: session {session} has no receipt for bob",
        f"messages: session {session} has no message for alice",
    ]
    with get_engine(cli.url).begin() as conn:  # put back as it was: the fixture checks again
        conn.execute(text("DELETE FROM history_users"))
        conn.execute(text("UPDATE users SET email = NULL"))


def test_a_payment_taken_that_booked_nothing_and_told_nobody_is_a_violation(cli: Cli) -> None:
    mail_school(cli)
    held = reserve(cli, "--json", day="tue", time="10:00-11:00").json()  # NOW is Tue 09:00
    session = str(held["session_id"])
    pay = ("session", "pay", session, "--method", "card", "--simulate")
    cli.ok("--now", "2026-11-24T09:50:00+01:00", *pay, "pending")
    cli.ok("--now", "2026-11-24T10:05:00+01:00", *pay, "success")  # the lesson has started
    assert violations(cli) == []
    with get_engine(cli.url).begin() as conn:  # as the payment left it before it told anyone
        conn.execute(text("DELETE FROM outbox"))
    assert violations(cli) == [f"messages: session {session} took payment 1 and told bob nothing"]
    with get_engine(cli.url).begin() as conn:  # put back as it was: the fixture checks again
        conn.execute(text("DELETE FROM history_users"))
        conn.execute(text("UPDATE users SET email = NULL"))


def test_sessions_applied_while_off_need_no_message(cli: Cli) -> None:
    mail_school(cli, notifications=False)
    book(cli)
    cli.ok("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
    book(cli, day="thu")
    cli.ok("db", "init", "--notifications", "off")
    book(cli, day="fri")
    assert violations(cli) == []


def test_a_reminder_sent_for_a_cancelled_lesson_is_a_violation(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    _session, lesson = book(cli, week="next")
    cli.ok("--now", "2026-12-01T10:30:00+01:00", "notify", "send")
    assert violations(cli) == []
    cancelled = cli.json("--now", "2026-12-01T10:40:00+01:00", "cancel", str(lesson))
    cli.ok("--now", "2026-12-01T10:40:00+01:00", "session", "confirm", str(cancelled["session_id"]))
    assert violations(cli) == []  # it was booked when its reminder went
    with get_engine(cli.url).begin() as conn:  # as if it had gone after the cancel
        conn.execute(
            text("UPDATE outbox SET sent_at = :at WHERE kind = 'reminder'"),
            {
                "at": "2026-12-01 10:00:00"
                if "sqlite" not in cli.url
                else "2026-12-01 10:00:00.000000"
            },
        )
    assert violations(cli) == [f"messages: reminder 3 was sent when lesson {lesson} was not booked"]
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE kind = 'reminder'"))


def test_a_later_sessions_missing_message_counts_after_a_change_to_the_person(
    cli: Cli,
) -> None:
    """A change to bob before his second session does not excuse its missing receipt."""
    mail_school(cli)
    book(cli)
    cli.ok("user", "set", "bob", "--name", "Bob Li Jr")
    second, _lesson = book(cli, day="thu")
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE session_id = :s AND kind = 'receipt'"),
                     {"s": second})  # fmt: skip
    assert violations(cli) == [f"messages: session {second} has no receipt for bob"]
    cli.ok("user", "set", "bob", "--no-notify")  # now he has opted out: nothing is missing
    assert violations(cli) == []

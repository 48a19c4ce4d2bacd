"""A receipt says which package hours came on credit (SPEC §4, §11): hours of a package sold
on credit and not paid yet fund a lesson, and the student is told they are still owed, not
paid; the teacher's message says nothing of it."""

from __future__ import annotations

from tests.conftest import Cli, booked
from tests.helpers import purchase_args
from tests.notify.conftest import mail_school
from tests.notify.smtp import Inbox


def _lines(cli: Cli, session: int) -> list[str]:
    text = cli.json("session", "receipt", str(session))["text"]  # as sent, not wrapped
    return [line for line in text.splitlines() if line.startswith("- booked:")]


def test_the_receipt_says_which_package_hours_are_still_owed(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    package = cli.json(*purchase_args("4", "160.00", "--paid-hours", "2"))["id"]
    booked(cli, week="next", day="mon", time="10:00-11:00")  # 1 h of the 2 paid
    booked(cli, week="next", day="tue", time="10:00-12:00")  # 1 h paid, 1 h owed
    booked(cli, week="next", day="wed", time="10:00-11:00")  # 1 h owed
    sessions = [1, 2, 3]  # one session each, in a fresh database
    said = [_lines(cli, s) for s in sessions]
    assert [line.partition("EUR, ")[2] for [line] in said] == [
        f"1 h from package {package}",
        f"2 h from package {package} (1 h on credit: still owed)",
        f"1 h from package {package} (on credit: still owed)",
    ]
    lessons = cli.json("session", "receipt", str(sessions[1]))["lessons"]
    assert lessons[0]["packages"] == [
        {"purchase_id": package, "minutes": 120, "on_credit_minutes": 60}
    ]
    assert cli.json("notify", "send")["sent"] == 6
    bodies = {
        str(m["To"]): m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in inbox.received
        if "Session 3:" in m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    }
    assert "1 h from package 1 (on credit: still owed)" in bodies["Bob Li <bob@example.org>"]
    assert "package" not in bodies["Alice Martin <alice@school.example>"]


def test_a_lesson_paid_otherwise_says_no_package(cli: Cli) -> None:
    mail_school(cli)
    booked(cli, week="next")
    session = 1
    assert "package" not in cli.ok("session", "receipt", str(session)).out
    assert "packages" not in cli.json("session", "receipt", str(session))["lessons"][0]

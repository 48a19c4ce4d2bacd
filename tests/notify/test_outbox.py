"""SPEC §11, what is queued: in the transaction of the change, one receipt to the student
listing every lesson of the session with the money and one message to each teacher concerned;
nothing for people without an email or who opted out, nothing while notifications are off,
nothing from `demo` (both backends)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school, outbox
from tutorctl.db.engine import get_engine


def test_a_session_queues_a_receipt_and_the_teachers_messages(cli: Cli) -> None:
    mail_school(cli)
    first = cli.json("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
                     "--week", "next", "--day", "wed", "--time", "10:00-11:00")  # fmt: skip
    session = str(first["session_id"])
    cli.ok("reserve", "--teacher", "bruno", "--student", "bob", "--category", "maths",
           "--week", "next", "--day", "thu", "--time", "10:00-12:00", "--session", session)  # fmt: skip
    assert outbox(cli) == []  # holding is not booking: nothing yet
    cli.ok("session", "pay", session, "--method", "card")
    rows = outbox(cli)
    assert [(r["kind"], r["to_address"], r["session_id"]) for r in rows] == [
        ("receipt", "bob@example.org", first["session_id"]),
        ("teacher", "alice@school.example", first["session_id"]),
        ("teacher", "bruno@school.example", first["session_id"]),
    ]
    receipt = rows[0]["payload"]
    assert [(line["action"], line["teacher"]) for line in receipt["lessons"]] == [
        ("booked", "Alice Martin"), ("booked", "Bruno Costa"),
    ]  # fmt: skip
    assert receipt["money"]["payment_cents"] == 12000 and receipt["currency"] == "EUR"
    assert [len(r["payload"]["lessons"]) for r in rows[1:]] == [1, 1]
    cli.ok("session", "confirm", session)  # confirming an applied session queues nothing more
    assert len(outbox(cli)) == 3


def test_move_and_cancel_keep_one_calendar_uid_with_a_growing_sequence(cli: Cli) -> None:
    mail_school(cli)
    session, lesson = book(cli)
    cli.ok("session", "confirm", str(session))
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    cancelled = cli.json("cancel", str(moved["reservation_id"]))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    receipts = [r["payload"]["lessons"][0] for r in outbox(cli) if r["kind"] == "receipt"]
    assert [(x["action"], x["uid"], x["sequence"]) for x in receipts] == [
        ("booked", lesson, 0), ("moved", lesson, 1), ("cancelled", lesson, 2),
    ]  # fmt: skip
    assert receipts[2]["refund_cents"] == 4000


def test_nobody_without_email_or_opted_out_hears(cli: Cli) -> None:
    mail_school(cli)
    cli.ok("user", "set", "alice", "--email", "")
    book(cli, student="carl")  # carl opted out, alice has no email
    assert outbox(cli) == []
    cli.ok("user", "set", "carl", "--notify")
    book(cli, student="carl", day="thu")
    assert [r["to_address"] for r in outbox(cli)] == ["carl@example.org"]


def test_nothing_is_queued_while_notifications_are_off(cli: Cli) -> None:
    mail_school(cli, notifications=False)
    book(cli)
    assert outbox(cli) == []


def test_schedule_off_tells_each_student_and_the_teacher(cli: Cli) -> None:
    mail_school(cli)
    cli.ok("user", "set", "carl", "--notify")
    book(cli, student="bob", time="10:00-11:00")
    book(cli, student="carl", time="14:00-15:00")
    before = len(outbox(cli))
    cli.ok("schedule", "off", "alice", "--date", "2026-12-02", "--reason", "flu")
    rows = outbox(cli)[before:]
    assert sorted((r["kind"], r["to_address"]) for r in rows) == [
        ("receipt", "bob@example.org"), ("receipt", "carl@example.org"),
        ("teacher", "alice@school.example"),
    ]  # fmt: skip
    teacher = next(r for r in rows if r["kind"] == "teacher")["payload"]
    assert [x["student"] for x in teacher["lessons"]] == ["Bob Li", "Carl Ng"]
    assert teacher["reason"] == "the teacher cannot come: flu"
    assert all(x["action"] == "cancelled" and x["refund_cents"] == 4000
               for r in rows for x in r["payload"]["lessons"])  # fmt: skip


def test_a_payment_failed_by_expire_tells_the_student(cli: Cli) -> None:
    mail_school(cli)
    held = cli.json("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
                    "--week", "next", "--day", "wed", "--time", "10:00-11:00")  # fmt: skip
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card", "--simulate", "pending")
    cli.ok("--now", "2026-11-24T10:00:00+01:00", "expire")
    rows = outbox(cli)
    assert [(r["kind"], r["to_address"], r["session_id"]) for r in rows] == [
        ("payment_failed", "bob@example.org", held["session_id"]),
    ]


def booked_count(cli: Cli) -> int:
    with get_engine(cli.url).connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM reservations WHERE status = 'booked'")
            ).scalar_one()
        )


def test_demo_queues_nothing(cli: Cli) -> None:
    cli.ok("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
    cli.ok("demo")
    # everyone has an address (written behind the tool's back: a `user set` would make the
    # database a school that the demo refuses to touch)
    with get_engine(cli.url).begin() as conn:
        conn.execute(text("UPDATE users SET email = handle || '@example.org', notify = true"))
    before = booked_count(cli)
    cli.ok("--now", "2026-12-08T09:00:00+01:00", "demo")  # books the new weeks
    assert booked_count(cli) > before
    assert outbox(cli) == []


def test_session_receipt_at_the_desk(cli: Cli) -> None:
    mail_school(cli)
    session, lesson = book(cli)
    receipt = cli.json("session", "receipt", str(session))
    assert (receipt["student"], receipt["currency"]) == ("bob", "EUR")
    assert [(x["action"], x["id"]) for x in receipt["lessons"]] == [("booked", lesson)]
    assert receipt["money"]["payment_cents"] == 4000
    text_out = cli.ok("session", "receipt", str(session)).out
    assert "Wednesday 2 December 2026, 10:00-11:00" in text_out and "40.00 EUR" in text_out
    cli.fails(3, "session", "receipt", "99")
    quiet = cli.json("reserve", "--teacher", "alice", "--student", "carl", "--category", "maths",
                     "--week", "next", "--day", "thu", "--time", "10:00-11:00")  # fmt: skip
    cli.ok("session", "pay", str(quiet["session_id"]), "--method", "card")
    assert "opted out" in cli.fails(3, "session", "receipt", str(quiet["session_id"])).err

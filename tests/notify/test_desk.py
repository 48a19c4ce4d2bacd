"""SPEC §2 and §11: the desk role (`db grant`'s rights and nothing more) runs the messages'
commands — `notify send` to a real SMTP server, `notify list/show/retry`, `session receipt` —
on PostgreSQL directly and through PgBouncer, after the owner turned notifications on."""

from __future__ import annotations

import pytest

from tests.cli.test_pooled import desk_role
from tests.conftest import Cli
from tests.notify.conftest import MAIL_FROM, book, mail_school
from tests.notify.smtp import Inbox, smtp_server

pytestmark = pytest.mark.pooled


def test_the_desk_role_sends_lists_shows_and_retries_messages(
    cli: Cli, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if cli.url.startswith("sqlite"):
        pytest.skip("a PostgreSQL role")
    cli.ok("db", "init", "--notifications", "on", "--mail-from", MAIL_FROM)  # the owner
    box = Inbox(refuse={"carl@example.org": "550 5.1.1 no such mailbox"})
    with desk_role(cli) as url, smtp_server(box) as where:
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://{where}")
        desk = Cli(url, capsys, monkeypatch)  # from here on, every command runs as the desk
        mail_school(desk, notifications=False)
        desk.ok("user", "set", "carl", "--notify")
        session, _lesson = book(desk)
        refused, _ = book(desk, student="carl", teacher="bruno", day="thu")
        sent = desk.json("notify", "send")
        assert (sent["sent"], sent["failed"]) == (3, 1), sent
        assert sorted(to for _frm, (to,) in box.envelopes) == [
            "alice@school.example", "bob@example.org", "bruno@school.example",
        ]  # fmt: skip
        listed = desk.json("notify", "list")["messages"]
        (failed,) = [m for m in listed if m["status"] == "failed"]
        assert failed["to_address"] == "carl@example.org", failed
        assert "Message-ID: <tutorctl-outbox-" in desk.ok("notify", "show", str(failed["id"])).out
        assert "40.00" in desk.ok("session", "receipt", str(session)).out
        desk.ok("session", "receipt", str(refused))
        box.refuse.clear()  # the mailbox exists now: queue the refused message again
        desk.ok("notify", "retry", "--failed")
        assert desk.json("notify", "send")["sent"] == 1
        ids = [str(m["Message-ID"]) for m in box.received]
        assert len(ids) == len(set(ids)) == 4
        assert "carl@example.org" in [to for _frm, (to,) in box.envelopes]
        assert {m["status"] for m in desk.json("notify", "list")["messages"]} == {"sent"}
        check = desk.json("check")
        assert check["violations"] == [], check
        monkeypatch.setenv("TUTORCTL_DB", cli.url)  # the fixture's check: the owner's

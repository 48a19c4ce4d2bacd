"""SPEC §11 and §6: an SMTP server that cannot be reached is an infrastructure problem, not
the messages' fault. Every `notify send` that cannot reach it exits 4 with one `error: …` line
(cron sees the outage), and every message stays `queued` with no attempt counted and its next
attempt not pushed, however long the outage lasts; none ever becomes `failed` because of it.
A run that loses the server after sending some exits 4 too; what was sent stays sent."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.conftest import NOW, Cli
from tests.notify.conftest import book, mail_school, stopped
from tests.notify.smtp import Inbox, free_port, smtp_server


def _listed(cli: Cli) -> list[dict[str, Any]]:
    messages = cli.json("notify", "list")["messages"]
    return sorted(messages, key=lambda m: m["id"])


@contextmanager
def _silent_server() -> Iterator[str]:
    """A port that accepts the TCP connection (the kernel's backlog) and never greets."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"127.0.0.1:{s.getsockname()[1]}"


@contextmanager
def _closed_port() -> Iterator[str]:
    yield f"127.0.0.1:{free_port()}"  # bound then closed: nobody listens there


@pytest.mark.parametrize("down", [_closed_port, _silent_server], ids=["refused", "no-greeting"])
def test_an_unreachable_server_exits_4_and_charges_no_message(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch, down: Any
) -> None:
    mail_school(cli)
    for day in ("mon", "tue", "wed"):  # 6 messages: more than one claim of 5
        book(cli, day=day)
    before = _listed(cli)
    assert len(before) == 6 and {m["status"] for m in before} == {"queued"}
    working = os.environ["TUTORCTL_SMTP_URL"]
    monkeypatch.setenv("TUTORCTL_SMTP_TIMEOUT", "0.2")
    start = datetime.fromisoformat(NOW)
    with down() as where:
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://{where}")
        for run in range(10):  # 63 hours of outage, past the 8 attempts / ~25 h of a failure
            now = (start + timedelta(hours=7 * run)).isoformat()
            as_json = ("--json",) if run % 2 else ()
            result = stopped(cli, "--now", now, "notify", "send", *as_json)
            assert f"SMTP server smtp://{where}" in result.err
            if as_json:
                summary = json.loads(result.out)
                assert (summary["sent"], summary["retried"], summary["failed"]) == (0, 0, 0)
            else:
                assert "0 sent, 0 to retry, 0 failed" in result.out
            listed = _listed(cli)
            assert [(m["status"], m["attempts"]) for m in listed] == [("queued", 0)] * 6
            assert [m["next_attempt_at"] for m in listed] == [m["next_attempt_at"] for m in before]
    assert cli.json("notify", "list", "--status", "failed")["messages"] == []
    monkeypatch.setenv("TUTORCTL_SMTP_URL", working)
    sent = cli.json("--now", (start + timedelta(hours=63)).isoformat(), "notify", "send")
    assert (sent["sent"], sent["retried"], sent["failed"]) == (6, 0, 0)
    assert len(inbox.received) == 6 and len({str(m["Message-ID"]) for m in inbox.received}) == 6
    assert [(m["status"], m["attempts"]) for m in _listed(cli)] == [("sent", 1)] * 6


class _GoesAwayAfterOne(Inbox):
    """Accepts the first message, then closes the connection in the middle of the next."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if len(self.received) == 1 and not self.drop and not getattr(self, "dropped", False):
            self.drop, self.dropped = 1, True
        return await super().handle_DATA(server, session, envelope)


def test_a_server_lost_after_sending_some_exits_4_and_keeps_what_was_sent(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decision: exit 4 (the server went away); the one sent stays sent, the one it was
    handing over counts that attempt (the server may have kept it), the rest wait untouched."""
    mail_school(cli)
    for day in ("mon", "tue"):
        book(cli, day=day)
    box = _GoesAwayAfterOne()
    with smtp_server(box) as where:
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://{where}")
        result = stopped(cli, "notify", "send", "--json")
        summary = json.loads(result.out)
        assert (summary["sent"], summary["retried"], summary["failed"]) == (1, 1, 0)
        assert "went away" in result.err
        listed = _listed(cli)
        assert [(m["status"], m["attempts"]) for m in listed] == [
            ("sent", 1), ("queued", 1), ("queued", 0), ("queued", 0),
        ]  # fmt: skip
        later = cli.json("--now", "2026-11-24T09:06:00+01:00", "notify", "send")
        assert later["sent"] == 3 and len(box.received) == 4
    assert {m["status"] for m in _listed(cli)} == {"sent"}

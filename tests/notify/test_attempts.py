"""What `notify list` says of each message's attempts (SPEC §11): the attempt that sent a
message counts, each failed one counts once, and only a message waiting has a next attempt,
shown in the school's zone (never ``next None``)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school
from tests.notify.smtp import Inbox


def _listed(cli: Cli) -> dict[int, dict[str, Any]]:
    return {m["id"]: m for m in cli.json("notify", "list")["messages"]}


def test_a_message_sent_at_once_counts_one_attempt_and_has_no_next(cli: Cli, inbox: Inbox) -> None:
    mail_school(cli)
    book(cli)
    assert cli.json("notify", "send")["sent"] == 2
    listed = _listed(cli)
    assert [(m["status"], m["attempts"], m["next_attempt_at"]) for m in listed.values()] == [
        ("sent", 1, None),
        ("sent", 1, None),
    ]
    assert {m["sent_at"] for m in listed.values()} == {"2026-11-24T09:00:00+01:00"}
    table = cli.ok("notify", "list").out
    assert "next" not in table and "None" not in table
    assert "1 attempt(s)" in cli.ok("notify", "show", str(min(listed))).out


def test_a_retried_message_shows_its_next_attempt_and_counts_each_attempt_once(
    cli: Cli, inbox: Inbox
) -> None:
    mail_school(cli)
    book(cli)
    inbox.busy = 1  # 451 to the first message, then 250
    first = cli.json("notify", "send")
    assert (first["sent"], first["retried"]) == (1, 1)
    waiting = next(m["id"] for m in first["messages"] if m["status"] == "queued")
    sent = next(m["id"] for m in first["messages"] if m["status"] == "sent")
    listed = _listed(cli)
    assert (listed[waiting]["attempts"], listed[sent]["attempts"]) == (1, 1)
    # 5 minutes on, in the school's zone (Europe/Paris), as every listed instant
    assert listed[waiting]["next_attempt_at"] == "2026-11-24T09:05:00+01:00"
    assert listed[sent]["next_attempt_at"] is None
    row = next(line for line in cli.ok("notify", "list").out.splitlines() if "queued" in line)
    assert "next 2026-11-24 09:05; 451 4.3.0 busy" in row
    assert "None" not in cli.ok("notify", "list").out
    assert cli.json("--now", "2026-11-24T09:06:00+01:00", "notify", "send")["sent"] == 1
    listed = _listed(cli)
    assert [(m["status"], m["attempts"]) for m in (listed[waiting], listed[sent])] == [
        ("sent", 2),  # the failure once, the attempt that sent it once
        ("sent", 1),
    ]
    assert listed[waiting]["next_attempt_at"] is None
    assert listed[waiting]["sent_at"] == "2026-11-24T09:06:00+01:00"
    assert "next" not in cli.ok("notify", "list").out

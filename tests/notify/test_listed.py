"""`notify send` lists the first LISTED outcomes and counts the rest, so that a run of
100,000 messages keeps its memory flat (issue 24); every message is still sent and marked."""

from __future__ import annotations

import pytest

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school, outbox
from tests.notify.smtp import Inbox
from tutorctl.services.notify import sending


def test_outcomes_past_the_listed_ones_are_counted(
    cli: Cli, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail_school(cli)
    book(cli)
    book(cli, day="thu")
    monkeypatch.setattr(sending, "LISTED", 3)
    result = cli.json("notify", "send")
    assert (result["sent"], len(result["messages"]), result["unlisted"]) == (4, 3, 1)
    assert len(inbox.received) == 4 and {r["status"] for r in outbox(cli)} == {"sent"}
    book(cli, day="fri")
    book(cli, day="tue")
    out = cli.ok("notify", "send").out
    assert "4 sent" in out and "  … and 1 more (see `tutorctl notify list`)" in out
    assert len(out.strip().splitlines()) == 1 + 3 + 1

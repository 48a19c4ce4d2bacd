"""A school with emails and notifications on, and a look at its outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Cli, Result
from tests.notify.smtp import Inbox, smtp_server
from tutorctl.db.engine import get_engine

MAIL_FROM = "desk@school.example"


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port, named by TUTORCTL_SMTP_URL;
    what it received, as parsed messages."""
    box = Inbox()
    with smtp_server(box) as where:
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://{where}")
        yield box


def mail_school(cli: Cli, *, notifications: bool = True) -> None:
    """Two teachers and two students with emails (carl opted out), open Mon-Fri 09-18."""
    if notifications:
        cli.ok("db", "init", "--notifications", "on", "--mail-from", MAIL_FROM)
    people = (
        ("alice", "Alice Martin", "teacher", "alice@school.example"),
        ("bruno", "Bruno Costa", "teacher", "bruno@school.example"),
        ("bob", "Bob Li", "student", "bob@example.org"),
        ("carl", "Carl Ng", "student", "carl@example.org"),
    )
    for handle, name, role, email in people:
        cli.ok("user", "add", handle, "--name", name, "--role", role, "--email", email)
    cli.ok("user", "set", "carl", "--no-notify")
    cli.ok("category", "add", "maths", "--price", "40.00")
    for teacher in ("alice", "bruno"):
        cli.ok("schedule", "set", teacher, "--week", "this..+4", "--days", "mon-fri",
               "--hours", "09:00-18:00", "--open")  # fmt: skip


def outbox(cli: Cli) -> list[dict[str, Any]]:
    """The outbox rows, oldest first, the payload parsed."""
    with get_engine(cli.url).connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, kind, status, user_id, to_address, session_id, payload"
                " FROM outbox ORDER BY id"
            )
        ).mappings()
        return [{**row, "payload": json.loads(row["payload"])} for row in rows]


def book(cli: Cli, *, student: str = "bob", teacher: str = "alice", day: str = "wed",
         time: str = "10:00-11:00", week: str = "next") -> tuple[int, int]:  # fmt: skip
    """Reserve and pay by card: (session id, lesson id)."""
    held = cli.json("reserve", "--teacher", teacher, "--student", student, "--category",
                    "maths", "--week", week, "--day", day, "--time", time)  # fmt: skip
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card")
    return held["session_id"], held["reservation_id"]


def stopped(cli: Cli, *args: str) -> Result:
    """A `notify send` that lost or never reached its server: exit 4, one error line on
    stderr, no traceback; with --json the run's one JSON document still on stdout."""
    result = cli(*args)
    assert result.code == 4, f"{args} → {result.code}: {result.out}{result.err}"
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "Traceback" not in result.err
    if "--json" in args:
        assert json.loads(result.out)["stopped"] in lines[0]
    return result

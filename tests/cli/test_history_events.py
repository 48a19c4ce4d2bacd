"""The history users see is derived from typed events (``db/events.py``): a rich scenario's
``history`` (whole, by user, by session) and a lesson's story must stay exactly what they were
when services wrote history rows by hand (the snapshots in ``data/`` were taken on the
code before the change; ``TUTORCTL_WRITE_SNAPSHOT=1`` writes a missing one). With notifications
on, the outbox rows the same events become must not change either."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, purchase_args, reserve_args
from tests.notify.conftest import outbox

DATA = Path(__file__).parent / "data"


def _scenario(cli: Cli, mail: bool = False) -> dict[str, Any]:
    """Book, pay, move, cancel, a failed payment, schedule off, expire (idle, stale payment,
    paid sessions closed, lessons done), credit, debit, a package bought and settled, drop,
    abandon, an operation time overtook; ``mail``: with notifications on and everyone's
    email, so the messages of the same events are queued too."""
    if mail:
        cli.ok("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
    school(cli)
    bought = cli.json(
        *purchase_args(
            "3", "100.00", "--paid-hours", "1", student="carl", teacher="bruno", category="piano"
        )
    )
    cli.ok("purchase", "settle", str(bought["id"]), "--hours", "1", "--method", "transfer")
    if mail:
        for handle in ("alice", "bruno", "bob", "carl"):
            cli.ok("user", "set", handle, "--email", f"{handle}@school.example")
    cli.ok("account", "credit", "bob", "100.00", "--reason", "cash at the desk")
    by_balance = booked(cli, day="wed")  # confirm of an open session (nothing to pay)
    by_card = booked(cli, student="carl", day="thu")  # pay by card, then confirm a paid one
    moved = cli.json(*move_args(by_balance, week="next", day="mon", time="10:00-11:00"))
    cli.ok("session", "confirm", str(moved["session_id"]))
    cancelled = cli.json("cancel", str(by_card))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    refused = reserve(cli, "--json", student="carl", day="fri", time="11:00-13:00").json()
    cli.ok(
        "session", "pay", str(refused["session_id"]), "--method", "card", "--simulate", "failure"
    )
    stale = reserve(cli, "--json", student="carl", day="fri", time="14:00-16:00").json()
    cli.ok("session", "pay", str(stale["session_id"]), "--method", "card", "--simulate", "pending")
    left_paid = reserve(cli, "--json", student="carl", week="next", day="tue").json()
    cli.ok("session", "pay", str(left_paid["session_id"]), "--method", "card")
    off = booked(cli, teacher="bruno", day="wed", time="15:00-16:00")
    done = booked(cli, day="tue", time="15:00-16:00")  # ends before the second expire
    idle = reserve(cli, "--json", day="thu", time="16:00-17:00").json()
    cli.ok("schedule", "off", "bruno", "--date", "2026-11-25", "--reason", "ill")
    cli.ok("--now", "2026-11-24T09:40:00+01:00", "expire")
    cli.ok("--now", "2026-11-26T18:00:00+01:00", "expire")  # Tuesday's lesson is done
    cli.ok("account", "debit", "bob", "10.00", "--reason", "back to the family")
    dropped = reserve(cli, "--json", day="fri", time="09:00-10:00", week="+2").json()
    reserve(cli, day="fri", time="10:00-11:00", week="+2")  # the same open session
    operation = cli.json("session", "show", str(dropped["session_id"]))["operations"][0]["id"]
    cli.ok("session", "drop", str(dropped["session_id"]), str(operation))
    cli.ok("session", "abandon", str(dropped["session_id"]))
    late = cli.json("--now", "2026-11-27T08:00:00+01:00", *reserve_args(day="fri"))
    cli.ok("--now", "2026-11-27T10:30:00+01:00", "session", "confirm", str(late["session_id"]))
    new_lesson = cli.json("session", "show", str(moved["session_id"]))
    return {
        "history": cli.json("history"),
        "bob": cli.json("history", "--user", "bob"),
        "bruno": cli.json("history", "--user", "bruno"),
        "sessions": {
            str(s): cli.json("history", "--session", str(s))
            for s in (
                moved["session_id"],
                refused["session_id"],
                stale["session_id"],
                left_paid["session_id"],
                idle["session_id"],
                dropped["session_id"],
                late["session_id"],
            )
        },
        "stories": {
            str(lesson): cli.json("lesson", "show", str(lesson))
            for lesson in (by_balance, by_card, off, done)
        },
        "moved_session": new_lesson,
        "outbox": outbox(cli) if mail else [],
    }


def _fixed(entry: Any) -> Any:
    """The fixtures' ``db init`` ran on the real clock (a template database): its time varies."""
    if isinstance(entry, dict):
        if entry.get("command") == "db init":
            entry = {**entry, "at": "(db init)"}
        return {key: _fixed(value) for key, value in entry.items()}
    if isinstance(entry, list):
        return [_fixed(value) for value in entry]
    return entry


@pytest.mark.parametrize("mail", [False, True], ids=["quiet", "mail"])
def test_history_is_what_it_was_before_events(cli: Cli, mail: bool) -> None:
    seen = _fixed(_scenario(cli, mail))
    text = json.dumps(seen, indent=1, sort_keys=True, default=str) + "\n"
    # one snapshot a database: a rolled-back insert spends a PostgreSQL sequence value, so
    # later ids may differ between the two
    backend = "postgresql" if cli.url.startswith("postgresql") else "sqlite"
    snapshot = DATA / f"history_events_{backend}{'_mail' if mail else ''}.json"
    if os.environ.get("TUTORCTL_WRITE_SNAPSHOT") and not snapshot.exists():
        snapshot.write_text(text)
    assert text == snapshot.read_text()


def test_services_record_events_for_the_converted_kinds() -> None:
    """The kinds with typed events write no history row by hand: their services record the
    event once (history and messages both come from it)."""
    services = Path(__file__).parents[2] / "tutorctl" / "services"
    converted = ("settlement.py", "accounts.py", "expire.py", "absence.py", "funding.py",
                 "booking.py", "sessions.py", "operations.py", "packages.py")  # fmt: skip
    for name in converted:
        source = (services / name).read_text()
        assert "tx.audit(" not in source and "audit_from" not in source, name
    assert not any("audit_from" in p.read_text() for p in services.rglob("*.py"))

"""PostgreSQL: a transaction's BEGIN goes in the round trip of its first statement
(``tutorctl.db.pgbegin``): the unit of work sends none on its own, and the driver's autocommit
never lets a statement run outside a transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Cli, school
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db import pgbegin
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database
from tutorctl.services import booking

NOW = parse_now("2026-11-24T09:00:00+01:00")


@pytest.fixture
def separate_begins(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The BEGINs sent on their own, in a round trip of their own."""
    if cli.url.startswith("sqlite"):
        pytest.skip("PostgreSQL's BEGIN")
    sent: list[str] = []
    send = pgbegin._send_pending

    def counted(connection: Any) -> None:
        pending = getattr(connection, pgbegin._PENDING, None)
        if pending is not None:
            sent.append(pending)
        send(connection)

    monkeypatch.setattr(pgbegin, "_send_pending", counted)
    return sent


def test_the_unit_of_work_sends_no_begin_of_its_own(cli: Cli, separate_begins: list[str]) -> None:
    school(cli)
    db = Database(cli.url, Clock(NOW), actor="tester")
    week = date(2026, 11, 30)  # next week's Monday: Wednesday 10:00-11:00
    held = db.write(
        "reserve", lambda tx: booking.reserve(tx, "alice", "bob", "maths", week, 2, 10, 11)
    )
    shown = db.read(lambda tx: tx.conn.execute(text("SHOW transaction_read_only")).scalar_one())
    assert held and shown == "on"
    assert separate_begins == []


def test_a_plain_transaction_still_runs_in_one(cli: Cli, separate_begins: list[str]) -> None:
    """Outside the unit of work (a test, a tool): the BEGIN goes first on its own; what the
    transaction wrote is gone after its rollback (the driver's autocommit never applies)."""
    engine = get_engine(cli.url)
    insert = text("INSERT INTO categories (name, price_cents, active) VALUES (:n, 1, true)")
    with engine.connect() as conn:
        with conn.begin() as transaction:
            conn.execute(insert, {"n": "gone"})
            assert conn.execute(text("SHOW transaction_isolation")).scalar_one() == (
                "read committed"
            )
            transaction.rollback()
        with conn.begin():  # a transaction that runs nothing sends nothing
            pass
        count = text("SELECT count(*) FROM categories WHERE name = 'gone'")
        assert conn.execute(count).scalar_one() == 0
        conn.rollback()
    assert separate_begins == [pgbegin.WRITE, pgbegin.WRITE]

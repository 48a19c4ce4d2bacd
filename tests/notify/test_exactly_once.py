"""SPEC §11, exactly once: `notify send` processes started together on one queue send each
message once (claims under lock), on SQLite, PostgreSQL and PostgreSQL through PgBouncer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import NOW, Cli
from tests.notify.conftest import book, mail_school, outbox
from tests.notify.smtp import Inbox, smtp_server
from tutorctl.db.engine import get_engine

COPIES = 120  # messages on the queue


def fill_queue(cli: Cli) -> None:
    """One real booking's receipt copied into COPIES queued receipts, and its teacher's."""
    mail_school(cli)
    book(cli)
    with get_engine(cli.url).begin() as conn:
        for _ in range(COPIES - 1):
            conn.execute(
                text(
                    "INSERT INTO outbox (kind, status, user_id, to_address, to_name, session_id,"
                    " lesson_id, payload, created_at, next_attempt_at, attempts)"
                    " SELECT kind, status, user_id, to_address, to_name, session_id, lesson_id,"
                    " payload, created_at, next_attempt_at, attempts FROM outbox"
                    " WHERE id = (SELECT min(id) FROM outbox WHERE kind = 'receipt')"
                )
            )


@pytest.mark.slow  # real processes racing
@pytest.mark.pooled  # also through PgBouncer: the claims' row locks live in one transaction
@pytest.mark.parametrize("runs", [2, 4])
def test_overlapping_runs_send_each_message_once(cli: Cli, runs: int) -> None:
    fill_queue(cli)
    box = Inbox()
    with smtp_server(box) as where:
        env = {
            **os.environ,
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "TUTORCTL_DB": cli.url,
            "TUTORCTL_NOW": NOW,
            "TUTORCTL_SMTP_URL": f"smtp://{where}",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "tutorctl", "notify", "send", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(runs)
        ]
        results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * runs, [err for _out, err in results]
    ids = Counter(str(m["Message-ID"]) for m in box.received)
    assert len(ids) == COPIES + 1 and set(ids.values()) == {1}
    assert {r["status"] for r in outbox(cli)} == {"sent"}
    sent_by_run = [out.count('"status": "sent"') for out, _err in results]
    assert sum(sent_by_run) == COPIES + 1


@pytest.mark.pooled
def test_a_claim_skips_the_rows_another_run_holds(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run's claim in progress (its rows locked, FOR UPDATE, on a direct connection):
    `notify send` (through PgBouncer for the pooled variant) skips those rows at once, no lock
    wait, and sends the others; once released, they go on the next run."""
    if cli.url.startswith("sqlite"):
        pytest.skip("row locks: SQLite has one writer")
    import psycopg

    from tests.cli.test_pooled import _direct

    fill_queue(cli)
    box = Inbox()
    with smtp_server(box) as where, psycopg.connect(_direct(cli.url)) as other:
        held = [
            row[0]
            for row in other.execute(
                "SELECT id FROM outbox ORDER BY id LIMIT 7 FOR UPDATE"
            ).fetchall()
        ]
        monkeypatch.setenv("TUTORCTL_SMTP_URL", f"smtp://{where}")
        sent = cli.json("--lock-timeout", "0.5", "notify", "send")
        assert sent["sent"] == COPIES + 1 - len(held), sent
        other.rollback()  # the other run's transaction ends without sending
        assert cli.json("notify", "send")["sent"] == len(held)
    ids = Counter(str(m["Message-ID"]) for m in box.received)
    assert len(ids) == COPIES + 1 and set(ids.values()) == {1}
    assert {r["status"] for r in outbox(cli)} == {"sent"}

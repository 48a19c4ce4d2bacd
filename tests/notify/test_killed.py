"""SPEC §11: `notify send` killed (SIGKILL) at each step of a message, then run again once its
claim is stale: nothing is lost, and the only message that may arrive twice is the one the
server accepted before the run could record it, with the same Message-ID (both backends)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import NOW, Cli
from tests.notify.conftest import book, mail_school, outbox
from tests.notify.smtp import Inbox, smtp_server

LATER = "2026-11-24T09:20:00+01:00"  # past the claim's 15 minutes


def run_send(cli: Cli, where: str, now: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "TUTORCTL_DB": cli.url,
        "TUTORCTL_NOW": now,
        "TUTORCTL_SMTP_URL": f"smtp://{where}",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tutorctl", "notify", "send", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow  # a crash: a real run killed at each step
@pytest.mark.parametrize("step", ["mail", "data", "accepted"])
def test_a_killed_run_loses_nothing_and_repeats_at_most_one(cli: Cli, step: str) -> None:
    mail_school(cli)
    book(cli)
    book(cli, day="thu")
    box = Inbox(kill_at=step)
    with smtp_server(box) as where:
        killed = run_send(cli, where, NOW)
        box.kill_pid = killed.pid
        killed.communicate(timeout=60)
        assert killed.returncode == -9
        assert {r["status"] for r in outbox(cli)} == {"sending"}  # claimed, not yet recorded
        soon = run_send(cli, where, NOW)  # the claims are fresh: another run leaves them
        out, err = soon.communicate(timeout=60)
        assert soon.returncode == 0, err
        assert '"sent": 0' in out
        again = run_send(cli, where, LATER)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
    ids = Counter(str(m["Message-ID"]) for m in box.received)
    assert len(ids) == 4 and {r["status"] for r in outbox(cli)} == {"sent"}
    twice = [i for i, n in ids.items() if n > 1]
    if step == "accepted":  # the server had it; the run died before recording it
        assert twice == [str(box.received[0]["Message-ID"])] and ids[twice[0]] == 2
    else:
        assert twice == []

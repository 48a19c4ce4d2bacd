"""`notify send` throughput against a local SMTP server (aiosmtpd), beside a raw smtplib loop
sending the same messages over one connection, measured in the same run (issue 24: at least
50% of the raw loop).

    PYTHONPATH=. python benchmarks/bench_notify.py [--messages 10000]

The queue is one real booking's receipt copied (INSERT … SELECT, doubling); `notify send`
runs in process (its own transactions: claim a batch, then one short transaction per
message recording the server's answer). The raw loop composes nothing: it sends the bytes
`notify send` would, so the gap is tutorctl's own bookkeeping.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import text

from tutorctl.cli.app import main as cli
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database
from tutorctl.services import sending
from tutorctl.services.mailer import smtp_config
from tutorctl.services.messages import Templates, compose, row_of

NOW = "2026-11-24T09:00:00+01:00"


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def fill(url: str, messages: int) -> None:
    run = lambda *a: cli(["--db", url, "--now", NOW, *a])  # noqa: E731
    run("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
    run("user", "add", "alice", "--name", "Alice Martin", "--role", "teacher")
    run("user", "add", "bob", "--name", "Bob Li", "--role", "student", "--email", "b@example.org")
    run("category", "add", "maths", "--price", "40")
    run("schedule", "set", "alice", "--week", "next", "--days", "wed", "--hours", "09:00-12:00",
        "--open")  # fmt: skip
    run("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths", "--week",
        "next", "--day", "wed", "--time", "10:00-11:00")  # fmt: skip
    run("session", "pay", "1", "--method", "card")
    copy = text(
        "INSERT INTO outbox (kind, status, user_id, to_address, to_name, session_id, lesson_id,"
        " payload, created_at, next_attempt_at, attempts) SELECT kind, status, user_id,"
        " to_address, to_name, session_id, lesson_id, payload, created_at, next_attempt_at,"
        " attempts FROM outbox ORDER BY id LIMIT :n"
    )
    with get_engine(url).begin() as conn:
        while (n := conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()) < messages:
            conn.execute(copy, {"n": min(n, messages - n)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    args = parser.parse_args()
    url = f"sqlite:///{Path(tempfile.mkdtemp())}/notify.db"
    fill(url, args.messages)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        db = Database(url, clock=Clock(parse_now(NOW)), actor="bench")
        with get_engine(url).connect() as conn:
            raws = conn.execute(text("SELECT * FROM outbox ORDER BY id")).all()
        settings = db.read(lambda tx: tx.settings)
        messages = [compose(row_of(r), settings, Templates(None), db.clock.now()) for r in raws]
        start = time.perf_counter()
        smtp = smtplib.SMTP("127.0.0.1", port)
        for message in messages:
            smtp.send_message(message)
        smtp.quit()
        raw = time.perf_counter() - start
        config = smtp_config({"TUTORCTL_SMTP_URL": f"smtp://127.0.0.1:{port}"})
        start = time.perf_counter()
        result = sending.send(db, config, Templates(None), None)
        ours = time.perf_counter() - start
    finally:
        controller.stop()
    assert result.sent == len(messages) and sink.count == 2 * len(messages)
    print(f"{len(messages)} messages: raw smtplib {len(messages) / raw:.0f}/s, "
          f"notify send {len(messages) / ours:.0f}/s ({100 * raw / ours:.0f}% of raw)")  # fmt: skip


if __name__ == "__main__":
    main()

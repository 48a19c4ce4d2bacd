"""`notify send` throughput against a local SMTP server (aiosmtpd), beside a raw smtplib loop
sending the same messages over one connection, measured in the same run (issue 24: at least
50% of the raw loop); and its peak memory at two queue sizes (at most 1.2×).

    PYTHONPATH=. python benchmarks/bench_notify.py [--messages 10000] [--rounds 2]
    PYTHONPATH=. python benchmarks/bench_notify.py --memory 10000,100000

The queue is one real booking's receipt and teacher message copied (INSERT … SELECT,
doubling). Throughput: `notify send` runs in process (its own transactions: claim a batch,
then one short transaction per message recording the server's answer), after two raw loops
over the messages composed beforehand by `messages.compose` (the general path): `send_message`
of each (the issue's floor: it flattens each message) and `sendmail` of bytes flattened
beforehand (a stricter floor: the wire alone). Each round queues the messages again. The
server keeps a digest of every message by Message-ID: every message `notify send` delivers
must be byte for byte what the raw loop delivered. Memory: `notify send` in a child process
(its own VmHWM) for each queue size, one fresh database each.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import smtplib
import socket
import statistics
import sys
import tempfile
import time
from contextlib import redirect_stdout
from email.policy import SMTP
from io import StringIO
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from common import parse, peak_rss_mb, report

from tutorctl.cli.app import main as cli
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database
from tutorctl.services.notify import sending
from tutorctl.services.notify.mailer import smtp_config
from tutorctl.services.notify.messages import Templates, compose, row_of

NOW = "2026-11-24T09:00:00+01:00"
MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE)


class Sink:
    """Accepts everything; keeps a digest per Message-ID and counts the ones that differ."""

    def __init__(self) -> None:
        self.count = 0
        self.digests: dict[bytes, bytes] = {}
        self.differ = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        data = envelope.original_content
        found = MESSAGE_ID.search(data)
        key = found.group(1) if found else b""
        digest = hashlib.sha1(data + repr(envelope.rcpt_tos).encode()).digest()
        if self.digests.setdefault(key, digest) != digest:
            self.differ += 1
        return "250 OK"


def fill(url: str, messages: int) -> None:
    run = lambda *a: cli(["--db", url, "--now", NOW, *a])  # noqa: E731
    with redirect_stdout(StringIO()):
        run("db", "init", "--notifications", "on", "--mail-from", "desk@school.example")
        run("user", "add", "alice", "--name", "Alice Martin", "--role", "teacher", "--email",
            "alice@school.example")  # fmt: skip
        run("user", "add", "bob", "--name", "Bob Li", "--role", "student", "--email",
            "b@example.org")  # fmt: skip
        run("category", "add", "maths", "--price", "40")
        run("schedule", "set", "alice", "--week", "next", "--days", "wed", "--hours",
            "09:00-12:00", "--open")  # fmt: skip
        run("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
            "--week", "next", "--day", "wed", "--time", "10:00-11:00")  # fmt: skip
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


def requeue(url: str) -> None:
    with get_engine(url).begin() as conn:
        conn.execute(text("UPDATE outbox SET status = 'queued', sent_at = NULL,"
                          " claimed_by = NULL, claimed_at = NULL"))  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def throughput(messages: int, rounds: int) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp())}/notify.db"
    fill(url, messages)
    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    db = Database(url, clock=Clock(parse_now(NOW)), actor="bench")
    with get_engine(url).connect() as conn:
        raws = conn.execute(text("SELECT * FROM outbox ORDER BY id")).all()
    settings = db.read(lambda tx: tx.settings)
    start = time.perf_counter()
    prebuilt = [compose(row_of(r), settings, Templates(None), db.clock.now()) for r in raws]
    compose_ms = 1000 * (time.perf_counter() - start) / len(raws)
    flat = [
        (settings.mail_from, [r.to_address], m.as_bytes(policy=SMTP))
        for m, r in zip(prebuilt, raws, strict=True)
    ]
    config = smtp_config({"TUTORCTL_SMTP_URL": f"smtp://127.0.0.1:{port}"})
    rows: list[tuple[str, str]] = []
    ratios, strict = [], []
    try:
        for n in range(rounds):
            start = time.perf_counter()
            smtp = smtplib.SMTP("127.0.0.1", port)
            for message in prebuilt:
                smtp.send_message(message)
            smtp.quit()
            raw = time.perf_counter() - start
            start = time.perf_counter()
            smtp = smtplib.SMTP("127.0.0.1", port)
            for sender, to, data in flat:
                smtp.sendmail(sender, to, data)
            smtp.quit()
            wire = time.perf_counter() - start
            if n:
                requeue(url)
            start = time.perf_counter()
            result = sending.send(db, config, Templates(None), None)
            ours = time.perf_counter() - start
            assert result.sent == len(raws), result.sent
            ratios.append(raw / ours)
            strict.append(wire / ours)
            rows.append((
                f"round {n + 1}",
                f"send_message {len(raws) / raw:.0f}/s, sendmail(bytes) {len(raws) / wire:.0f}/s,"
                f" notify send {len(raws) / ours:.0f}/s = {100 * raw / ours:.0f}% of"
                f" send_message, {100 * wire / ours:.0f}% of sendmail(bytes)",
            ))  # fmt: skip
    finally:
        controller.stop()
    assert sink.count == 3 * rounds * len(raws), sink.count
    assert sink.differ == 0, f"{sink.differ} messages differ from the raw loop's"
    rows.append(("compose (general path)", f"{compose_ms:.2f} ms a message, done beforehand"))
    rows.append(("bytes", f"all {sink.count} deliveries of each message identical"))
    rows.append((
        "median",
        f"{100 * statistics.median(ratios):.0f}% of send_message (target ≥ 50%), "
        f"{100 * statistics.median(strict):.0f}% of sendmail(bytes)",
    ))  # fmt: skip
    report(f"notify send, {len(raws)} queued messages, SQLite, local aiosmtpd", rows)


def memory(sizes: list[int]) -> None:
    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["TUTORCTL_SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    rows, peaks = [], []
    try:
        for size in sizes:
            url = f"sqlite:///{Path(tempfile.mkdtemp())}/notify.db"
            fill(url, size)
            seconds, peak = peak_rss_mb(url, "notify", "send", now=NOW)
            peaks.append(peak)
            rows.append((f"{size} messages", f"peak RSS {peak:.1f} MB, {seconds:.1f} s"))
    finally:
        controller.stop()
    assert sink.count == sum(sizes), sink.count
    rows.append(("ratio", f"{peaks[-1] / peaks[0]:.2f}× (target ≤ 1.2×)"))
    report("notify send, peak memory of the process", rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--memory", help="queue sizes, e.g. 10000,100000: peak memory only")
    args = parse(parser, messages=40, rounds=1, memory=None)
    if args.memory:
        memory([int(n) for n in args.memory.split(",")])
        return
    throughput(args.messages, args.rounds)
    if args.tiny:
        memory([20, 40])


if __name__ == "__main__":
    main()

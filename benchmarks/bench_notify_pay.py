"""What queuing messages costs a pay (SPEC §11: at most 10% of a pay).

Two schools, one with notifications on, one off, the same people (with emails) and lessons:
each session holds one lesson and is paid by card; the pay's second transaction (recording the
provider's answer, which applies the session and, with notifications on, queues the receipt
and the teacher's message) is timed in process, interleaved between the two schools.

    PYTHONPATH=. python benchmarks/bench_notify_pay.py [--sessions 200] [--backend sqlite]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # this tree's tutorctl
from common import parse

from tutorctl.cli.app import main as cli
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db.uow import Database, Tx
from tutorctl.services import settlement

NOW = "2026-11-24T09:00:00+01:00"


def school(url: str, notifications: bool, sessions: int) -> list[tuple[int, int]]:
    """People and sessions awaiting their payment: [(session id, payment id)]."""
    run = lambda *a: cli(["--db", url, "--now", NOW, *a])  # noqa: E731
    assert run("db", "init") == 0
    if notifications:
        assert run("db", "init", "--notifications", "on", "--mail-from", "d@school.example") == 0
    teachers = [f"t{i}" for i in range(10)]
    for t in teachers:
        run("user", "add", t, "--name", t.upper(), "--role", "teacher", "--email", f"{t}@s.example")
        run("schedule", "set", t, "--week", "this..+20", "--days", "mon-fri",
            "--hours", "08:00-20:00", "--open")  # fmt: skip
    db = Database(url, clock=Clock(parse_now(NOW)), actor="bench")
    out = []
    for n in range(sessions):
        student = f"s{n}"
        run("user", "add", student, "--name", student, "--role", "student",
            "--email", f"{student}@s.example")  # fmt: skip
        teacher, week = teachers[n % 10], f"+{1 + (n // 10) % 19}"
        day, hour = ("mon", "tue", "wed", "thu", "fri")[(n // 190) % 5], 8 + (n // 950) % 12
        assert run("reserve", "--teacher", teacher, "--student", student, "--category", "maths",
                   "--week", week, "--day", day, "--time", f"{hour:02d}:00-{hour + 1:02d}:00",
                   "--json") == 0  # fmt: skip
        sid = n + 1
        started = db.write(
            "session pay", lambda tx, s=sid: settlement.start_payment(tx, s, "card", None, None)
        )
        assert started.payment_id is not None
        out.append((sid, started.payment_id))
    return out


def _succeed(tx: Tx, *, sid: int, pid: int) -> object:
    """The provider's answer: payment ``pid`` of session ``sid`` succeeded."""
    return settlement.finish_payment(tx, sid, pid, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    args = parse(parser, sessions=5)
    folder = Path(tempfile.mkdtemp())
    urls = {on: f"sqlite:///{folder}/{'on' if on else 'off'}.db" for on in (False, True)}
    for url in urls.values():
        cli(["--db", url, "--now", NOW, "db", "init"])
        cli(["--db", url, "--now", NOW, "category", "add", "maths", "--price", "40"])
    pending = {on: school(url, on, args.sessions) for on, url in urls.items()}
    times: dict[bool, list[float]] = {False: [], True: []}
    dbs = {
        on: Database(url, clock=Clock(parse_now(NOW)), actor="bench") for on, url in urls.items()
    }
    for n in range(args.sessions):
        for on in (False, True):
            sid, pid = pending[on][n]
            start = time.perf_counter()
            dbs[on].write("payment result", functools.partial(_succeed, sid=sid, pid=pid))
            times[on].append(time.perf_counter() - start)
    off, on_ = statistics.median(times[False]), statistics.median(times[True])
    print(f"pay's applying transaction, median of {args.sessions}: off {off * 1000:.2f} ms, "
          f"on {on_ * 1000:.2f} ms, queuing costs {100 * (on_ - off) / off:+.1f}%")  # fmt: skip


if __name__ == "__main__":
    main()

"""Worker processes for the stress, negative-control and crash tests (run under spawn)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import signal
from collections import Counter
from typing import Any

from tests.helpers import reserve_args

NOW = "2026-11-24T09:00:00+01:00"
LATER = "2026-11-24T09:45:00+01:00"
TEACHERS = ("alice", "bruno")
TIMES = ("10:00-11:00", "11:00-12:00", "12:00-13:00", "10:00-12:00", "11:00-13:00")
DAYS = ("wed", "thu")


def _env(url: str, actor: str) -> None:
    os.environ.update(TUTORCTL_DB=url, TUTORCTL_NOW=NOW, TUTORCTL_ACTOR=actor, COLUMNS="120")


def _call(*args: str) -> tuple[int, str, str]:
    from tutorctl.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _latest_session(student: str) -> str | None:
    code, out, _ = _call("session", "list", "--student", student, "--json")
    sessions = json.loads(out)["sessions"] if code == 0 else []
    return str(sessions[0]["id"]) if sessions else None


def _booked_lesson(rng: random.Random) -> str | None:
    teacher = rng.choice(TEACHERS)
    code, out, _ = _call("schedule", "show", teacher, "--week", "next", "--json")
    ids = (
        [x["id"] for x in json.loads(out)["lessons"] if x["status"] == "booked"]
        if code == 0
        else []
    )
    return str(rng.choice(ids)) if ids else None


def stress_worker(url: str, worker: int, ops: int, students: list[str], out: Any) -> None:
    """Run ``ops`` random operations; report exit codes per kind, unexpected errors, retries."""
    try:
        _stress(url, worker, ops, students, out)
    except BaseException as exc:  # report, so the parent never waits for a dead worker
        import traceback

        out.put(
            {
                "worker": worker,
                "codes": {},
                "unexpected": [traceback.format_exc()[-2000:]],
                "retries": 0,
            }
        )
        raise SystemExit(1) from exc


def _stress(url: str, worker: int, ops: int, students: list[str], out: Any) -> None:
    _env(url, f"worker{worker}")
    from tutorctl.db import uow

    rng = random.Random(int(os.environ.get("TUTORCTL_STRESS_SEED", "1000")) + worker)
    codes: Counter[str] = Counter()
    unexpected: list[str] = []
    kinds = ["reserve"] * 4 + [
        "repeat",
        "cancel",
        "move",
        "pay",
        "pay",
        "fail",
        "confirm",
        "abandon",
        "credit",
        "expire",
        "import",
        "import-credit",
    ]
    for _ in range(ops):
        kind = rng.choice(kinds)
        student = rng.choice(students)
        args: tuple[str, ...]
        if kind in ("reserve", "repeat"):
            args = (
                *reserve_args(
                    teacher=rng.choice(TEACHERS),
                    student=student,
                    week="next",
                    day=rng.choice(DAYS),
                    time=rng.choice(TIMES),
                ),
            )
            if kind == "repeat":
                args += ("--repeat", "2")
        elif kind in ("cancel", "move"):
            lesson = _booked_lesson(rng)
            if lesson is None:
                codes[f"{kind}:none"] += 1
                continue
            args = (
                ("cancel", lesson)
                if kind == "cancel"
                else (
                    "move",
                    lesson,
                    "--week",
                    "next",
                    "--day",
                    rng.choice(DAYS),
                    "--time",
                    rng.choice(TIMES),
                )
            )
        elif kind in ("pay", "fail", "confirm", "abandon"):
            sid = _latest_session(student)
            if sid is None:
                codes[f"{kind}:none"] += 1
                continue
            if kind == "pay":
                args = ("session", "pay", sid, "--method", "card")
            elif kind == "fail":
                args = ("session", "pay", sid, "--method", "card", "--simulate", "failure")
            elif kind == "confirm":
                args = (
                    "session",
                    "confirm",
                    sid,
                    rng.choice(["--cancels", "--no-cancels"]),
                    rng.choice(["--moves", "--no-moves"]),
                )
            else:
                args = ("session", "abandon", sid)
        elif kind == "credit":
            args = ("account", "credit", student, f"{rng.randint(1, 80)}.00")
        elif kind == "import":  # a lesson of s0's funded by package 1, on the hot slots
            day = rng.choice(("2026-12-02", "2026-12-03"))  # next week's wed, thu
            start, end = rng.choice(TIMES).split("-")
            args = _import_file(
                worker, "reservations",
                "teacher,student,category,date,start,end,status,purchase",
                f"alice,s0,maths,{day},{start},{end},booked,1",
            )  # fmt: skip
        elif kind == "import-credit":  # money for two students at once, in one file
            pair = sorted(rng.sample(students, 2))
            args = _import_file(
                worker, "credits", "student,amount",
                *(f"{s},{rng.randint(1, 30)}.00" for s in pair),
            )  # fmt: skip
        else:
            args = ("--now", LATER if rng.random() < 0.2 else NOW, "expire")
        code, _out, err = _call(*args)
        codes[f"{kind}:{code}"] += 1
        refused_rows = kind == "import" and code == 2 and any(r in err for r in _IMPORT_REFUSALS)
        if (
            (code not in (0, 1, 3) and not refused_rows)
            or "Traceback" in err
            or "locked" in err.lower()
        ):
            unexpected.append(f"{args} → {code}: {err.strip()[:300]}")
    out.put(
        {
            "worker": worker,
            "codes": dict(codes),
            "unexpected": unexpected,
            "retries": uow.STATS["retries"],
        }
    )


# an imported lesson refused by the rules (its file is then rolled back, exit 2): the place is
# taken, or the package has run out
_IMPORT_REFUSALS = ("overlaps", "min left", "not available")


def _import_file(worker: int, kind: str, *lines: str) -> tuple[str, ...]:
    """Write a small import file (in $TUTORCTL_STRESS_FILES); the command that imports it."""
    import tempfile

    folder = os.environ.get("TUTORCTL_STRESS_FILES") or tempfile.gettempdir()
    path = os.path.join(folder, f"stress-{os.getpid()}-{worker}-{kind}.csv")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return ("import", kind, path)


def unlocked_reserve(url: str, student: str, barrier: Any, out: Any) -> None:
    """Negative control: reserve with the row locks switched off in this process only."""
    _env(url, student)
    from sqlalchemy import text

    from tutorctl.db import uow

    ensure = text(
        "INSERT INTO calendar_weeks (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp)"
        " VALUES (:u, :w, :e, :e, :e, :e, :e, :e, :e, 0) ON CONFLICT (user_id, week) DO NOTHING"
    )
    read = text(
        "SELECT id, user_id, week, d0, d1, d2, d3, d4, d5, d6 FROM calendar_weeks"
        " WHERE user_id = :u AND week = :w"
    )

    def no_lock(self: Any, keys: list[Any], touched: set[Any]) -> None:  # ensure rows, lock nothing
        for u, w in keys:
            self.conn.execute(ensure, {"u": u, "w": w, "e": self.settings.empty_day()})
            self.locked_weeks.take(self.conn.execute(read, {"u": u, "w": w}))

    uow.Tx._lock_weeks = no_lock  # type: ignore[method-assign]
    barrier.wait(60)
    code, _out, err = _call(
        *reserve_args(student=student, week="next"),
    )
    out.put((code, err))


def crash_worker(url: str, kill_at: int, args: list[str]) -> None:
    """Run one command and SIGKILL this process at its ``kill_at``-th SQL statement."""
    _env(url, "crash")
    from sqlalchemy import event

    from tutorctl.db import engine as engines
    from tutorctl.db import uow

    seen = {"n": 0}
    original, original_run = engines._create, uow.run

    def count(*_args: Any) -> None:
        seen["n"] += 1
        if seen["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def create(url: str, *args: Any) -> Any:
        engine = original(url, *args)
        event.listen(engine, "before_cursor_execute", count)
        return engine

    def run(*args: Any, **kwargs: Any) -> Any:  # prepared statements go around the events
        count()
        return original_run(*args, **kwargs)

    engines._create = create  # type: ignore[assignment]
    uow.run = run  # type: ignore[assignment]
    code, _out, _err = _call(*args)
    os._exit(100 + code)  # finished before the kill point


# -- imports and the desk on one package (tests/stress/test_import_race.py) ------------------

RACE_FIRST_MONDAY = "2026-11-30"  # week +1 of NOW


def race_slot(index: int) -> tuple[str, str, str]:
    """The ``index``-th distinct hour from RACE_FIRST_MONDAY on: (date, start, end)."""
    from datetime import date, timedelta

    day = date.fromisoformat(RACE_FIRST_MONDAY) + timedelta(days=index // 24)
    hour = index % 24
    return day.isoformat(), f"{hour:02d}:00", f"{hour + 1:02d}:00"


def race_importer(url: str, worker: int, workers: int, rounds: int, folder: str, out: Any) -> None:
    """Import ``rounds`` files of one lesson of bob's, funded by package 1, each at its own hour
    of the first week (the desk books the next one: no week lock in common)."""
    _env(url, f"importer{worker}")
    codes: Counter[str] = Counter()
    unexpected: list[str] = []
    for i in range(rounds):
        day, start, end = race_slot(i * workers + worker)
        path = os.path.join(folder, f"import{worker}_{i}.csv")
        with open(path, "w") as f:
            f.write("teacher,student,category,date,start,end,status,purchase\n")
            f.write(f"alice,bob,maths,{day},{start},{end},booked,1\n")
        code, _out, err = _call("import", "reservations", path)
        codes[f"import:{code}"] += 1
        if code != 0 or "Traceback" in err:
            unexpected.append(f"import {day} {start} → {code}: {err.strip()[:300]}")
    out.put({"worker": f"importer{worker}", "codes": dict(codes), "unexpected": unexpected})


def race_desk(url: str, rounds: int, out: Any) -> None:
    """The desk books bob in the second week (paid from package 1: nothing to pay, confirm)
    and cancels every third lesson it booked (its hour goes back to the package)."""
    _env(url, "desk")
    codes: Counter[str] = Counter()
    unexpected: list[str] = []
    booked: list[str] = []

    def call(kind: str, *args: str) -> tuple[int, str]:
        code, output, err = _call(*args)
        codes[f"{kind}:{code}"] += 1
        if code != 0 or "Traceback" in err:
            unexpected.append(f"{args} → {code}: {err.strip()[:300]}")
        return code, output

    for i in range(rounds):
        day, start, end = race_slot(7 * 24 + i)
        code, output = call(
            "reserve",
            "reserve", "--teacher", "alice", "--student", "bob", "--category", "maths",
            "--week", day, "--day", str(date_weekday(day)), "--time", f"{start}-{end}", "--json",
        )  # fmt: skip
        if code != 0:
            continue
        made = json.loads(output)
        call("confirm", "session", "confirm", str(made["session_id"]))
        booked.append(str(made["reservation_id"]))
        if i % 3 == 2:
            code, output = call("cancel", "cancel", booked.pop(0), "--json")
            if code == 0:
                call("confirm", "session", "confirm", str(json.loads(output)["session_id"]))
    out.put({"worker": "desk", "codes": dict(codes), "unexpected": unexpected})


def date_weekday(day: str) -> int:
    """1 (Monday) … 7 (Sunday), as ``--day`` takes it."""
    from datetime import date

    return date.fromisoformat(day).isoweekday()


def busy_worker(url: str, name: str, args: tuple[str, ...], folder: str, out: Any) -> None:
    """Run one command (relative file names are in ``folder``); report its exit code, its
    stderr and how long it took."""
    import time

    _env(url, name)
    os.chdir(folder)
    import importlib

    for module in ("tutorctl.cli.app", "tutorctl.db.uow", "tutorctl.services.imports"):
        importlib.import_module(module)  # start-up is not what is timed

    started = time.monotonic()
    code, _out, err = _call(*args)
    out.put((name, code, err, time.monotonic() - started))

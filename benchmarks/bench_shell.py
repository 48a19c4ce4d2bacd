"""The warm shell and completion: a command typed in `tutorctl shell` vs the same command run as
a process, and how long a TAB takes.

    python benchmarks/bench_shell.py [--rounds 7] [--lines 40]

Shell: per round, `tutorctl shell` is fed the command once and then `--lines` times (stdin,
one process each); the difference divided by `--lines - 1` is what one more line costs in the
warm process, start-up excluded. The same round times the command as a process. Rounds are
interleaved; each figure is the median. Completion: one process per TAB, as bash runs it
(`_TUTORCTL_COMPLETE=complete_bash`, the line in `COMP_LINE`), for a word list (days) and for handles read from the
database, against `python -c pass` and `tutorctl --help`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse, report

COMMANDS = {
    "schedule show alice": ["schedule", "show", "alice"],
    "session resume 1 --json": ["session", "resume", "1", "--json"],
}


def wall(cmd: list[str], env: dict[str, str], stdin: str = "") -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, input=stdin, text=True, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--tab-rounds", type=int, help="TAB rounds (default: twice --rounds)")
    args = parse(parser, rounds=1, lines=2, tab_rounds=1)
    tab_rounds = args.tab_rounds or args.rounds * 2
    tutorctl = [sys.executable, "-m", "tutorctl"]
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TUTORCTL_DB": f"sqlite:///{tmp}/s.db",
            "TUTORCTL_NOW": "2026-11-24T09:00:00+01:00",
            "XDG_DATA_HOME": tmp,
        }
        subprocess.run([*tutorctl, "demo"], env=env, stdout=subprocess.DEVNULL, check=True)
        rows: list[tuple[str, str]] = []
        for label, words in COMMANDS.items():
            line = " ".join(words) + "\n"
            process, warm = [], []
            for _ in range(args.rounds):
                process.append(wall([*tutorctl, *words], env))
                one = wall([*tutorctl, "shell"], env, line)
                many = wall([*tutorctl, "shell"], env, line * args.lines)
                warm.append((many - one) / (args.lines - 1))
            p, w = statistics.median(process), statistics.median(warm)
            rows.append(
                (
                    f"{label}: process / warm shell",
                    f"{p * 1000:.0f} ms / {w * 1000:.1f} ms  ({p / w:.0f}× faster in the shell)",
                )
            )
        complete = {
            "python -c pass": ([sys.executable, "-c", "pass"], {}),
            "tutorctl --help": ([*tutorctl, "--help"], {}),
            "TAB on --day (a word list)": (
                tutorctl,
                {"COMP_LINE": "tutorctl reserve --day ", "COMP_TEXT": ""},
            ),
            "TAB on --teacher (handles from the database)": (
                tutorctl,
                {"COMP_LINE": "tutorctl reserve --teacher ", "COMP_TEXT": ""},
            ),
            "TAB on cancel (lesson ids from the database)": (
                tutorctl,
                {"COMP_LINE": "tutorctl cancel ", "COMP_TEXT": ""},
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in complete}
        for _ in range(tab_rounds):
            for name, (cmd, extra) in complete.items():
                more = {**extra, "_TUTORCTL_COMPLETE": "complete_bash"} if extra else {}
                times[name].append(wall(cmd, {**env, **more}))
        for name in complete:
            rows.append((name, f"{statistics.median(times[name]) * 1000:.0f} ms"))
    report(
        f"warm shell vs process, completion (medians of {args.rounds} / {tab_rounds} "
        "interleaved rounds)",
        rows,
    )


if __name__ == "__main__":
    main()

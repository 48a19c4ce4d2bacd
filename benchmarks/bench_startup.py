"""Start-up: `tutorctl --help` and a database command vs a bare interpreter importing the stack.

    python benchmarks/bench_startup.py [--runs 15]

Floors, measured in the same run: `python -c pass`, and `python -c "import typer, sqlmodel,
rich"`. Targets: --help ≤ 0.25 s; `schedule show` ≤ the import floor + 0.2 s.
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


def walls(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall time of each command, the commands interleaved run by run: on a noisy
    machine a slow spell then hits the floor and the commands alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
            )
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parse(parser, runs=1)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TUTORCTL_DB": f"sqlite:///{tmp}/s.db",
            "TUTORCTL_NOW": "2026-11-24T09:00:00+01:00",
        }
        tutorctl = [sys.executable, "-m", "tutorctl"]
        subprocess.run([*tutorctl, "demo"], env=env, stdout=subprocess.DEVNULL, check=True)
        t = walls(
            {
                "bare": [sys.executable, "-c", "pass"],
                "floor": [sys.executable, "-c", "import typer, sqlmodel, rich"],
                "help": [*tutorctl, "--help"],
                "show": [*tutorctl, "schedule", "show", "alice"],
                "json": [*tutorctl, "schedule", "show", "alice", "--json"],
            },
            env,
            args.runs,
        )
        bare, floor, help_, show, show_json = (
            t["bare"],
            t["floor"],
            t["help"],
            t["show"],
            t["json"],
        )
    report(
        f"start-up (median of {args.runs} interleaved runs)",
        [
            ("python -c pass", f"{bare:.3f} s"),
            ("floor: import typer, sqlmodel, rich", f"{floor:.3f} s"),
            (
                "tutorctl --help",
                f"{help_:.3f} s  (target ≤ 0.25 s; {help_ / floor:.2f}× the floor)",
            ),
            (
                "tutorctl schedule show alice",
                f"{show:.3f} s  (floor + {show - floor:.3f} s; target ≤ floor + 0.2 s)",
            ),
            (
                "tutorctl schedule show alice --json",
                f"{show_json:.3f} s  (floor + {show_json - floor:.3f} s)",
            ),
        ],
    )


if __name__ == "__main__":
    main()

"""Start-up: `tutorctl --help` and a database command vs a bare interpreter importing the stack.

    python benchmarks/bench_startup.py [--runs 15]

Floors, measured in the same run: `python -c pass`, and `python -c "import typer, sqlmodel,
rich"`. Targets: --help ≤ 0.25 s; `schedule show` ≤ the import floor + 0.2 s. A TAB (completing
`reserve --teacher ` from the database) is timed too. Each figure is given in wall time (the
targets) and in CPU time (user + system of the process), the steadier one on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import parse, report


def walls(
    commands: dict[str, list[str]], env: dict[str, str], runs: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Median wall time and median CPU time (user + system) of each command, the commands
    interleaved run by run: on a noisy machine a slow spell then hits the floor and the
    commands alike. CPU time is the steadier figure on a shared machine (a process waiting
    for a core is not charged for it); the targets are in wall time."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
            )
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return (
        {name: statistics.median(values) for name, values in times.items()},
        {name: statistics.median(values) for name, values in cpus.items()},
    )


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
        t, cpu = walls(
            {
                "bare": [sys.executable, "-c", "pass"],
                "floor": [sys.executable, "-c", "import typer, sqlmodel, rich"],
                "help": [*tutorctl, "--help"],
                "show": [*tutorctl, "schedule", "show", "alice"],
                "json": [*tutorctl, "schedule", "show", "alice", "--json"],
                "tab": [
                    "env",
                    "_TUTORCTL_COMPLETE=complete_bash",
                    "COMP_WORDS=tutorctl reserve --teacher ",
                    "COMP_CWORD=3",
                    *tutorctl,
                ],
            },
            env,
            args.runs,
        )
    floor, cpu_floor = t["floor"], cpu["floor"]

    def line(name: str, target: str = "") -> str:
        return (
            f"{t[name]:.3f} s (floor {t[name] - floor:+.3f} s{target}); "
            f"CPU {cpu[name]:.3f} s (floor {cpu[name] - cpu_floor:+.3f} s)"
        )

    report(
        f"start-up (median of {args.runs} interleaved runs; wall, and CPU user + system)",
        [
            ("python -c pass", f"{t['bare']:.3f} s; CPU {cpu['bare']:.3f} s"),
            ("floor: import typer, sqlmodel, rich", f"{floor:.3f} s; CPU {cpu_floor:.3f} s"),
            ("tutorctl --help", line("help", "; target ≤ 0.25 s in all")),
            ("TAB on --teacher (handles)", line("tab")),
            ("tutorctl schedule show alice", line("show", "; target ≤ floor + 0.2 s")),
            ("tutorctl schedule show alice --json", line("json")),
        ],
    )


if __name__ == "__main__":
    main()

"""The README's "real output" blocks, produced from the commands they show.

    python scripts/readme_outputs.py --check    # exit 1 and a diff if a block is stale
    python scripts/readme_outputs.py --write    # rewrite the blocks from real runs

A block is a fenced code block right after a marker comment naming its scenario (and every
"real output" the README claims must be followed by such a block before the next fence):

    <!-- readme-output: scenario=resume -->
    ```
    $ tutorctl session resume 2
    …the output…
    ```

Every ``$ tutorctl …`` line in the block is run (after the scenario's setup, in a fresh SQLite
database, at a fixed ``now``) through the same ``main()`` a process runs, stdout and stderr
together, in a terminal ``columns`` wide (100 unless the marker says ``columns=N``; ``now=ISO``
sets the clock of the shown commands; ``stdin="line\\nline"`` is what they read, e.g. the lines
typed into ``tutorctl shell``). What it prints is the block: a change that alters an
output fails ``--check`` (a step of ``.ci/run``) until the README is updated. Paths
under the temporary data folder print as ``/home/desk/.local/share``; trailing spaces are
dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

README = ROOT / "README.md"
NOW = "2026-11-24T09:00:00+01:00"  # a Tuesday, 2026-W48, Europe/Paris
HOME = "/home/desk/.local/share"
BLOCK = re.compile(
    r"<!-- readme-output: (?P<attrs>.*?) -->\n```(?P<lang>\w*)\n(?P<body>.*?)```", re.S
)

SCHOOL = [
    "db init",
    "user add alice --name 'Alice Martin' --role teacher",
    "user add chloe --name 'Chloé Dubois' --role student",
    "user add david --name 'David Kim' --role student",
    "category add maths --price 40.00",
    "schedule set alice --week this..+2 --days mon-fri --hours 09:00-18:00 --open",
]


DAY_OFF = [
    *SCHOOL,
    "account credit chloe 40.00",
    "reserve --teacher alice --student chloe --category maths --week this --day wed "
    "--time 10:00-11:00",
    "session confirm 1",
    "purchase add --student david --teacher alice --category maths --hours 2 --price 76.00",
    "reserve --teacher alice --student david --category maths --week this --day wed "
    "--time 14:00-16:00",
    "session confirm 2",
]


REPORTS = [  # the month of tests/cli/test_reports.py: bob pays by card, carl from his balance
    "db init",
    "user add alice --name 'Alice Martin' --role teacher",
    "user add bruno --name 'Bruno Costa' --role teacher",
    "user add bob --name 'Bob Li' --role student",
    "user add carl --name 'Carl Ng' --role student",
    "category add maths --price 40.00",
    "category add piano --price 45.50",
    "schedule set alice --week this..+4 --days mon-fri --hours 09:00-18:00 --open",
    "schedule set bruno --week this..+4 --days mon-fri --hours 09:00-18:00 --open",
    *[
        line
        for n, (student, teacher, category, day, time, pay) in enumerate(
            [
                ("bob", "alice", "maths", "wed", "10:00-11:00", True),
                ("bob", "alice", "maths", "thu", "10:00-12:00", True),
                ("carl", "bruno", "piano", "wed", "14:00-15:00", False),
                ("bob", "alice", "maths", "tue", "15:00-16:00", True),
                ("bob", "alice", "maths", "fri", "10:00-12:00", True),
            ],
            start=1,
        )
        for line in [
            *(["account credit carl 100.00 --reason 'cash at the desk'"] if n == 3 else []),
            f"reserve --teacher {teacher} --student {student} --category {category} "
            f"--week this --day {day} --time {time}",
            *([f"session pay {n} --method card"] if pay else []),
            f"session confirm {n}",
            *(
                [
                    "purchase add --student carl --teacher bruno --category piano --hours 4 "
                    "--price 160.00 --paid-hours 2",
                    "purchase settle 1 --hours 1 --method card",
                ]
                if n == 3
                else []
            ),
        ]
    ],
    "cancel 2",
    "session confirm 6",
    "cancel 4",
    "session confirm 7",
    "move 5 --week next --day mon --time 10:00-11:00",
    "session confirm 8",
    "account debit bob 30.00 --reason 'paid back in cash'",
    "--now 2026-11-26T12:00:00+01:00 expire",
]


@dataclass
class Scenario:
    setup: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)


SCENARIOS = {
    "fresh": Scenario(),
    "school": Scenario(SCHOOL),
    "used-demo": Scenario(  # a demo then used for real: a school now (issue 23)
        [
            "demo",
            "user add zoe --name 'Zoé Petit' --role student",
            "account credit david 50.00 --reason 'real cash'",
        ]
    ),
    "clash": Scenario(
        [
            *SCHOOL,
            "user add bob --name 'Bob Li' --role student",
            "reserve --teacher alice --student bob --category maths --week this --day wed "
            "--time 10:00-11:00",
        ]
    ),
    "resume": Scenario(
        [
            *SCHOOL,
            "purchase add --student chloe --teacher alice --category maths --hours 2 --price 76.00",
            "account credit chloe 70.00",
            "reserve --teacher alice --student chloe --category maths --week this --day wed "
            "--time 10:00-12:00",
            "reserve --teacher alice --student chloe --category maths --week this --day thu "
            "--time 10:00-11:00",
            "session confirm 1",
            "cancel 1",
            "move 2 --week this --day fri --time 14:00-15:00",
            "reserve --teacher alice --student chloe --category maths --week next --day mon "
            "--time 10:00-12:00",
            "reserve --teacher alice --student chloe --category maths --week next --day tue "
            "--time 10:00-12:00",
        ]
    ),
    "credit": Scenario(
        [
            *SCHOOL,
            "purchase add --student chloe --teacher alice --category maths --hours 2 "
            "--price 76.00 --paid-hours 1",
            "reserve --teacher alice --student chloe --category maths --week this --day wed "
            "--time 10:00-12:00",
        ]
    ),
    "day-off": Scenario(DAY_OFF),
    "after-day-off": Scenario(
        [
            *DAY_OFF,
            "--now 2026-11-25T08:00:00+01:00 schedule off alice --date 2026-11-25 "
            "--reason 'ill (flu)'",
        ]
    ),
    "reports": Scenario(REPORTS),
    "export": Scenario(  # lessons funded from several sources (issue 23)
        [
            *SCHOOL,
            "purchase add --student chloe --teacher alice --category maths --hours 1 --price 40.00",
            "account credit chloe 40.00",
            "reserve --teacher alice --student chloe --category maths --week next --day wed "
            "--time 10:00-12:00",
            "session confirm 1",
            "purchase add --student david --teacher alice --category maths --hours 1 --price 40.00",
            "purchase add --student david --teacher alice --category maths --hours 1 --price 40.00",
            "reserve --teacher alice --student david --category maths --week next --day thu "
            "--time 10:00-13:00",
            "session pay 2 --method card",
            "session confirm 2",
        ]
    ),
    "telling": Scenario(
        [
            "db init --notifications on --mail-from desk@school.example",
            "user add alice --name 'Alice Martin' --role teacher --email alice@school.example",
            "user add chloe --name 'Chloé Dubois' --role student --email chloe@example.org",
            "category add maths --price 40.00",
            "schedule set alice --week this..+2 --days mon-fri --hours 09:00-18:00 --open",
            "account credit chloe 20.00",
            "reserve --teacher alice --student chloe --category maths --week next --day wed "
            "--time 10:00-11:00",
            "session pay 1 --method card",
        ]
    ),
    "import": Scenario(
        SCHOOL,
        {
            "lessons.csv": "teacher,student,category,date,start,end,status,history,funding\n"
            "alice,chloe,maths,2026-11-16,10:00,11:00,done,true,\n"
            "alice,chloe,maths,2026-11-17,10:00,11:00,done,true,\n"
            "alice,david,maths,2026-11-18,10:00,11:00,done,true,\n"
            "alice,david,maths,2026-12-02,14:00,15:00,booked,true,\n",
            "bad.csv": "teacher,student,category,date,start,end,status,history,funding\n"
            "alice,chloe,maths,2026-12-02,14:00,15:00,booked,false,\n"
            "alice,nobody,maths,2026-12-03,10:00,11:00,booked,false,\n"
            "alice,chloe,maths,2026-12-03,10:30,11:30,booked,false,\n"
            "alice,chloe,maths,2026-12-05,10:00,11:00,booked,false,\n"
            "alice,david,maths,2026-12-04,10:00,11:00,booked,false,\n"
            "alice,chloe,maths,2026-12-04,10:00,11:00,booked,false,\n",
        },
    ),
}


@contextlib.contextmanager
def _environment(folder: Path, columns: int) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    for name in list(os.environ):
        if name.startswith("TUTORCTL_") or name in ("FORCE_COLOR", "TTY_COMPATIBLE"):
            del os.environ[name]
    os.environ.update(
        XDG_DATA_HOME=str(folder / "data"),
        TUTORCTL_NOW=NOW,
        TUTORCTL_ACTOR="desk",
        COLUMNS=str(columns),
        NO_COLOR="1",
    )
    os.chdir(folder)
    try:
        yield
    finally:
        from tutorctl.db.engine import dispose_engines

        dispose_engines()
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


def _run(words: list[str], stdin: str = "") -> tuple[int, str]:
    from tutorctl.cli.app import main

    buffer = io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            code = main(words)
    finally:
        sys.stdin = saved
    return code, buffer.getvalue()


def _commands(body: str) -> list[str]:
    return [
        line[len("$ tutorctl ") :] for line in body.splitlines() if line.startswith("$ tutorctl ")
    ]


def render(attrs: dict[str, str], body: str) -> str:
    """The block as real runs print it."""
    scenario = SCENARIOS[attrs["scenario"]]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with _environment(folder, int(attrs.get("columns", "100"))):
            for name, text in scenario.files.items():
                (folder / name).write_text(text)
            for line in scenario.setup:
                code, out = _run(shlex.split(line))
                if code:
                    raise SystemExit(f"scenario {attrs['scenario']}: {line!r} → {code}: {out}")
            now = ["--now", attrs["now"]] if "now" in attrs else []
            parts = []
            for command in _commands(body):
                stdin = attrs.get("stdin", "").replace("\\n", "\n")
                _code, out = _run([*now, *shlex.split(command)], stdin)
                out = out.replace(str(folder / "data"), HOME)
                lines = [line.rstrip() for line in out.rstrip().splitlines()]
                parts.append("\n".join([f"$ tutorctl {command}", *lines]))
    return "\n".join(parts) + "\n"


def blocks(text: str) -> list[tuple[re.Match[str], dict[str, str]]]:
    found = []
    for match in BLOCK.finditer(text):
        attrs = dict(item.split("=", 1) for item in shlex.split(match["attrs"]))
        found.append((match, attrs))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    stale, pieces, at = [], [], 0
    found = blocks(text)
    if not found:
        print("no readme-output blocks found", file=sys.stderr)
        return 1
    uncovered = [
        text[: claim.start()].count("\n") + 1
        for claim in re.finditer(r"real output", text, re.I)
        if text.rfind("<!-- readme-output:", claim.end(), text.find("\n```", claim.end())) == -1
    ]
    if uncovered:
        print(
            "README says 'real output' with no readme-output block after it, line(s) "
            + ", ".join(map(str, uncovered)),
            file=sys.stderr,
        )
        return 1
    for match, attrs in found:
        body = match["body"]
        if not _commands(body):
            print(
                f"a readme-output block has no `$ tutorctl …` line: {body[:60]!r}", file=sys.stderr
            )
            return 1
        real = render(attrs, body)
        if real != body:
            stale.append(
                "".join(
                    difflib.unified_diff(
                        body.splitlines(True), real.splitlines(True), "README.md", "real output"
                    )
                )
            )
        pieces += [text[at : match.start("body")], real]
        at = match.end("body")
    pieces.append(text[at:])
    if args.write:
        README.write_text("".join(pieces))
        print(f"{len(found)} block(s), {len(stale)} rewritten")
        return 0
    for diff in stale:
        print(diff)
    if stale:
        print(
            f"{len(stale)} of {len(found)} README output block(s) are stale: "
            "run python scripts/readme_outputs.py --write",
            file=sys.stderr,
        )
        return 1
    print(f"{len(found)} README output block(s) match real output")
    return 0


if __name__ == "__main__":
    sys.exit(main())

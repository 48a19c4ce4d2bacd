"""Start-up (cli/app.py, SPEC §9). A command runs in a tree of the root and that one command:
the tree must hold the same command, whichever modules were imported before, as the whole tree
does. Each command is built with none of the command modules imported (they are taken out of
``sys.modules`` and put back afterwards): a group whose commands were added from another
module would miss them. And the process ends without finalising the
interpreter, its output whole and its database closed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from tutorctl.cli import app


def _shape(command: Any) -> Any:
    """A click command as what a user can type: its parameters, and its sub-commands' shapes."""
    params = sorted(tuple(sorted(p.opts)) for p in command.params)
    subs = getattr(command, "commands", {})
    return (params, {name: _shape(sub) for name, sub in sorted(subs.items())})


@pytest.fixture
def no_command_modules() -> Iterator[None]:
    names = {f"tutorctl.cli.{module}" for _name, module, _attribute in app.COMMANDS}
    kept = {name: sys.modules[name] for name in names if name in sys.modules}
    yield
    import tutorctl.cli

    for name in names:  # as before: the modules, and the package's attributes naming them
        sys.modules.pop(name, None)
        short = name.rpartition(".")[2]
        if name in kept:
            setattr(tutorctl.cli, short, kept[name])
        elif hasattr(tutorctl.cli, short):
            delattr(tutorctl.cli, short)
    sys.modules.update(kept)


def _alone(name: str) -> Any:
    for module in [m for m in sys.modules if m.startswith("tutorctl.cli.")]:
        if module not in ("tutorctl.cli.app", "tutorctl.cli.state", "tutorctl.cli.complete"):
            del sys.modules[module]
    return _shape(typer.main.get_command(app._tree(name)).commands[name])


def test_each_command_alone_is_the_command_of_the_whole_tree(no_command_modules: None) -> None:
    alone = {name: _alone(name) for name in [*(c[0] for c in app.COMMANDS), *app.OWN]}
    whole = typer.main.get_command(app._tree(None)).commands
    assert sorted(whole) == sorted(alone)
    assert alone == {name: _shape(command) for name, command in whole.items()}


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["schedule", "show", "alice"], "schedule"),
        (["--db", "sqlite:///x.db", "--now", "2026-11-24T09:00:00Z", "session", "list"], "session"),
        (["--db=schedule", "reserve", "--help"], "reserve"),
        (["--db", "schedule"], None),  # "schedule" is the value of --db
        (["--help"], None),
        (["--show-completion", "bash"], None),
        (["nosuch", "x"], None),
        ([], None),
    ],
)
def test_the_command_a_line_names(argv: list[str], named: str | None) -> None:
    assert app._named(argv) == named


def test_the_root_options_that_take_a_value_are_known() -> None:
    """``_named`` skips their values; one it did not know would only cost the whole tree."""
    root = typer.main.get_command(app._tree("db"))
    valued = sorted(o for p in root.params if not getattr(p, "is_flag", False) for o in p.opts)
    assert valued == sorted(app.VALUED)


def test_the_process_ends_with_its_output_whole_and_its_database_closed(db_url: str) -> None:
    """``python -m tutorctl`` exits without finalising the interpreter (``app.run``): what it
    printed is all there, its exit code is the command's, and its connections were closed
    first (SQLite folds its write-ahead log back into the file when the last one closes)."""
    env = {**os.environ, "TUTORCTL_DB": db_url, "TUTORCTL_NOW": "2026-11-24T09:00:00+01:00"}

    def tutorctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tutorctl", *args],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    added = [
        tutorctl("user", "add", f"u{n}", "--name", f"U {n}", "--role", "student") for n in range(3)
    ]
    assert [p.returncode for p in added] == [0, 0, 0]
    listed = tutorctl("user", "list", "--json")
    assert listed.returncode == 0 and listed.stderr == ""
    assert [u["handle"] for u in json.loads(listed.stdout)["users"]] == ["u0", "u1", "u2"]
    missing = tutorctl("user", "show", "nobody")
    assert (missing.returncode, missing.stdout) == (3, "")
    assert missing.stderr.startswith("error: no user 'nobody'")
    if db_url.startswith("sqlite"):
        assert not os.path.exists(db_url.removeprefix("sqlite:///") + "-wal")

"""Everything a user typed is shown literally on a terminal, never read as rich markup (SPEC §6).

Issue 15 case 12: ``user add jo --name "Jo [/b]"`` saved the user, then every rendering of it
raised a MarkupError; ``piano [beginner]`` showed as ``piano``. Every read command is rendered
here on a forced terminal (colours on, as at the desk) with names, categories, reasons and
actors full of markup and emoji codes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import Cli
from tests.helpers import purchase_args, reserve_args, schedule_set_args

TEACHER = "[red]x[/red]"
STUDENT = "Jo [/b]"
OTHER = "[/]"
CATEGORY = "piano [beginner]"
EMOJI = "Zo :smile: [bold]"
REASON = "[red]cash[/red] at the desk [/b] :+1:"
ACTOR = "[/]"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def terminal(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI as on a colour terminal: the console tutorctl makes is forced to be one."""
    from tutorctl.render import console as console_module

    made = console_module.make_console

    def forced(file: Any = None) -> Any:
        console = made(file)
        console._force_terminal = True  # rich's own switch behind force_terminal=True
        console._color_system = console._detect_color_system()
        assert console.is_terminal and console.color_system is not None
        return console

    monkeypatch.setattr(console_module, "make_console", forced)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("COLUMNS", "400")  # wide: cells are not wrapped mid-word
    return cli


def _shows(cli: Cli, *args: str) -> str:
    result = cli(*args)
    assert result.code == 0, f"{args} → {result.code}: {result.err}"
    assert "Traceback" not in result.err
    return ANSI.sub("", result.out)


def _school(cli: Cli) -> tuple[int, int]:
    """A school whose every user-typed text is markup; returns (session id, lesson id)."""
    cli.ok("--actor", ACTOR, "user", "add", "tea", "--name", TEACHER, "--role", "teacher")
    cli.ok("--actor", ACTOR, "user", "add", "jo", "--name", STUDENT, "--role", "student")
    cli.ok("--actor", ACTOR, "user", "add", "zo", "--name", EMOJI, "--role", "student")
    cli.ok("--actor", ACTOR, "user", "add", "ot", "--name", OTHER, "--role", "student")
    cli.ok("--actor", ACTOR, "category", "add", CATEGORY, "--price", "40.00")
    cli.ok("--actor", ACTOR, "account", "credit", "jo", "30.00", "--reason", REASON)
    cli.ok(
        "--actor",
        ACTOR,
        *purchase_args("5", "200.00", student="jo", teacher="tea", category=CATEGORY),
    )
    cli.ok(
        "--actor",
        ACTOR,
        *schedule_set_args("tea", "this..next", "mon-fri", "09:00-18:00"),
        "--open",
    )
    booked = cli.json(
        "--actor",
        ACTOR,
        *reserve_args(teacher="tea", student="jo", category=CATEGORY),
    )
    cli.ok("--actor", ACTOR, "session", "confirm", str(booked["session_id"]))
    held = cli.json(
        "--actor",
        ACTOR,
        *reserve_args(
            teacher="tea",
            student="jo",
            category=CATEGORY,
            week="next",
            day="thu",
            time="14:00-16:00",
        ),
    )
    cli.ok("--actor", ACTOR, "cancel", str(booked["reservation_id"]))
    return int(held["session_id"]), int(booked["reservation_id"])


def test_every_read_command_shows_markup_literally(terminal: Cli) -> None:
    cli = terminal
    session, _lesson = _school(cli)
    users = _shows(cli, "user", "list")
    for text in (TEACHER, STUDENT, OTHER, EMOJI):
        assert text in users
    assert STUDENT in _shows(cli, "user", "show", "jo")
    assert EMOJI in _shows(cli, "user", "show", "zo")
    assert TEACHER in _shows(cli, "user", "show", "tea")
    assert CATEGORY in _shows(cli, "category", "list")
    assert CATEGORY in _shows(cli, "schedule", "show", "tea")
    assert CATEGORY in _shows(cli, "schedule", "show", "tea", "--week", "next")
    assert CATEGORY in _shows(cli, "schedule", "show", "jo", "--with", "tea")
    assert "busy" in _shows(cli, "schedule", "show", "zo", "--with", "tea", "--week", "next")
    assert "jo" in _shows(cli, "session", "list")
    assert CATEGORY in _shows(cli, "session", "show", str(session))
    resume = _shows(cli, "session", "resume", str(session))
    assert CATEGORY in resume and "Payment resume" in resume
    assert CATEGORY in _shows(cli, "account", "show", "jo")
    ledger = _shows(cli, "account", "history", "jo")
    assert REASON in ledger and ACTOR in ledger
    assert CATEGORY in _shows(cli, "purchase", "list")
    assert CATEGORY in _shows(cli, "purchase", "list", "--student", "jo")
    history = _shows(cli, "history")
    assert ACTOR in history and f"category {CATEGORY}" in history
    assert "ok" in _shows(cli, "check")


def test_mutations_echo_markup_literally(terminal: Cli) -> None:
    """The command that saves a name prints it back without failing (it used to save, then
    raise, leaving the desk unsure whether it was saved)."""
    cli = terminal
    assert STUDENT in _shows(cli, "user", "add", "jo", "--name", STUDENT, "--role", "student")
    assert CATEGORY in _shows(cli, "category", "add", CATEGORY, "--price", "1.00")
    assert "jo: balance 5.00" in _shows(cli, "--actor", ACTOR, "account", "credit", "jo", "5")
    assert ACTOR in _shows(cli, "history")


def test_the_console_itself_never_reads_markup() -> None:
    """At the right depth: whatever string a renderer hands the console is literal."""
    import io

    from tutorctl.render.console import make_console

    out = io.StringIO()
    console = make_console(out)
    console.print(f"{STUDENT} {CATEGORY} {EMOJI} {OTHER}")
    assert out.getvalue().strip() == f"{STUDENT} {CATEGORY} {EMOJI} {OTHER}"

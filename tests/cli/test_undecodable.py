"""A byte that is not UTF-8 in a word typed (Python reads argv with surrogateescape: $'a\\x85b'
arrives as 'a\\udc85b') is bad input, refused before anything runs: exit 2, one line naming the
value with the byte shown as \\x85, nothing written. It once failed at the database with a
traceback and exit 1, after the command began."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_hostile import _fingerprint
from tests.conftest import NOW, Cli, school

BAD = "\udc85"  # the byte 0x85 as Python decodes it from argv


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["account", "credit", "bob", "1", "--reason", f"a{BAD}b"], r"'a\x85b' (after --reason)"),
        (["user", "add", "zz1", "--name", f"bad{BAD}", "--role", "student"], r"'bad\x85'"),
        (["user", "add", "zz1", f"--name=bad{BAD}", "--role", "student"], r"--name 'bad\x85'"),
        (["user", "show", f"m{BAD}"], r"'m\x85' (after show)"),
        (["category", "add", "c\udcff", "--price", "1"], r"'c\xff'"),
        (
            ["--actor", f"x{BAD}", "user", "add", "zz2", "--name", "Z", "--role", "student"],
            r"'x\x85' (after --actor)",
        ),
    ],
)
def test_a_word_that_is_not_utf8_is_refused_naming_it(
    cli: Cli, args: list[str], named: str
) -> None:
    school(cli)
    before = _fingerprint(cli)
    failed = cli.fails(2, *args)
    assert named in failed.err and "not valid UTF-8" in failed.err
    assert _fingerprint(cli) == before


def test_an_environment_value_that_is_not_utf8_is_refused(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    school(cli)
    before = _fingerprint(cli)
    monkeypatch.setenv("TUTORCTL_ACTOR", f"x{BAD}")
    failed = cli.fails(2, "user", "add", "zz3", "--name", "Z", "--role", "student")
    assert r"bad TUTORCTL_ACTOR 'x\x85': not valid UTF-8" in failed.err
    monkeypatch.setenv("TUTORCTL_ACTOR", "tester")
    assert _fingerprint(cli) == before


@pytest.mark.parametrize("mark", ["\u202e", "\u2028", "\u2029", "\u0085", "\u2066"])
def test_text_that_reorders_or_breaks_a_line_is_refused_as_a_control(cli: Cli, mark: str) -> None:
    school(cli)
    before = _fingerprint(cli)
    cli.fails(2, "user", "add", "zz4", "--name", f"evil{mark}txt.exe", "--role", "student")
    cli.fails(2, "account", "credit", "bob", "1", "--reason", f"a{mark}b")
    cli.fails(2, "--actor", f"x{mark}y", "account", "credit", "bob", "1")
    assert _fingerprint(cli) == before


@pytest.mark.slow  # real processes: the bytes go through argv and a pipe, not str
def test_real_bytes_in_argv_and_in_the_shell(tmp_path: Path) -> None:
    env = {**os.environ, "TUTORCTL_DB": f"sqlite:///{tmp_path / 't.db'}", "TUTORCTL_NOW": NOW}
    env["PYTHONIOENCODING"] = "utf-8:strict"  # the shell's stdin as on a UTF-8 locale
    run = [sys.executable, "-m", "tutorctl"]
    assert subprocess.run([*run, "db", "init"], env=env, capture_output=True).returncode == 0
    argv = subprocess.run([*run, "user", "show", b"m\x85"], env=env, capture_output=True)
    assert argv.returncode == 2
    assert argv.stderr.splitlines() == [
        rb"error: bad value 'm\x85' (after show): not valid UTF-8 (bytes shown as \xNN);"
        rb" use UTF-8 text"
    ]
    lines = b"user add zz5 --name bad\x85 --role student\nuser list --json\n"
    shell = subprocess.run([*run, "shell"], env=env, input=lines, capture_output=True)
    assert shell.returncode == 0, shell.stderr  # the shell went on to the next line
    assert shell.stderr.startswith(rb"error: bad value 'bad\x85' (after --name): not valid")
    assert b"[exit 2]" in shell.stderr and b"Traceback" not in shell.stderr
    assert b"zz5" not in shell.stdout

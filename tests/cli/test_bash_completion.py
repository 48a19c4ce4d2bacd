"""Completion in a real bash (issue 23): an interactive ``bash`` in a private tmux server, the
script of ``tutorctl --show-completion bash`` sourced, a partial line typed, TAB pressed, and
the line read back from the screen. A category with a space must come back quoted, and a
``--db sqlite:///PATH`` on the line (bash splits its words at ``:``) must be honoured."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tutorctl.cli.comp_line import current_word

pytestmark = pytest.mark.skipif(
    not (shutil.which("tmux") and shutil.which("bash")),
    reason="drives a real bash in tmux: needs tmux and bash on PATH",
)

SETUP = """\
user add david --name 'David Roy' --role student
user add dora --name 'Dora Lee' --role teacher
user add dina --name 'Dina Ko' --role teacher
category add 'english, conv.' --price 30.00
category add piano --price 45.00
"""


class Bash:
    """An interactive bash in a tmux server of its own (``tmux -L``), 200 columns wide."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"tutorctl-test-{uuid.uuid4().hex[:10]}"
        self.env = env
        self.tmux("new-session", "-d", "-s", "t", "-x", "200", "-y", "50",
                  "bash --norc --noprofile -i")  # fmt: skip

    def tmux(self, *args: str) -> str:
        command = ["tmux", "-L", self.socket, "-f", "/dev/null", *args]
        done = subprocess.run(
            command, env=self.env, capture_output=True, text=True, check=True, timeout=30
        )
        return done.stdout

    def type(self, text: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", "--", text)
        for key in keys:
            self.tmux("send-keys", "-t", "t", key)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-J", "-t", "t")

    def wait_for(self, seen: Callable[[str], bool], what: str, timeout: float = 20) -> str:
        """The screen once ``seen(screen)``: polled until a deadline, never a fixed sleep."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if seen(screen):
                return screen
            assert time.monotonic() < deadline, f"waited for {what}; the screen:\n{screen}"
            time.sleep(0.05)

    def line_after_tab(self, partial: str, expected: str) -> str:
        """Type ``partial``, press TAB, and return the prompt's line once it reads
        ``expected`` (or fail with the screen)."""
        self.tmux("send-keys", "-t", "t", "C-u")  # drop a line left unrun
        self.type("clear", "Enter")
        self.wait_for(lambda s: s.strip() == "$", "a clear screen")
        self.type(partial, "Tab")
        screen = self.wait_for(lambda s: f"$ {expected}" in s, f"TAB to give {expected!r}")
        return screen.strip().splitlines()[-1]

    def run(self, rest: str) -> str:
        """Finish the line with ``rest``, run it, and return the screen once its exit code
        is printed."""
        self.type(f'{rest}; echo "rc=$?"', "Enter")
        return self.wait_for(lambda s: re.search(r"^rc=\d+$", s, re.M) is not None, "its end")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], env=self.env, check=False)


def _make_school(wrapper: Path, url: str, setup: str, env: dict[str, str]) -> None:
    for args, stdin in ((["db", "init"], ""), (["shell", "-e"], setup)):
        made = subprocess.run(
            [str(wrapper), "--db", url, *args],
            input=stdin, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr


@pytest.fixture
def bash(tmp_path: Path) -> Iterator[tuple[Bash, Path]]:
    """A bash with tutorctl's completion loaded and ``tutorctl`` on its PATH, TUTORCTL_DB
    naming a school with the category ``english, conv.``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "tutorctl"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m tutorctl "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMUX", "TUTORCTL_"))}
    env |= {
        "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "HOME": str(tmp_path),
        "HISTFILE": "/dev/null",
        "LANG": "C.UTF-8",
        "TUTORCTL_DB": f"sqlite:///{tmp_path / 'school.db'}",
        "TUTORCTL_NOW": "2026-11-24T09:00:00+01:00",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",  # name the shell: bash
    }
    _make_school(wrapper, env["TUTORCTL_DB"], SETUP, env)
    script = subprocess.run(
        [str(wrapper), "--show-completion", "bash"],
        env=env, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "completion.bash").write_text(script.stdout)
    shell = Bash(env)
    try:
        shell.type(f"PS1='$ '; source {tmp_path / 'completion.bash'}; echo loaded", "Enter")
        shell.wait_for(lambda s: "\nloaded" in s, "the completion script to load")
        yield shell, wrapper
    finally:
        shell.close()


@pytest.mark.slow  # a real bash, a tutorctl process per TAB
def test_bash_completes_a_category_with_a_space_quoted(bash: tuple[Bash, Path]) -> None:
    """Inserted as typed, `english, conv.` was two words and the line failed."""
    shell, _ = bash
    shell.line_after_tab("tutorctl category set eng", "tutorctl category set english,\\ conv.")
    ran = shell.run("--price 41.00 --json")
    assert '"price_cents": 4100' in ran and "rc=0" in ran
    shell.line_after_tab("tutorctl category set 'eng", "tutorctl category set 'english, conv.'")
    ran = shell.run("--price 42.00 --json")  # the closing quote and a space came with it
    assert '"price_cents": 4200' in ran and "rc=0" in ran


@pytest.mark.slow
def test_bash_honours_a_db_url_on_the_line(bash: tuple[Bash, Path], tmp_path: Path) -> None:
    """``--db sqlite:///PATH``, which bash splits at ``:`` into words of its own: handles come
    from that database (dina), not TUTORCTL_DB's (david), nor commands or file names."""
    shell, wrapper = bash
    url = f"sqlite:///{tmp_path / 'other.db'}"
    _make_school(wrapper, url, "user add dina --name 'Dina Ko' --role student\n", shell.env)
    shell.line_after_tab(
        f"tutorctl --db {url} account show d", f"tutorctl --db {url} account show dina"
    )
    ran = shell.run("")
    assert "dina: balance" in ran and "rc=0" in ran
    shell.line_after_tab(f"tutorctl --db={url} user show di", f"tutorctl --db={url} user show dina")
    shell.line_after_tab("tutorctl account show d", "tutorctl account show david")


def test_replies_continue_the_word_as_typed() -> None:
    """The reply replaces what readline replaces (bash's $2) and reads back as the value."""
    cases = [  # line up to the cursor, $2, value, reply
        ("t category set eng", "eng", "english, conv.", "english,\\ conv."),
        ("t category set 'eng", "eng", "english, conv.", "english, conv."),
        ('t category set "eng', "eng", 'a "b" $c', None),
        ('t category set "a', "a", 'a "b" $c', 'a \\"b\\" \\$c'),
        ("t category set 'it", "it", "it's", "it'\\''s"),
        ("t category set eng\\ c", "eng\\ c", "eng conv", "eng\\ conv"),
        ("t category set a:b", "b", "a:bc", "bc"),  # bash's word starts after the ':'
        ("t reserve --category=pi", "pi", "piano", "piano"),
        ("t --db sqlite:///x.db account show da", "da", "david", "david"),
    ]
    for line, text, value, reply in cases:
        assert current_word(line).reply(value, text) == reply, line
    word = current_word("t --db sqlite:///x.db reserve --category 'english, c")
    assert word.before == ["t", "--db", "sqlite:///x.db", "reserve", "--category"]
    assert (word.incomplete, word.quote) == ("english, c", "'")

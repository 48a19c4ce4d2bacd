"""Output into a pipe or a file is not wrapped at rich's default 80 columns (COLUMNS unset):
scripts read lines. `session resume N | grep next:` lost `--expect-total 40.00` to the next
line, and `report revenue` split amounts mid-number (`999,999.` / `00`). With COLUMNS set, the
output keeps that width (the README's blocks are made so)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import NOW, Cli, booked, reserve, school

AMOUNT = re.compile(r"[\d,.]*\d[\d,.]*")


def test_a_piped_resume_keeps_the_whole_hint_on_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    school(cli)
    session = reserve(cli, "--json").json()["session_id"]
    monkeypatch.delenv("COLUMNS")  # stdout is captured: not a terminal, as in a pipe
    out = cli.ok("session", "resume", str(session)).out
    hint = [line.strip() for line in out.splitlines() if "next:" in line]
    assert hint == [
        f"next: tutorctl session pay {session} --method card|wechat|cash|transfer"
        " --expect-total 40.00"
    ]


def test_a_piped_report_keeps_every_amount_whole(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    school(cli)
    cli.ok("category", "add", "organ", "--price", "999999.00")
    booked(cli, category="organ")
    booked(cli, teacher="bruno", student="carl", category="organ")
    monkeypatch.delenv("COLUMNS")
    out = cli.ok("report", "revenue", "--by", "teacher").out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["alice"], ["bruno"])]
    assert [row[0] for row in rows] == ["alice", "bruno"]
    for row in rows:  # every cell on the row's one line, each amount whole
        assert row[1] == "999,999.00" and row[-1] == "999,999.00", out
    total = next(line.split() for line in out.splitlines() if line.startswith(" total"))
    assert total[1] == total[-1] == "1,999,998.00", out
    assert all(AMOUNT.fullmatch(word) or word == "·" for word in total[1:])
    monkeypatch.setenv("COLUMNS", "60")  # said explicitly: that width is kept
    narrow = cli.ok("report", "revenue", "--by", "teacher").out
    assert max(len(line) for line in narrow.splitlines()) <= 60


@pytest.mark.slow  # a real process writing into a real pipe
def test_a_real_pipe_is_not_wrapped(tmp_path: Path) -> None:
    env = {**os.environ, "TUTORCTL_DB": f"sqlite:///{tmp_path / 't.db'}", "TUTORCTL_NOW": NOW}
    env.pop("COLUMNS", None)
    run = [sys.executable, "-m", "tutorctl"]
    long_name = "Alice " + "Martin-" * 20 + "Dupont"  # a 147-character name
    for args in (
        ["db", "init"],
        ["user", "add", "alice", "--name", long_name, "--role", "teacher"],
    ):
        assert subprocess.run([*run, *args], env=env, capture_output=True).returncode == 0
    shown = subprocess.run([*run, "user", "show", "alice"], env=env, capture_output=True, text=True)
    assert [line.split(None, 1)[1].strip() for line in shown.stdout.splitlines()
            if line.split()[:1] == ["name"]] == [long_name]  # fmt: skip

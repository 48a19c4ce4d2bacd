"""Shell completion that knows the school (issue 18), driven as the shells drive it: a
`tutorctl` process with the completion variables set, on both databases. Completion reads the
database with the driver alone: neither SQLAlchemy nor the models (nor pydantic) are imported."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import reserve_args

PROBE = (
    "import atexit, sys\n"
    "HEAVY = ('sqlalchemy', 'sqlmodel', 'pydantic', 'psycopg', 'tutorctl.db', 'tutorctl.services')\n"
    "atexit.register(lambda: print('loaded:', [m for m in HEAVY if m in sys.modules], "
    "file=sys.stderr))\n"
    "from tutorctl.cli.app import main\n"
    "sys.exit(main())\n"
)


def _probe(env: dict[str, str]) -> tuple[list[str], list[str]]:
    """Run PROBE (completion in a fresh process): (the replies, the modules it loaded)."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stderr.split("loaded:", 1)[1].strip()
    return [w for w in proc.stdout.splitlines() if w], ast.literal_eval(loaded)


def complete(url: str, line: str, shell: str = "bash") -> tuple[list[str], list[str]]:
    """What the shell would offer for ``line`` (the cursor at its end), and the heavy modules
    the completing process imported."""
    env = {**os.environ, "TUTORCTL_DB": url, "_TUTORCTL_COMPLETE": f"complete_{shell}"}
    words = line.split()
    if line.endswith(" "):
        words.append("")
    if shell == "bash":
        env |= {"COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1)}
    else:
        env |= {"_TYPER_COMPLETE_ARGS": line, "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    return _probe(env)


@pytest.fixture
def school_cli(cli: Cli) -> Cli:
    school(cli)
    cli.ok("user", "add", "anna", "--name", "Anna", "--role", "student")
    cli.ok("user", "add", "albert", "--name", "Albert", "--role", "teacher")
    cli.ok("user", "deactivate", "albert")
    return cli


def test_handles_by_role_and_categories(school_cli: Cli) -> None:
    url = school_cli.url
    driver = ["psycopg"] if url.startswith("postgresql") else []
    teachers, loaded = complete(url, "tutorctl reserve --teacher ")
    assert teachers == ["alice", "bruno"]  # active teachers only
    assert loaded == driver
    assert complete(url, "tutorctl reserve --student ")[0] == ["anna", "bob", "carl"]
    assert complete(url, "tutorctl reserve --student a")[0] == ["anna"]
    assert complete(url, "tutorctl schedule show ")[0] == ["alice", "anna", "bob", "bruno", "carl"]
    assert complete(url, "tutorctl schedule show bob --with ")[0] == ["alice", "bruno"]
    assert complete(url, "tutorctl account show ")[0] == ["anna", "bob", "carl"]
    assert complete(url, "tutorctl reserve --category ")[0] == ["maths", "piano"]
    assert complete(url, "tutorctl purchase add --category p")[0] == ["piano"]


def test_sessions_and_lessons(school_cli: Cli) -> None:
    url = school_cli.url
    lesson = booked(school_cli)
    other = school_cli.json(
        *reserve_args(student="carl", day="thu"),
    )
    assert complete(url, "tutorctl session pay ")[0] == [str(other["session_id"])]
    assert complete(url, "tutorctl cancel ")[0] == [str(lesson)]  # booked lessons only
    shown, _ = complete(url, "tutorctl lesson show ")
    assert shown == [str(lesson)]
    zsh, _ = complete(url, "tutorctl cancel ", shell="zsh")
    assert "bob · alice maths · Wed 2026-11-25 10" in zsh[0]
    fish, _ = complete(url, "tutorctl session abandon ", shell="fish")
    assert fish == [f"{other['session_id']}\tcarl · open"]


class _Line:
    """The little of a Typer context a database completion reads: the root's ``--db``, the
    command's parameters typed so far."""

    def __init__(self, url: str) -> None:
        self.params: dict[str, object] = {"db": url}

    def find_root(self) -> _Line:
        return self


def test_lessons_of_three_statuses_are_all_offered(school_cli: Cli) -> None:
    """The lesson query asks for every status it is given, not just the first and last."""
    from tutorctl.cli.complete import _lessons
    from tutorctl.core.status import LessonStatus

    lesson = booked(school_cli)
    held = reserve(school_cli, "--json", student="carl", day="thu").json()["reservation_id"]
    wanted = _lessons((LessonStatus.HELD, LessonStatus.BOOKED, LessonStatus.DONE))
    offered = [value for value, _help in wanted(_Line(school_cli.url), "")]  # type: ignore[arg-type]
    assert offered == [str(held), str(lesson)]


def test_word_lists_import_nothing_heavy(school_cli: Cli) -> None:
    url = school_cli.url
    days, loaded = complete(url, "tutorctl reserve --day ")
    assert days[:3] == ["mon", "tue", "wed"] and loaded == []
    weeks, loaded = complete(url, "tutorctl schedule show alice --week ")
    assert weeks[:3] == ["this", "next", "last"] and loaded == []
    assert complete(url, "tutorctl session list --status pa")[0] == ["paid", "payment_failed"]
    assert complete(url, "tutorctl sess")[0] == ["session"]


def test_no_database_completes_nothing_quietly(tmp_path: os.PathLike[str]) -> None:
    offered, loaded = complete(f"sqlite:///{tmp_path}/none.db", "tutorctl reserve --teacher ")
    assert offered == [] and loaded == []
    assert not os.path.exists(f"{tmp_path}/none.db")  # completion never creates a database
    offered, _ = complete("postgresql://nobody@127.0.0.1:1/none", "tutorctl cancel ")
    assert offered == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_install_scripts(shell: str) -> None:
    """`tutorctl --show-completion` prints the script for the shell it runs in (detected from
    the parent process); Typer's test switch lets the shell be named instead."""
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "tutorctl", "--show-completion", shell],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert f"_TUTORCTL_COMPLETE=complete_{shell}" in proc.stdout


def complete_line(url: str, line: str, text: str) -> tuple[list[str], list[str]]:
    """What the script of ``--show-completion bash`` receives for ``line`` (cursor at its
    end; ``text``: bash's $2, the end of the word readline replaces), TUTORCTL_DB pointing
    at nothing: only a --db on the line names the database."""
    env = {**os.environ, "_TUTORCTL_COMPLETE": "complete_bash", "COMP_LINE": line}
    env |= {"COMP_TEXT": text, "TUTORCTL_DB": "sqlite:////nonexistent/none.db"}
    return _probe(env)


def test_bash_reads_the_line_and_quotes_replies(school_cli: Cli) -> None:
    """The bash script sends the line, not bash's words: a --db URL (split by bash at ':')
    is honoured on both databases, and a category with a space comes back quoted for where
    the cursor is (issue 23); still only the driver is imported."""
    url = school_cli.url
    school_cli.ok("category", "add", "english, conv.", "--price", "30.00")
    driver = ["psycopg"] if url.startswith("postgresql") else []
    offered, loaded = complete_line(url, f"tutorctl --db {url} reserve --category e", "e")
    assert offered == ["english,\\ conv."] and loaded == driver
    offered, _ = complete_line(url, f"tutorctl --db {url} reserve --category 'e", "e")
    assert offered == ["english, conv."]  # inside the quote; bash closes it
    offered, _ = complete_line(url, f"tutorctl --db={url} account show ", "")
    assert offered == ["anna", "bob", "carl"]
    assert complete_line(url, f"tutorctl --db {url} sess", "sess")[0] == ["session"]

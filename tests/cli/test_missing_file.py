"""A read command never creates a missing SQLite file (issue 25, SPEC §2): a typo in --db, or
a first command before `db init`, is exit 4 saying how to create the database; only `db init`
(and `demo`) create a file and its folders."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tutorctl.cli.app import main
from tutorctl.db.engine import dispose_engines


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [["check"], ["user", "list"], ["db", "info"]])
def test_a_typo_in_the_url_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    typo = tmp_path / "typo.db"
    code, out, err = _run(capsys, "--db", f"sqlite:///{typo}", *command)
    assert (code, out) == (4, "")
    assert (
        err
        == f"error: the database file {typo} does not exist: create it with `tutorctl db init`\n"
    )
    assert sorted(tmp_path.iterdir()) == []
    dispose_engines()


def test_without_a_url_only_db_init_creates_the_default_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUTORCTL_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    code, _, err = _run(capsys, "account", "credit", "bob", "5")
    assert code == 4 and "does not exist" in err and "db init" in err
    assert not (tmp_path / "xdg").exists()  # neither the file nor its folders
    assert _run(capsys, "db", "init")[0] == 0
    default = tmp_path / "xdg" / "tutorctl" / "tutorctl.db"
    assert default.is_file() and oct(default.stat().st_mode & 0o777) == "0o600"
    code, out, _ = _run(capsys, "user", "list", "--json")
    assert code == 0 and '"users": []' in out
    dispose_engines()


def test_a_command_refused_on_an_empty_file_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing empty file (``touch``) is not initialised: a read refused as such leaves it
    0 bytes (switching it to WAL would write SQLite's header), and so does a refused write;
    ``db init`` then makes it WAL."""
    empty = tmp_path / "empty.db"
    empty.touch()
    url = f"sqlite:///{empty}"
    for command in (["user", "list"], ["check"], ["notify", "list"]):
        code, out, err = _run(capsys, "--db", url, *command)
        assert (code, out) == (4, ""), err
        assert "not initialised" in err and "db init" in err, err
        assert empty.stat().st_size == 0, command
    code, _, err = _run(capsys, "--db", url, "user", "add", "x", "--name", "X", "--role", "student")
    assert code == 4 and "not initialised" in err and empty.stat().st_size == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]  # no -wal, no -shm
    assert _run(capsys, "--db", url, "db", "init")[0] == 0
    dispose_engines()
    with sqlite3.connect(empty) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    code, out, _ = _run(capsys, "--db", url, "user", "list", "--json")
    assert code == 0 and '"users": []' in out
    dispose_engines()

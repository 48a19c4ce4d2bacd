"""Issue 23, item 4: `export --output` replaces only regular files. A FIFO, a character device
or an open descriptor (/dev/stdout) is written as a stream and stays what it was; anything
else that is not a regular file is refused (exit 2) untouched. Nothing is written anywhere
before the command knows it will succeed."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli, booked, school

EXPORT = ("export", "reservations", "--format", "csv")


def _lesson(cli: Cli) -> str:
    """A school with one booked lesson; its exported CSV."""
    school(cli)
    cli.ok("account", "credit", "bob", "40")
    booked(cli)
    text = cli.ok(*EXPORT).out
    assert text.startswith("teacher,student,") and text.count("\n") == 2
    return text


def test_a_fifo_gets_the_data_and_stays_a_fifo(cli: Cli, tmp_path: Path) -> None:
    expected = _lesson(cli)
    fifo = tmp_path / "lessons.fifo"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        cli.ok(*EXPORT, "--output", str(fifo))
        out, _ = reader.communicate(timeout=20)
    finally:
        if reader.poll() is None:  # the export never opened the FIFO: the reader still waits
            reader.kill()
            reader.wait()
    assert out.decode() == expected
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if "tutorctl.db" not in p.name) == [
        "lessons.fifo"
    ]  # no temporary file left beside it


def _private_null(tmp_path: Path) -> Path | None:
    """A character device of our own (the null device's numbers) in the test's folder: what a
    wrong export would replace is then a test file, never the machine's /dev/null."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        return None
    return node


def test_a_character_device_is_written_as_a_stream(cli: Cli, tmp_path: Path) -> None:
    _lesson(cli)
    node = _private_null(tmp_path)
    if node is not None:
        cli.ok(*EXPORT, "--output", str(node))
        assert stat.S_ISCHR(node.lstat().st_mode)
    # /dev/null itself only once a device of our own survived the export (as root a wrong
    # export could replace it); without root /dev cannot be written, so it cannot be damaged
    if node is not None or os.geteuid() != 0:
        cli.ok(*EXPORT, "--output", "/dev/null")
        assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_a_socket_is_refused_and_left_as_it_is(cli: Cli, tmp_path: Path) -> None:
    _lesson(cli)
    path = tmp_path / "s.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        result = cli.fails(2, *EXPORT, "--output", str(path))
        assert "not a regular file" in result.err
        assert stat.S_ISSOCK(path.lstat().st_mode)
    finally:
        server.close()


def _run(cli: Cli, *args: str, stdout: object) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run(
        [sys.executable, "-m", "tutorctl", "--db", cli.url, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env,
        timeout=60,
        check=False,
    )


def test_dev_stdout_into_a_pipe(cli: Cli) -> None:
    expected = _lesson(cli)
    done = _run(cli, *EXPORT, "--output", "/dev/stdout", stdout=subprocess.PIPE)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == expected


def test_dev_stdout_appended_to_a_file_keeps_what_was_there(cli: Cli, tmp_path: Path) -> None:
    """`>> log` then `--output /dev/stdout`: the export is appended to the file the shell
    opened, never renamed over it."""
    expected = _lesson(cli)
    log = tmp_path / "log.csv"
    log.write_text("before\n")
    with log.open("ab") as out:
        done = _run(cli, *EXPORT, "--output", "/dev/stdout", stdout=out)
    assert (done.returncode, done.stderr) == (0, b"")
    assert log.read_text() == "before\n" + expected


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "ics"])
def test_an_unknown_user_writes_nothing(cli: Cli, tmp_path: Path, fmt: str) -> None:
    _lesson(cli)
    result = cli.fails(3, "export", "reservations", "--format", fmt, "--user", "nobody")
    assert result.out == ""
    fifo = tmp_path / "f.fifo"  # nor is a FIFO opened and written
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # there: a writer's open would not wait
    try:
        cli.fails(3, "export", "reservations", "--format", fmt, "--user", "nobody",
                  "--output", str(fifo))  # fmt: skip
        assert os.read(reader, 1 << 16) == b""  # nothing was written into it
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)

"""`tutorctl shell` (issue 18): each line runs exactly as `tutorctl LINE`, options never leak
from one line into the next, errors never end it; on a terminal: a prompt, TAB completion, a
history file, Ctrl-D leaves."""

from __future__ import annotations

import json
import os
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW

LINES = [
    "user add alice --name 'Alice Martin' --role teacher",
    "user add chloe --name 'Chloé Dubois' --role student",
    "category add maths --price 40.00",
    "schedule set alice --week this --days mon-fri --hours 09:00-12:00 --open",
    "reserve --teacher alice --student chloe --category maths --week this --day wed --time 10:00-11:00",
    "user show nobody",
    "session resume 1",
    "session resume 1 --json",
    "schedule show alice",
]


def _env(url: str, tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "TUTORCTL_DB": url, "TUTORCTL_ACTOR": "desk", "COLUMNS": "100"}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env.pop("TUTORCTL_NOW", None)
    return env


def _tutorctl(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tutorctl", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _documents(text: str) -> list[Any]:
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        document, at = decoder.raw_decode(text, at)
        found.append(document)
        while at < len(text) and text[at].isspace():
            at += 1
    return found


@pytest.mark.slow  # real processes
def _shell_on_a_terminal(env: dict[str, str], *options: str) -> tuple[int, subprocess.Popen[bytes]]:
    """``tutorctl [options] shell`` on a new pseudo-terminal: (its master side, the process)."""
    import pty

    parent, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tutorctl", *options, "shell"],
        stdin=child,
        stdout=child,
        stderr=child,
        env={**env, "TERM": "xterm"},
        close_fds=True,
    )
    os.close(child)
    return parent, proc


@pytest.mark.slow  # real processes: a tutorctl process per line, compared
def test_a_line_runs_as_the_process_would(tmp_path: Path) -> None:
    """The same lines, in the shell and each as its own process, on two fresh databases:
    the same stdout, the same errors and exit codes."""
    in_shell, alone = tmp_path / "shell" / "t.db", tmp_path / "alone" / "t.db"
    for path in (in_shell, alone):
        path.parent.mkdir()
    env = _env(f"sqlite:///{in_shell}", tmp_path)
    env2 = _env(f"sqlite:///{alone}", tmp_path)
    assert _tutorctl("db", "init", env=env).returncode == 0
    assert _tutorctl("db", "init", env=env2).returncode == 0
    shell = _tutorctl("--now", NOW, "shell", env=env, stdin="\n".join(LINES) + "\n")
    assert shell.returncode == 0  # the last line succeeded
    out, err = [], []
    for line in LINES:
        result = _tutorctl("--now", NOW, *shlex.split(line), env=env2)
        out.append(result.stdout)
        err.append(result.stderr + (f"[exit {result.returncode}]\n" if result.returncode else ""))
    assert shell.stdout == "".join(out)
    assert shell.stderr == "".join(err)
    assert "error: no user 'nobody'" in shell.stderr and "[exit 3]" in shell.stderr


def test_options_of_a_line_do_not_leak(db_url: str, tmp_path: Path) -> None:
    env = _env(db_url, tmp_path)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert _tutorctl("--db", other, "db", "init", env=env).returncode == 0
    lines = [
        "user add alice --name A --role teacher --json",
        f"--db {other} user add zed --name Z --role teacher --json",  # this line only
        "--actor boss --now 2030-01-07T09:00:00+01:00 user add bob --name B --role student --json",
        "user add carl --name C --role student --json",
        "user list --json",
        "history --json",
        "'unclosed",
        "shell",
        "tutorctl user show alice --json",  # a pasted `tutorctl …` line works too
    ]
    env.pop("TUTORCTL_ACTOR")  # nothing from the environment: a leak would show
    shell = _tutorctl("shell", env=env, stdin="\n".join(lines) + "\n")
    assert shell.returncode == 0, shell.stderr
    documents = _documents(shell.stdout)
    assert len(documents) == 7
    assert [u["handle"] for u in documents[4]["users"]] == ["alice", "bob", "carl"]
    adds = [e for e in documents[5]["entries"] if e["command"] == "user add"]
    me = adds[0]["actor"]
    assert me != "boss" and [e["actor"] for e in adds] == [me, "boss", me]
    years = [e["at"][:4] for e in adds]
    assert years[1] == "2030" and years[0] == years[2] != "2030"  # the clock again after it
    assert documents[6]["handle"] == "alice"
    assert "error: cannot split the line" in shell.stderr and "[exit 2]" in shell.stderr
    assert "this is the shell already" in shell.stderr
    other_users = _tutorctl("--db", other, "user", "list", "--json", env=env)
    assert [u["handle"] for u in json.loads(other_users.stdout)["users"]] == ["zed"]
    failing = _tutorctl("shell", env=env, stdin="user show nobody\n")
    assert failing.returncode == 3  # piped, the shell ends with the last line's exit code


def _read_until(fd: int, wanted: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {wanted!r}; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_on_a_terminal_prompt_completion_history_ctrl_d(tmp_path: Path) -> None:

    url = f"sqlite:///{tmp_path / 's.db'}"
    env = _env(url, tmp_path)
    env["TUTORCTL_NOW"] = NOW
    assert _tutorctl("demo", env=env).returncode == 0
    parent, proc = _shell_on_a_terminal(env)
    try:
        _read_until(parent, b"tutorctl> ")
        os.write(parent, b"account show da\t")  # completes the student's handle
        assert b"david" in _read_until(parent, b"david")
        os.write(parent, b"\r")
        out = _read_until(parent, b"tutorctl> ")
        assert b"david: balance" in out
        os.write(parent, b"category add 'latin, conv.' --price 30.00\r")
        _read_until(parent, b"tutorctl> ")
        os.write(parent, b"category set lat\t")  # quoted, as the line will be split
        _read_until(parent, b"latin,\\ conv. ")
        os.write(parent, b"--price 41.00 --json\r")
        assert b'"price_cents": 4100' in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"category set 'latin, c\t")  # inside a quote: closed
        _read_until(parent, b"conv.' ")
        os.write(parent, b"--price 42.00 --json\r")
        assert b'"price_cents": 4200' in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"session pay 9999 --method card\r")
        assert b"[exit 3]" in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"\x04")  # Ctrl-D
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(parent)
    assert proc.returncode == 3
    history = (tmp_path / "xdg" / "tutorctl" / "shell_history").read_text()
    assert "account show david" in history and "session pay 9999" in history
    assert (tmp_path / "xdg" / "tutorctl" / "shell_history").stat().st_mode & 0o077 == 0


def _initialised(tmp_path: Path) -> dict[str, str]:
    env = _env(f"sqlite:///{tmp_path / 's.db'}", tmp_path)
    assert _tutorctl("db", "init", env=env).returncode == 0
    return env


def test_exit_and_end_of_input_leave_with_the_last_lines_code(tmp_path: Path) -> None:
    """`exit`, `quit` and the end of input leave with the last line's exit code (issue 23:
    `exit` after a failed line left with 0); `exit N` with N; a bad `exit` is a usage error."""
    env = _initialised(tmp_path)
    for leave in ("exit\n", "quit\n", "", "exit # done\n"):
        shell = _tutorctl("shell", env=env, stdin="user list\nuser show nobody\n" + leave)
        assert shell.returncode == 3, (leave, shell.stderr)
        assert shell.stderr.count("[exit 3]") == 1
    after_success = _tutorctl("shell", env=env, stdin="user show nobody\nuser list\nexit\n")
    assert after_success.returncode == 0
    assert _tutorctl("shell", env=env, stdin="user show nobody\nexit 0\n").returncode == 0
    assert _tutorctl("shell", env=env, stdin="exit 7\nuser list\n").returncode == 7
    bad = _tutorctl("shell", env=env, stdin="exit now\nexit 1 2\nexit 256\nexit \u0663\n")
    assert bad.returncode == 2
    assert bad.stderr.count("error: usage: exit [N], N from 0 to 255\n[exit 2]") == 4


def test_comments_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    """A `# comment` line, a blank line and a trailing ` # comment` run nothing and change no
    exit code (issue 23: "No such command '#'"). As in a POSIX shell, a comment begins with a
    `#` that begins a word outside quotes: a quoted `#` or one inside a word (`Room#3`) is
    kept (shlex's comments=True would silently cut `Room#3` to `Room`)."""
    env = _initialised(tmp_path)
    script = (
        "# the desk's morning script\n"
        "\n"
        "   \n"
        "user add alice --name 'Alice #1' --role teacher --json  # a quoted # is kept\n"
        "    # an indented comment\n"
        "user add bob --name Room#3 --role student --json\t# a tab before a comment\n"
        "user show nobody\n"
        "# a comment after a failure keeps its code\n"
    )
    shell = _tutorctl("shell", env=env, stdin=script)
    assert shell.returncode == 3
    assert shell.stderr == "error: no user 'nobody': see `tutorctl user list`\n[exit 3]\n"
    assert [d["name"] for d in _documents(shell.stdout)] == ["Alice #1", "Room#3"]


def test_stop_on_error_ends_at_the_first_failing_line(tmp_path: Path) -> None:
    """`shell --stop-on-error` (`-e`, as `set -e`): the first failing line ends the script,
    with that line's code; nothing after it runs. Without it every line runs."""
    env = _initialised(tmp_path)
    script = (
        "user add alice --name A --role teacher --json\n"
        "# a comment is not a failure\n"
        "category add maths --price nothing\n"
        "user add bob --name B --role student --json\n"
    )
    for flag in ("--stop-on-error", "-e"):
        shell = _tutorctl("shell", flag, env=env, stdin=script.replace("alice", f"a{flag[-1]}"))
        assert shell.returncode == 2, shell.stderr
        assert shell.stderr.startswith("error: ") and shell.stderr.endswith("[exit 2]\n")
        assert [d["handle"] for d in _documents(shell.stdout)] == [f"a{flag[-1]}"]
    listed = _tutorctl("user", "list", "--json", env=env)
    assert [u["handle"] for u in json.loads(listed.stdout)["users"]] == ["ae", "ar"]
    split = _tutorctl("shell", "-e", env=env, stdin="'unclosed\nuser list\n")
    assert split.returncode == 2 and split.stdout == ""
    every_line = _tutorctl("shell", env=env, stdin=script)
    assert every_line.returncode == 0
    assert [d["handle"] for d in _documents(every_line.stdout)] == ["alice", "bob"]


def _sleeping(pid: int) -> bool:
    """Whether the process sleeps in nanosleep: SQLite's busy handler waiting for a lock (the
    only sleep on a write command's path). Linux's /proc tells: the kernel function it waits
    in, or else the number of the system call it is in."""
    try:
        if "nanosleep" in Path(f"/proc/{pid}/wchan").read_text():
            return True
        call = Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        return False
    names = {"x86_64": {"35", "230"}, "aarch64": {"101", "115"}}
    return call in names.get(os.uname().machine, set())


class _LockHolder:
    """Another connection holding what ``user add`` needs: SQLite's write lock (``BEGIN
    IMMEDIATE``), or on PostgreSQL a SHARE lock on ``users`` (reads pass, inserts wait)."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            import sqlite3

            self.conn: Any = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        else:
            import psycopg

            self.pg = url.replace("postgresql+psycopg://", "postgresql://")
            self.conn = psycopg.connect(self.pg)

    def hold(self) -> None:
        if self.url.startswith("sqlite"):
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            self.conn.execute("LOCK TABLE users IN SHARE MODE")

    def waited_on(self, pid: int) -> bool:
        """Whether the shell's command waits for the lock: on SQLite the process sleeps in
        the busy handler; on PostgreSQL a backend of this database waits for a lock."""
        if self.url.startswith("sqlite"):
            return _sleeping(pid)
        import psycopg

        with psycopg.connect(self.pg, autocommit=True) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        if self.url.startswith("sqlite"):
            self.conn.execute("ROLLBACK")
        else:
            self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def test_ctrl_c_interrupts_a_lock_wait_at_once(db_url: str, tmp_path: Path) -> None:
    """Ctrl-C while a command waits for a lock another connection holds gives the prompt
    back at once, not after the lock timeout (issue 23: SQLite's busy handler sleeps in C,
    where Python cannot act on a signal, so it took the whole --lock-timeout); nothing is
    written and the shell goes on."""
    import signal

    if db_url.startswith("sqlite") and not Path(f"/proc/{os.getpid()}/wchan").exists():
        pytest.skip("needs Linux's /proc to see that the command waits for the lock")
    env = _env(db_url, tmp_path)
    parent, proc = _shell_on_a_terminal(env, "--lock-timeout", "30")
    holder = _LockHolder(db_url)
    try:
        _read_until(parent, b"tutorctl> ")
        os.write(parent, b"user list\r")  # warm: imports and the engine are ready
        _read_until(parent, b"tutorctl> ")
        holder.hold()
        os.write(parent, b"user add zed --name Z --role student\r")
        deadline = time.monotonic() + 30
        while not holder.waited_on(proc.pid):
            assert time.monotonic() < deadline, "the command never waited for the lock"
            time.sleep(0.01)  # polling the process's state, with a deadline
        interrupted_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out = _read_until(parent, b"tutorctl> ", timeout=5)
        assert time.monotonic() - interrupted_at < 5  # the lock timeout is 30 s
        assert b"interrupted (the command's transaction was rolled back)" in out
        assert b"[exit 130]" in out
        holder.release()
        os.write(parent, b"user show zed\r")  # nothing was written
        assert b"no user 'zed'" in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"user add zed --name Z --role student\r")  # the shell goes on
        assert b"zed" in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"user show zed --json\r")
        assert b'"handle": "zed"' in _read_until(parent, b"tutorctl> ")
        os.write(parent, b"exit\r")
        proc.wait(timeout=30)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
        os.close(parent)
    assert proc.returncode == 0

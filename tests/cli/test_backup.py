"""Backups (issue 25, SPEC §2): `db backup` copies a live SQLite database — consistent while
desks book and pay, written atomically, mode 0600, and `check` passes on the copy; PostgreSQL
is backed up with the README's pg_dump / pg_restore recipe, run here as written."""

from __future__ import annotations

import multiprocessing as mp
import os
import shutil
import sqlite3
import stat
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOW, Cli, _pg_admin_connect, school
from tutorctl.cli.app import main

WORKERS = (("alice", "bob", 0), ("bruno", "carl", 0), ("alice", "dan", 1), ("bruno", "eve", 1))


def booker(url: str, worker: int, log: str, stop: Any) -> None:
    """Book, pay and confirm lesson after lesson; after each one is committed, append its
    reservation id to ``log`` (what a backup taken later must hold)."""
    import contextlib
    import io
    import json

    os.environ.update(TUTORCTL_DB=url, TUTORCTL_NOW=NOW, TUTORCTL_ACTOR=f"desk{worker}")
    teacher, student, parity = WORKERS[worker]
    places = [
        (week, day, hour)
        for week in ("+1", "+2", "+3")
        for day in ("mon", "tue", "wed", "thu", "fri")
        for hour in range(9 + parity, 18, 2)
    ]

    def call(*args: str) -> tuple[int, str]:
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = main(list(args))
        return code, out.getvalue()

    for week, day, hour in places:
        if stop.is_set():
            return
        code, out = call(
            "reserve", "--teacher", teacher, "--student", student, "--category", "maths",
            "--week", week, "--day", day, "--time", f"{hour:02d}:00-{hour + 1:02d}:00", "--json",
        )  # fmt: skip
        assert code == 0, out
        booking = json.loads(out)
        session = str(booking["session_id"])
        assert call("session", "pay", session, "--method", "card")[0] == 0
        assert call("session", "confirm", session)[0] == 0
        with open(log, "a") as file:
            file.write(f"{booking['reservation_id']}\n")


def _committed(folder: Path) -> set[int]:
    return {
        int(line)
        for path in folder.glob("worker*.log")
        for line in path.read_text().splitlines()
        if line
    }


@pytest.mark.slow  # real processes racing the backup
def test_a_backup_taken_while_four_desks_book_and_pay(cli: Cli, tmp_path: Path) -> None:
    if not cli.url.startswith("sqlite"):
        pytest.skip("SQLite's online backup")
    school(cli)
    for student in ("dan", "eve"):
        cli.ok("user", "add", student, "--name", student.title(), "--role", "student")
    from tutorctl.db.engine import dispose_engines

    dispose_engines()
    logs = tmp_path / "logs"
    logs.mkdir()
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [
        ctx.Process(target=booker, args=(cli.url, w, str(logs / f"worker{w}.log"), stop))
        for w in range(len(WORKERS))
    ]
    for p in procs:
        p.start()
    try:
        deadline = time.monotonic() + 120
        while len(_committed(logs)) < 6:  # wait for the desks to be at work
            assert time.monotonic() < deadline, "the workers never booked"
            assert all(p.is_alive() or p.exitcode == 0 for p in procs)
            time.sleep(0.05)
        before = _committed(logs)  # every commit finished before the backup began
        copy = tmp_path / "backups" / "school.db"
        copy.parent.mkdir()
        result = cli.ok("db", "backup", str(copy))
        running = [p.is_alive() for p in procs]
    finally:
        stop.set()
        for p in procs:
            p.join(120)
    assert [p.exitcode for p in procs] == [0] * len(procs)
    assert any(running), "the backup should be taken while the desks still work"
    assert "backed up" in result.out
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(os.listdir(copy.parent)) == ["school.db"]  # no temporary file left
    report = cli.json("--db", f"sqlite:///{copy}", "check")
    assert report["ok"], report["violations"]
    with sqlite3.connect(copy) as conn:
        booked = {
            row[0] for row in conn.execute("SELECT id FROM reservations WHERE status = 'booked'")
        }
    assert before <= booked, f"missing from the backup: {sorted(before - booked)}"


def test_a_backup_replaces_the_old_one_atomically(cli: Cli, tmp_path: Path) -> None:
    if not cli.url.startswith("sqlite"):
        pytest.skip("SQLite's online backup")
    target = tmp_path / "school.db.bak"
    target.write_text("yesterday's backup")
    os.chmod(target, 0o644)
    cli.ok("user", "add", "alice", "--name", "Alice", "--role", "teacher")
    cli.ok("db", "backup", str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    users = cli.json("--db", f"sqlite:///{target}", "user", "list")["users"]
    assert [u["handle"] for u in users] == ["alice"]
    cli.fails(2, "db", "backup", str(tmp_path))  # a folder is not a backup file
    cli.fails(2, "db", "backup", str(tmp_path / "no" / "such" / "folder.db"))


def test_postgresql_is_told_to_use_pg_dump(cli: Cli) -> None:
    if cli.url.startswith("sqlite"):
        pytest.skip("PostgreSQL")
    result = cli.fails(4, "db", "backup", "/tmp/never-written.db")
    assert "pg_dump -Fc" in result.err and "pg_restore" in result.err
    assert not Path("/tmp/never-written.db").exists()


def test_the_readme_recipe_restores_postgresql(cli: Cli, tmp_path: Path) -> None:
    """README, Configuration: back up with `pg_dump -Fc`, restore with `pg_restore` into a new
    database; `check` passes on the restored copy, which holds what the original held."""
    if cli.url.startswith("sqlite"):
        pytest.skip("PostgreSQL")
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump is not installed")
    school(cli)
    cli.ok("account", "credit", "bob", "12.34")
    source = cli.url.replace("postgresql+psycopg://", "postgresql://")
    restored = f"tutorctl_restored_{uuid.uuid4().hex[:10]}"
    dump = tmp_path / "school.dump"
    subprocess.run(["pg_dump", "-Fc", "-f", str(dump), source], check=True, timeout=120)
    with _pg_admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{restored}" TEMPLATE template0')
    target = f"{source.rsplit('/', 1)[0]}/{restored}"
    try:
        subprocess.run(["pg_restore", "-d", target, str(dump)], check=True, timeout=120)
        url = target.replace("postgresql://", "postgresql+psycopg://")
        report = cli.json("--db", url, "check")
        assert report["ok"], report["violations"]
        assert cli.json("--db", url, "account", "show", "bob")["balance_cents"] == 12_34
        assert cli.json("--db", url, "user", "list") == cli.json("user", "list")
    finally:
        from tutorctl.db.engine import dispose_engines

        dispose_engines()
        with _pg_admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{restored}" WITH (FORCE)')

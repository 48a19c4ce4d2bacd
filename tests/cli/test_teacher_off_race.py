"""`schedule off` against a lesson that comes in while it waits for the teacher's week.

`schedule off` reads the lessons of the day to know whose accounts to lock, then locks the
weeks. A reserve that holds the teacher's week at that moment commits a new lesson there
before `schedule off` gets the week: what it read is stale. It must read again under the lock
and, when another student's lesson came in, run again (their account is locked first) — never
close the day around a lesson it did not see, and never surface the race as an exit 1.

PostgreSQL (READ COMMITTED, row locks): a second connection holds the teacher's week row
(``FOR UPDATE``) while `schedule off` runs as a real process; once that process waits for the
row (``pg_locks``), the connection moves carl's hold from Tuesday onto the day off — what a
reserve committing there would leave — and commits. SQLite serialises whole transactions
(``BEGIN IMMEDIATE``), so the interleaving cannot happen there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import NOW, Cli, reserve, school


def _waiting_for_a_lock(conn: object, deadline: float) -> None:
    while time.monotonic() < deadline:
        waiting = conn.execute(  # type: ignore[attr-defined]
            "SELECT count(*) FROM pg_locks WHERE NOT granted"
        ).fetchone()[0]
        if waiting:
            return
        time.sleep(0.02)  # polling for a state, not waiting out a race
    raise AssertionError("schedule off never waited for the teacher's week")


@pytest.mark.slow  # real processes
def test_a_lesson_committed_while_off_waits_for_the_week_is_released(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("SQLite serialises whole transactions: the interleaving cannot happen")
    import psycopg

    school(cli)
    hold = reserve(cli, "--json", student="carl", day="thu", time="11:00-12:00").json()
    lesson = hold["reservation_id"]

    with psycopg.connect(cli.url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute(
            "SELECT w.id FROM calendar_weeks w JOIN users u ON u.id = w.user_id "
            "WHERE u.handle = 'alice' AND w.week = '2026-11-23' FOR UPDATE"
        )
        off = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tutorctl",
                "schedule",
                "off",
                "alice",
                "--date",
                "2026-11-25",
                "--reason",
                "ill",
                "--json",
            ],
            env={**os.environ, "TUTORCTL_DB": cli.url, "TUTORCTL_NOW": NOW},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _waiting_for_a_lock(conn, time.monotonic() + 60)
            conn.execute(  # Thursday 11:00 → Wednesday 11:00, the day off
                "UPDATE reservations SET day = 2, starts_at = starts_at - interval '1 day', "
                "ends_at = ends_at - interval '1 day' WHERE id = %s",
                (lesson,),
            )
            conn.commit()
            out, err = off.communicate(timeout=120)
        finally:
            if off.poll() is None:
                off.kill()

    assert off.returncode == 0, err
    lines = {line["lesson_id"]: line for line in json.loads(out)["lessons"]}
    assert lesson in lines, f"schedule off did not see lesson {lesson}: {out}"
    assert cli.json("lesson", "show", str(lesson))["lesson"]["status"] == "released"

"""The README's PostgreSQL recipes (Configuration: the owner and the desk role, backup and
restore) run exactly as written — only the example host (``db``), names (``school``,
``desk``, ``school_restored``) and password (``…``) replaced — so the README cannot go stale:
the desk role it makes then runs daily commands, and the restored copy passes ``check``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import NOW, PG_ADMIN, PgServer, _need_pg, _pg_admin_connect

README = Path(__file__).resolve().parents[2] / "README.md"


def block_after(heading: str) -> str:
    """The first ```sh block after ``heading`` in the README."""
    text = README.read_text()
    start = text.index(f"\n{heading}\n")
    found = re.compile(r"```sh\n(.*?)```", re.S).search(text, start)
    assert found, f"no sh block after {heading!r}"
    return found.group(1)


def run_as_written(block: str, names: dict[str, str], host: str, folder: Path) -> str:
    """Run ``block`` in bash (``set -e``, each command echoed), ``names`` substituted as
    whole words and the URLs' example host ``db`` by ``host``; ``psql`` reaches the test server as its superuser (the README's "as a
    superuser"), ``tutorctl`` is this tree's."""
    server = make_url(PG_ADMIN)
    script = block.replace("@db/", f"@{host}/")
    for old, new in names.items():
        script = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w-])", new, script)
    env = {
        **os.environ,
        "PGHOST": server.host or "127.0.0.1",
        "PGPORT": str(server.port or 5432),
        "PGUSER": server.username or "postgres",
        "PGDATABASE": server.database or "postgres",
        "PYTHONPATH": str(README.parent),
        "TUTORCTL_NOW": NOW,
    }
    env.pop("TUTORCTL_DB", None)
    prelude = f'set -ex\ntutorctl() {{ "{sys.executable}" -m tutorctl "$@"; }}\n'
    done = subprocess.run(
        ["bash", "-c", prelude + script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def tutorctl(url: str, *args: str, code: int = 0) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tutorctl", "--db", url, *args],
        env={**os.environ, "PYTHONPATH": str(README.parent), "TUTORCTL_NOW": NOW},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, f"{args} → {done.returncode}: {done.stderr}"
    return done.stdout if code == 0 else done.stderr


@pytest.mark.slow  # real processes: the recipes run as a shell would
def test_the_owner_desk_and_backup_recipes_run_as_written(
    tmp_path: Path, pg_server: PgServer
) -> None:
    _need_pg(pg_server)
    for tool in ("psql", "pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    tag = uuid.uuid4().hex[:8]
    server = make_url(PG_ADMIN)
    names = {
        "school_restored": f"readme_restored_{tag}",
        "school": f"readme_school_{tag}",
        "desk": f"readme_desk_{tag}",
        "…": f"pw-{tag}",
    }
    where = f"{server.host or '127.0.0.1'}:{server.port or 5432}"
    owner = f"postgresql://{names['school']}@{where}/{names['school']}"
    desk = f"postgresql://{names['desk']}@{where}/{names['school']}"
    restored = f"postgresql://{names['school']}@{where}/{names['school_restored']}"
    try:
        run_as_written(
            block_after("### The owner and the desk role (PostgreSQL)"), names, where, tmp_path
        )
        # the desk role the recipe made runs the daily work, and cannot run db init
        for handle, role in (("alice", "teacher"), ("bob", "student")):
            tutorctl(desk, "user", "add", handle, "--name", handle.title(), "--role", role)
        tutorctl(desk, "account", "credit", "bob", "12.34")
        assert "needs the owner" in tutorctl(desk, "db", "init", code=4)
        assert '"ok": true' in tutorctl(desk, "check", "--json")
        run_as_written(block_after("### Backup and restore"), names, where, tmp_path)
        assert '"balance_cents": 1234' in tutorctl(restored, "account", "show", "bob", "--json")
        assert tutorctl(restored, "user", "list") == tutorctl(owner, "user", "list")
    finally:
        with _pg_admin_connect() as admin:
            for database in (names["school_restored"], names["school"]):
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for role in (names["desk"], names["school"]):
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')

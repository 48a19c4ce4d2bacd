"""One fixture gives a fresh database per test; the same tests run on SQLite and PostgreSQL.

PostgreSQL: each test gets its own database, cloned from a template initialised once per run
(``CREATE DATABASE … TEMPLATE``), and dropped afterwards. Set ``TUTORCTL_TEST_PG`` to another
server URL to use it. Without a server, PostgreSQL tests skip locally and fail in CI.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import reserve_args, schedule_set_args
from tutorctl.cli.app import main
from tutorctl.db.engine import dispose_engines

PG_ADMIN = os.environ.get("TUTORCTL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = "2026-11-24T09:00:00+01:00"  # a Tuesday, ISO week 2026-W48, Europe/Paris


def _pg_admin_connect() -> Any:
    import psycopg

    return psycopg.connect(
        PG_ADMIN.replace("postgresql+psycopg://", "postgresql://"),
        autocommit=True,
        connect_timeout=3,
    )


def _pg_url(name: str) -> str:
    base = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    return f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"


class PgServer:
    """The PostgreSQL server of the tests: a template initialised once per run (per xdist
    worker), and each test's own database cloned from it. Clones are made ``AHEAD`` at a time
    by a thread of their own (``CREATE DATABASE`` mostly waits for the disk), so a test does
    not wait for its database while the one before it runs; each is still used by one test
    only and dropped after it."""

    AHEAD = 2

    def __init__(self) -> None:
        self.template: str | None = None
        self.error: str | None = None
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=self.AHEAD)
        self._maker: threading.Thread | None = None
        self._used: queue.Queue[str] = queue.Queue()  # tests' databases to drop
        self._stop = threading.Event()
        self._admin: Any = None
        try:
            with _pg_admin_connect():
                pass
        except Exception as exc:  # noqa: BLE001 - any failure means "no server"
            self.error = str(exc).splitlines()[0]

    def create(self, from_template: bool) -> str:
        if from_template:
            if self._maker is None:
                template = self.ensure_template()
                self._maker = threading.Thread(
                    target=self._clone, args=(template,), name="pg-clones", daemon=True
                )
                self._maker.start()
            made = self._ready.get(timeout=300)
            if isinstance(made, BaseException):
                raise made
            return made
        name = f"tutorctl_test_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}"')
        return name

    def _clone(self, template: str) -> None:
        """The thread: clone the template into the queue until the run ends."""
        try:
            with _pg_admin_connect() as conn:
                while not self._stop.is_set():
                    name = f"tutorctl_test_{uuid.uuid4().hex[:12]}"
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                    while not self._stop.is_set():
                        self._drop_used(conn)
                        try:
                            self._ready.put(name, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    else:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        except BaseException as exc:  # noqa: BLE001 - handed to the test that waits
            self._ready.put(exc)

    def ensure_template(self) -> str:
        if self.template is None:
            name = f"tutorctl_tmpl_{uuid.uuid4().hex[:12]}"
            self._execute(f'CREATE DATABASE "{name}"')
            assert main(["--db", _pg_url(name), "db", "init"]) == 0
            dispose_engines()
            self.template = name
        return self.template

    def drop(self, name: str) -> None:
        """Drop a test's database once its connections are closed: in the clones' thread
        when it runs (the next test need not wait for it), else here."""
        dispose_engines()
        if self._maker is not None and self._maker.is_alive():
            self._used.put(name)
        else:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _drop_used(self, conn: Any) -> None:
        while True:
            try:
                name = self._used.get_nowait()
            except queue.Empty:
                return
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        """The run is over: stop the clones, drop the ones made ahead and the template."""
        self._stop.set()
        if self._maker is not None:
            self._maker.join(timeout=60)
        while not self._used.empty():
            self.drop(self._used.get())
        while not self._ready.empty():
            made = self._ready.get()
            if isinstance(made, str):
                self.drop(made)
        if self.template:
            self.drop(self.template)
        if self._admin is not None:
            self._admin.close()

    def _execute(self, sql: str) -> None:
        """One statement on this process's admin connection (opened once)."""
        if self._admin is None or self._admin.closed:
            self._admin = _pg_admin_connect()
        self._admin.execute(sql)


BACKENDS = ("sqlite", "postgresql")
POOLED = "pgbouncer"  # PostgreSQL through a transaction-pooling PgBouncer: a PostgreSQL backend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=(*BACKENDS, "both"),
        default="both",
        help="run the database tests on one backend only (the inner loop: --backend sqlite)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--backend sqlite`` deselects every test parametrised on PostgreSQL (and vice versa);
    the PgBouncer variant of a database fixture runs only for tests marked ``pooled``; the
    slow tests run first."""
    chosen = config.getoption("--backend")
    other = None if chosen == "both" else next(b for b in BACKENDS if b != chosen)
    keep, drop = [], []
    for item in items:
        values = getattr(getattr(item, "callspec", None), "params", {}).values()
        pooled = POOLED in values
        unwanted = pooled and item.get_closest_marker("pooled") is None
        if other is not None and (other in values or (pooled and other == "postgresql")):
            unwanted = True
        (drop if unwanted else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    # the slow tests (real processes racing, crashes, the state machine) first: the workers
    # start on them while the many short tests fill in around them, and none is left alone
    # at the end
    keep.sort(key=lambda item: item.get_closest_marker("slow") is None)
    items[:] = keep


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def pgbouncer(pg_server: PgServer) -> Iterator[Any]:
    """One PgBouncer for the run (``tests/pgbouncer.py``); skips without it, except in CI."""
    from tests.pgbouncer import BINARY, PgBouncer

    _need_pg(pg_server)
    if BINARY is None:
        if os.environ.get("CI"):
            pytest.fail("PgBouncer is required in CI (.ci/run installs it)")
        pytest.skip("pgbouncer is not installed")
    from sqlalchemy.engine import make_url

    admin = make_url(PG_ADMIN)
    bouncer = PgBouncer(
        admin.host or "127.0.0.1", admin.port or 5432, [admin.username or "postgres"]
    )
    yield bouncer
    bouncer.stop()


def _need_pg(server: PgServer) -> None:
    if server.error:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable: {server.error}")
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN}: {server.error}")


_SQLITE_TEMPLATE: list[Path] = []


def _sqlite_template() -> Path:
    """One initialised SQLite file per run, copied for each test (as PostgreSQL clones a
    template): ``db init`` runs once, not once per test."""
    if not _SQLITE_TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="tutorctl_tmpl_"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        assert main(["--db", f"sqlite:///{path}", "db", "init"]) == 0
        dispose_engines()  # closes the connections: the WAL is checkpointed into the file
        _SQLITE_TEMPLATE.append(path)
    return _SQLITE_TEMPLATE[0]


def _make_db(
    request: pytest.FixtureRequest, tmp_path: Path, server: PgServer, initialised: bool
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "tutorctl.db"
        if initialised:
            shutil.copyfile(_sqlite_template(), path)
        else:  # an empty database file (a missing one is another error: test_missing_file)
            path.touch(mode=0o600)
        yield f"sqlite:///{path}"
        dispose_engines()
        return
    bouncer = request.getfixturevalue("pgbouncer") if request.param == POOLED else None
    with _pg_database(server, from_template=initialised, bouncer=bouncer) as url:
        yield url


@contextmanager
def _pg_database(server: PgServer, from_template: bool, bouncer: Any = None) -> Iterator[str]:
    """A PostgreSQL database of its own (a clone of the initialised template, or empty),
    reached directly or through ``bouncer`` (a PgBouncer of the tests)."""
    _need_pg(server)
    name = server.create(from_template=from_template)
    try:
        yield bouncer.url(name) if bouncer else _pg_url(name)
    finally:
        server.drop(name)


@contextmanager
def fresh_database(backend: str, server: PgServer) -> Iterator[str]:
    """A fresh initialised database outside the fixtures (one per hypothesis example)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{folder}/tutorctl.db"
            assert main(["--db", url, "db", "init"]) == 0
            yield url
            dispose_engines()
        return
    with _pg_database(server, from_template=True) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, pg_server: PgServer) -> str:
    if request.param == "postgresql":
        _need_pg(pg_server)
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql", POOLED])
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    pg_server: PgServer,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[str]:
    """A fresh, initialised database (default settings), on each backend (and through
    PgBouncer for tests marked ``pooled``)."""
    gen = _make_db(request, tmp_path, pg_server, initialised=True)
    url = next(gen)
    capsys.readouterr()
    yield url
    next(gen, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_server: PgServer
) -> Iterator[str]:
    """A fresh database that was never initialised, on each backend."""
    yield from _make_db(request, tmp_path, pg_server, initialised=False)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs ``tutorctl`` in-process against one database, capturing stdout/stderr."""

    def __init__(
        self, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self.url = url
        self.capsys = capsys
        monkeypatch.setenv("TUTORCTL_DB", url)
        monkeypatch.setenv("TUTORCTL_NOW", NOW)
        monkeypatch.setenv("TUTORCTL_ACTOR", "tester")
        monkeypatch.setenv("COLUMNS", "120")

    def __call__(self, *args: str) -> Result:
        self.capsys.readouterr()
        code = main([str(a) for a in args])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.code == 0, f"{args} → {result.code}: {result.err}"
        return result

    def json(self, *args: str) -> Any:
        return self.ok(*args, "--json").json()

    def fails(self, code: int, *args: str) -> Result:
        result = self(*args)
        assert result.code == code, f"{args} → {result.code} (wanted {code}): {result.err}"
        assert result.out == "", f"stdout should be empty on error: {result.out!r}"
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert "Traceback" not in result.err
        return result


@pytest.fixture
def cli(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cli]:
    """The CLI on a fresh database; after the scenario, every invariant must still hold."""
    runner = Cli(db_url, capsys, monkeypatch)
    yield runner
    result = runner("check", "--json")
    if result.code != 4:  # 4: a scenario that left the database uninitialised on purpose
        assert result.json()["violations"] == [], result.out
        assert result.code == 0


def school(cli: Cli) -> None:
    """Two teachers open Mon-Fri 09-18 for five weeks, two students, two categories."""
    cli.ok("user", "add", "alice", "--name", "Alice Martin", "--role", "teacher")
    cli.ok("user", "add", "bruno", "--name", "Bruno Costa", "--role", "teacher")
    cli.ok("user", "add", "bob", "--name", "Bob Li", "--role", "student")
    cli.ok("user", "add", "carl", "--name", "Carl Ng", "--role", "student")
    cli.ok("category", "add", "maths", "--price", "40.00")
    cli.ok("category", "add", "piano", "--price", "45.50")
    for teacher in ("alice", "bruno"):
        cli.ok(
            *schedule_set_args(teacher, "this..+4", "mon-fri", "09:00-18:00"),
            "--open",
        )


def reserve(cli: Cli, *extra: str, **where: str) -> Result:
    """Run ``reserve`` (``where``: student, teacher, day, time, week, category; see reserve_args)."""
    return cli(*reserve_args(*extra, **where))


def booked(cli: Cli, **kwargs: str) -> int:
    """Reserve and pay by card: returns the booked lesson's id."""
    result = reserve(cli, "--json", **kwargs)
    assert result.code == 0, result.err
    data = result.json()
    to_pay = cli.json("session", "resume", str(data["session_id"]))["to_pay_cents"]
    if to_pay:
        cli.ok("session", "pay", str(data["session_id"]), "--method", "card")
    cli.ok("session", "confirm", str(data["session_id"]))
    return int(data["reservation_id"])

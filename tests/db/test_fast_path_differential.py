"""The fast path (db/prepared.py) against SQLAlchemy's own execution (issue 26, item 6).

A school's day runs through the CLI with every prepared statement watched: each time the unit of
work runs one (``run``, ``run_many``, ``stream``), SQLAlchemy first executes the same statement
with the same parameters inside a savepoint (rolled back, and on PostgreSQL the table's id
sequence put back), then the fast path runs it for real. They must return the same rows, value
for value and type for type, and a statement that writes must leave its table the same. At the
end every registered statement for the backend must have been compared at least once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import move_args, schedule_set_args
from tutorctl.db import prepared as fast
from tutorctl.db import settings as dbsettings
from tutorctl.db import statements, uow
from tutorctl.db.prepared import Prepared

SAVEPOINT = "tutorctl_differential"


def _typed(rows: Iterable[Any]) -> list[list[tuple[type, Any]]]:
    return [[(type(value), value) for value in row] for row in rows]


WRITES = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)


def _written_table(prepared: Prepared) -> Table | None:
    """The table a statement writes (a text() one's too), or None for a read."""
    statement = prepared.statement
    if getattr(statement, "is_dml", False):
        return statement.table  # type: ignore[no-any-return]
    found = WRITES.match(getattr(statement, "text", ""))
    return SQLModel.metadata.tables[found.group(2)] if found else None


Outcome = tuple[
    str, Any, Any
]  # ("rows", typed rows, the written table after) or ("error", class, None)


class Differ:
    """Wraps the unit of work's fast-path calls; records what it compared and what differed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: set[int] = set()
        self.compared = 0
        self.differences: list[str] = []
        monkeypatch.setattr(uow, "run", self.run)
        monkeypatch.setattr(uow, "run_many", self.run_many)
        monkeypatch.setattr(uow, "stream", self.stream)
        monkeypatch.setattr(uow, "load", self.load)

    def load(self, conn: Connection, lock_timeout: float) -> Any:
        """The first statement of every transaction (db/settings.load): on SQLite through the
        fast path's run, on PostgreSQL as one simple query after the SET LOCALs."""
        query = dbsettings.SETTINGS_QUERY
        expected = self._sqlalchemy(conn, query, lambda: conn.execute(query.statement))
        row = dbsettings.load(conn, lock_timeout)
        self._compare(query, expected, ("rows", _typed([row]), None))
        return row

    # -- the three ways the unit of work runs a prepared statement --------------------------

    def run(
        self, conn: Connection, prepared: Prepared, params: dict[str, Any] | None = None,
        driver: Any = None,
    ) -> list[Any]:  # fmt: skip
        params = params or {}
        expected = self._sqlalchemy(
            conn, prepared, lambda: conn.execute(prepared.statement, params)
        )
        try:
            got = fast.run(conn, prepared, params, driver)
        except DBAPIError as exc:
            self._compare(prepared, expected, ("error", type(exc.orig), None))
            raise
        self._compare(prepared, expected, ("rows", _typed(got), self._table(conn, prepared)))
        return got

    def run_many(
        self, conn: Connection, prepared: Prepared, rows: Iterable[dict[str, Any]],
        driver: Any = None,
    ) -> None:  # fmt: skip
        rows = list(rows)
        expected = self._sqlalchemy(conn, prepared, lambda: conn.execute(prepared.statement, rows))
        try:
            fast.run_many(conn, prepared, rows, driver)
        except DBAPIError as exc:
            self._compare(prepared, expected, ("error", type(exc.orig), None))
            raise
        self._compare(prepared, expected, ("rows", [], self._table(conn, prepared)))

    def stream(
        self, conn: Connection, prepared: Prepared, params: dict[str, Any], driver: Any,
        size: int = 1000,
    ) -> Iterator[list[Any]]:  # fmt: skip
        expected = self._sqlalchemy(
            conn, prepared, lambda: conn.execute(prepared.statement, params)
        )
        got: list[Any] = []
        for batch in fast.stream(conn, prepared, params, driver, size):
            got.extend(batch)
            yield batch
        self._compare(prepared, expected, ("rows", _typed(got), self._table(conn, prepared)))

    # -- SQLAlchemy's execution, undone ------------------------------------------------------

    def _sqlalchemy(
        self, conn: Connection, prepared: Prepared, execute: Callable[[], Any]
    ) -> Outcome:
        table = _written_table(prepared)
        driver = conn.connection.driver_connection
        sequence = self._sequence(conn, table)
        if table is not None:
            driver.execute(f"SAVEPOINT {SAVEPOINT}")
        try:
            result = execute()
            rows = _typed(result.all() if result.returns_rows else [])
            return ("rows", rows, self._table(conn, prepared))
        except DBAPIError as exc:
            return ("error", type(exc.orig), None)
        finally:
            if table is not None:
                driver.execute(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
                driver.execute(f"RELEASE SAVEPOINT {SAVEPOINT}")
            if sequence is not None:  # a sequence is not rolled back: put it back
                driver.execute("SELECT setval(%s, %s, %s)", sequence)

    def _sequence(self, conn: Connection, table: Table | None) -> tuple[str, int, bool] | None:
        """PostgreSQL: the state of the id sequence of the table an insert writes."""
        if conn.dialect.name != "postgresql" or table is None or "id" not in table.c:
            return None
        driver = conn.connection.driver_connection
        (name,) = driver.execute(
            "SELECT pg_get_serial_sequence(%s, 'id')", (table.name,)
        ).fetchone()
        if name is None:
            return None
        last, called = driver.execute(f"SELECT last_value, is_called FROM {name}").fetchone()
        return (name, last, called)

    def _table(self, conn: Connection, prepared: Prepared) -> Any:
        """What a writing statement's table holds as the driver reads it, unconverted: what is
        stored, not what SQLAlchemy makes of it (None for a read)."""
        table = _written_table(prepared)
        if table is None:
            return None
        key = ", ".join(c.name for c in (list(table.primary_key) or list(table.c)))
        driver = conn.connection.driver_connection
        return _typed(driver.execute(f"SELECT * FROM {table.name} ORDER BY {key}").fetchall())

    def _compare(self, prepared: Prepared, expected: Outcome, got: Outcome) -> None:
        self.seen.add(prepared.serial)
        self.compared += 1
        if expected != got:
            self.differences.append(f"{prepared!r}: SQLAlchemy {expected!r}, fast path {got!r}")


@pytest.fixture
def differ(monkeypatch: pytest.MonkeyPatch) -> Differ:
    return Differ(monkeypatch)


def _a_school_day(cli: Cli, folder: Any) -> None:
    """Commands that between them run every prepared statement."""
    school(cli)
    for weeks in range(1, 9):  # the SQLite week lock is one statement per count of weeks, 1 … 8
        cli.ok(*schedule_set_args("bruno", f"+5..+{4 + weeks}", "mon", "09:00-10:00"), "--open")
    cli.ok("account", "credit", "bob", "100.00")
    lesson = booked(cli)  # find_pair, the overlap reads, a session, an operation, a lesson
    reserve(cli, "--json", student="carl", teacher="bruno", day="thu", category="piano")
    # people and a category by id, not by name
    by_id = ("--teacher", "1", "--student", "4", "--category", "1", "--week", "next")
    cli.ok("reserve", *by_id, "--day", "mon", "--time", "09:00-10:00")
    moved = cli.json(*move_args(lesson, week="next", day="tue", time="10:00-11:00"))
    cli.ok("session", "confirm", str(moved["session_id"]))
    lessons = folder / "lessons.csv"
    lessons.write_text(
        "teacher,student,category,date,start,end,status,history,purchase\n"
        "alice,bob,maths,2026-12-02,10:00,11:00,booked,false,\n"
        "bruno,carl,piano,2026-11-16,10:00,11:00,done,true,\n"
    )
    cli.ok("import", "reservations", str(lessons))
    cli.ok("schedule", "off", "alice", "--date", "2026-12-02", "--reason", "ill")
    cli.ok("history", "--user", "bob")
    cli.ok("--now", "2026-11-26T09:00:00+01:00", "expire")


def test_every_prepared_statement_runs_as_sqlalchemy_runs_it(
    cli: Cli, differ: Differ, tmp_path: Any
) -> None:
    try:
        _a_school_day(cli, tmp_path)
    finally:  # a difference is the failure to show, even if it then broke a command
        assert differ.differences == []
    assert differ.compared > 50  # the day ran through the fast path (about 100 calls)
    dialect = "postgresql" if cli.url.startswith("postgresql") else "sqlite"
    missed = [
        p for p in statements.registered() if dialect in p.dialects and p.serial not in differ.seen
    ]
    assert missed == [], "not run by the scenario: add a command that runs them"

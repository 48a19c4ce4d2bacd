"""Prepared statements: Core statements compiled once per dialect, run on the driver's cursor.

SQLAlchemy's execution of a prebuilt statement costs several times the driver's own work
(execution context, events, result metadata); a reserve runs about ten statements. A prepared
statement keeps what matters of it — the SQL as SQLAlchemy compiles it for the dialect, each
type's own bind and result processors, errors wrapped as ``DBAPIError`` — and skips the rest.

The rules of the fast path, checked when a statement is compiled (and for every registered
statement by ``tests/db/test_statements.py``, see ``statements.py``):

- plain bound parameters: no expanding IN lists, no names SQLAlchemy must escape;
- no ``literal_execute`` parameters (SQLAlchemy renders them into the SQL at each execution);
- no Python-side column defaults or ``onupdate`` values other than constants (the fast path
  does not run them: their parameter would be NULL);
- a statement returning rows declares its columns (a ``text()`` gets ``.columns(...)``);
- an INSERT whose ids are not wanted back is written ``.inline()``: PostgreSQL would otherwise
  add ``RETURNING id`` (and ``run_many`` refuses statements that return rows).

"Prepared" means compiled to SQL once in this process, not prepared on the server: the driver's
``execute`` sends each statement unnamed (the engine turns psycopg's automatic server-side
prepares off, ``prepare_threshold=None``), so nothing outlives its transaction behind a
transaction-pooling pooler (``engine.py``).

Why SQLAlchemy is pinned below 2.2 (pyproject.toml): compiling reads the compiler's internals
(``escaped_bind_names``, ``literal_execute_params``, ``bind_names``, ``positiontup``,
``insert_prefetch``, ``update_prefetch``, ``effective_returning``), which are not public API and may change in a minor release. Raise the
bound only after tests/db (test_statements and test_uow) pass on the new version.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, any_, bindparam
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause

from tutorctl.db import statements

_MISSING = object()
_serials = itertools.count()
# a text() statement that returns rows: it must declare them with .columns(...)
_RETURNS_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES)\b|\bRETURNING\b", re.IGNORECASE)


class Prepared:
    """A Core statement compiled once per dialect (see the module's rules); it registers
    itself in ``statements`` where it is created."""

    def __init__(
        self, statement: Any, keys: Iterable[str] = (), dialect: str | None = None
    ) -> None:
        self.statement = statement
        self.keys = list(keys)  # an INSERT's columns (the statement names no values)
        # the one dialect it is written for (SQLite's upsert, PostgreSQL's arrays), or None
        known = getattr(statement, "stringify_dialect", "default")
        self.dialect = dialect or (known if known != "default" else None)
        self._compiled: dict[str, _Compiled] = {}
        self._last: tuple[Any, _Compiled | None] = (None, None)
        # where it was made: the check of every statement leaves out the ones tests make
        self.origin: str = sys._getframe(1).f_globals.get("__name__", "")
        self.serial = next(_serials)
        statements.register(self)

    def __repr__(self) -> str:
        return f"<Prepared #{self.serial} of {self.origin}: {str(self.statement)[:60]!r}>"

    @property
    def dialects(self) -> tuple[str, ...]:
        """The dialects it runs on."""
        return (self.dialect,) if self.dialect else ("sqlite", "postgresql")

    def check(self, dialect: Any) -> str:
        """Compile for ``dialect`` under the rules (``ValueError`` if one is broken) without
        keeping the result: the dialect of a test is not initialised by a connection, and
        what runs must be compiled for the one that is. The SQL."""
        if dialect.name not in self.dialects:
            raise ValueError(f"a statement for {self.dialect} checked on {dialect.name}")
        return _Compiled.of(self, dialect).sql

    def compiled(self, dialect: Any) -> _Compiled:
        last_dialect, found = self._last
        if dialect is last_dialect and found is not None:  # the usual case: one engine
            return found
        if dialect.name not in self.dialects:
            raise ValueError(f"a statement for {self.dialect} run on {dialect.name}")
        key = f"{dialect.name}+{dialect.driver}"
        found = self._compiled.get(key)
        if found is None:
            found = self._compiled[key] = _Compiled.of(self, dialect)
        self._last = (dialect, found)
        return found


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]  # the bound parameters, in the order of a positional paramstyle
    fixed: dict[str, Any]  # constants: literal binds and scalar column defaults
    plan: tuple[tuple[str, Callable[[Any], Any] | None], ...]  # each parameter, its converter
    row: type[tuple[Any, ...]] | None  # a named tuple of the returned columns
    readers: tuple[tuple[int, Callable[[Any], Any]], ...]

    @classmethod
    def of(cls, prepared: Prepared, dialect: Any) -> _Compiled:
        statement = prepared.statement
        if isinstance(statement, TextClause) and _RETURNS_ROWS.search(statement.text):
            raise ValueError("a prepared statement returning rows must declare its columns")
        c: Any = statement.compile(dialect=dialect, column_keys=prepared.keys or None)
        # a literal_execute parameter is rendered into the SQL at each execution (the string
        # holds a __[POSTCOMPILE_...] marker the driver cannot run): SQLAlchemy's work, not ours
        if (
            c.escaped_bind_names
            or c.literal_execute_params
            or any(b.expanding or b.literal_execute for b in c.bind_names)
        ):
            raise ValueError("a prepared statement takes plain bound parameters")
        fixed, types = {}, {}
        for bind, name in c.bind_names.items():
            types[name] = bind.type
            if not bind.required:
                fixed[name] = bind.effective_value
        # columns whose value SQLAlchemy computes in Python at execution (an insert's default,
        # an update's onupdate): their bind has no value (it would write NULL), so only a
        # constant, taken here once, is allowed
        for column in c.insert_prefetch:
            if column.default is None or not column.default.is_scalar:
                raise ValueError(f"a prepared insert needs a value for {column.key}")
            fixed[column.key], types[column.key] = column.default.arg, column.type
        for column in c.update_prefetch:
            if column.onupdate is None or not column.onupdate.is_scalar:
                raise ValueError(
                    f"a prepared update needs a value for {column.key} (its onupdate is Python's)"
                )
            fixed[column.key], types[column.key] = column.onupdate.arg, column.type
        names = tuple(c.positiontup if c.positional else types)
        plan = tuple(
            (name, types[name].dialect_impl(dialect).bind_processor(dialect)) for name in names
        )
        # what comes back: a DML statement's RETURNING (the dialect may add the primary key on
        # its own), a SELECT's columns, or the columns a text() statement declares
        columns = list(
            c.effective_returning
            if c.isinsert or c.isupdate or c.isdelete
            else getattr(statement, "exported_columns", ())
        )
        readers = tuple(
            (i, fn)
            for i, column in enumerate(columns)
            if (fn := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        )
        row = namedtuple("Row", [col.key for col in columns], rename=True) if columns else None
        return cls(c.string, c.positional, names, fixed, plan, row, readers)

    def parameters(self, params: dict[str, Any]) -> Any:
        values = {**self.fixed, **params} if self.fixed else params
        converted = [values[name] if fn is None else fn(values[name]) for name, fn in self.plan]
        return converted if self.positional else dict(zip(self.names, converted, strict=True))

    def parameters_many(self, rows: Iterable[dict[str, Any]]) -> list[Any]:
        """``parameters`` of many rows, each distinct value converted once: a bulk insert
        repeats its dates and times (and the transaction's ``now``) across rows. A value is
        the same if it is equal, of the same type and (datetimes) in the same zone."""
        memo: dict[tuple[Any, ...], Any] = {}
        converted = []
        for params in rows:
            values = {**self.fixed, **params} if self.fixed else params
            out = []
            for name, fn in self.plan:
                value = values[name]
                if fn is not None:
                    try:
                        key = (name, value, type(value), getattr(value, "tzinfo", None))
                        done = memo.get(key, _MISSING)
                        if done is _MISSING:
                            done = memo[key] = fn(value)
                    except TypeError:  # unhashable (an array)
                        done = fn(value)
                    value = done
                out.append(value)
            converted.append(out if self.positional else dict(zip(self.names, out, strict=True)))
        return converted

    def rows(self, cursor: Any, fetched: list[Any] | None = None) -> list[Any]:
        """The cursor's rows (or the ``fetched`` part of them), converted, as named tuples."""
        if self.row is None:
            if cursor.description is not None:  # a text() statement that names no columns
                raise ValueError("a prepared statement returning rows must declare its columns")
            return []
        rows = cursor.fetchall() if fetched is None else fetched
        if self.readers:
            rows = [list(r) for r in rows]
            for r in rows:
                for i, fn in self.readers:
                    r[i] = fn(r[i])
        new = tuple.__new__  # a named tuple built in C (its _make is Python)
        return [new(self.row, r) for r in rows]


def run(
    conn: Connection, prepared: Prepared, params: dict[str, Any] | None = None, driver: Any = None
) -> list[Any]:
    """Run a prepared statement on ``conn``'s driver connection (``driver``, if the caller
    already has it), in its transaction; its rows, as named tuples. Driver errors come out as
    SQLAlchemy's ``DBAPIError`` (the retry and the translation of errors see them as for any
    statement)."""
    compiled = prepared.compiled(conn.dialect)
    values = compiled.parameters(params or {})
    if driver is None:
        driver = conn.connection.driver_connection
    try:
        return compiled.rows(driver.execute(compiled.sql, values))
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, driver, compiled.sql, values, exc) from exc


def stream(
    conn: Connection, prepared: Prepared, params: dict[str, Any], driver: Any, size: int = 1000
) -> Iterator[list[Any]]:
    """``run``, its rows fetched and converted ``size`` at a time: a statement returning tens of
    thousands of rows (a big import's lock) never holds them all as Python objects."""
    compiled = prepared.compiled(conn.dialect)
    values = compiled.parameters(params)
    try:
        cursor = driver.execute(compiled.sql, values)
        while fetched := cursor.fetchmany(size):
            yield compiled.rows(cursor, fetched)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, driver, compiled.sql, values, exc) from exc


def run_many(
    conn: Connection, prepared: Prepared, rows: Iterable[dict[str, Any]], driver: Any = None
) -> None:
    """Run a prepared statement that returns nothing once per row of parameters, in one
    ``executemany`` of the driver (bulk inserts)."""
    compiled = prepared.compiled(conn.dialect)
    if compiled.row is not None:
        raise ValueError("run_many takes a statement that returns no rows")
    values = compiled.parameters_many(rows)
    if driver is None:
        driver = conn.connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.executemany(compiled.sql, values)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise wrapped(conn, driver, compiled.sql, values, exc) from exc
    finally:
        cursor.close()


def wrapped(conn: Connection, driver: Any, sql: str, values: Any, exc: Any) -> Any:
    """A driver error as SQLAlchemy's ``DBAPIError`` (the connection invalidated if lost)."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(exc, driver, None)
    if lost:
        conn.invalidate(exc)
    return DBAPIError.instance(
        sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


def one_of(dialect: str, column: Any, values: Iterable[Any]) -> Any:
    """``column IN (values)`` for a long list: one array parameter on PostgreSQL (``= ANY(…)``;
    an IN list of a thousand placeholders is parsed again on every run), an IN list on SQLite."""
    values = list(values)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)

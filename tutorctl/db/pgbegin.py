"""PostgreSQL: a transaction's BEGIN sent in the round trip of its first statement.

psycopg, outside autocommit, sends ``BEGIN`` on its own before a transaction's first statement:
a round trip of its own, one in the thirteen of a reserve. So the driver runs in autocommit
and tutorctl begins the transaction itself: the engine's ``begin`` event (every transaction,
explicit or SQLAlchemy's autobegin) leaves the BEGIN pending on the driver's connection, and
whoever sends next carries it:

- the unit of work's first statement (``settings.load``) and ``errors.begin`` send it in the
  same simple query as their ``SET LOCAL``s (``take``): one round trip, no more;
- any other statement (the cursors made here: ``execute``, ``executemany``, ``stream``,
  ``copy``, a named cursor's ``execute``) sends it first, on its own — never a statement
  outside the transaction.

Commit and rollback clear it (a transaction that ran nothing sends nothing); psycopg's
``commit``/``rollback`` send COMMIT/ROLLBACK whenever the server says a transaction is open,
autocommit or not. Behind a transaction-pooling PgBouncer it is the same: the pooler follows
the transaction from the server's replies.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, event

# the transaction kinds (engine_for's WRITE_OPTION: True a write, False a read, absent: a
# plain transaction of a caller outside the unit of work, as psycopg would begin it)
WRITE = "BEGIN ISOLATION LEVEL READ COMMITTED"
READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"  # one snapshot for a whole report
_PENDING = "_tutorctl_begin"


def take(driver: Any) -> str:
    """The pending BEGIN of ``driver``'s transaction with its separator, to put in front of a
    simple query (``""`` when it was sent already); it is then no longer pending."""
    pending: str | None = getattr(driver, _PENDING, None)
    if pending is None:
        return ""
    setattr(driver, _PENDING, None)
    return pending + "; "


def _send_pending(connection: Any) -> None:
    pending = getattr(connection, _PENDING, None)
    if pending is not None:
        setattr(connection, _PENDING, None)
        import psycopg  # loaded already: this connection is psycopg's

        psycopg.Cursor(connection).execute(pending)  # a plain cursor: nothing pending now


@cache
def _cursors() -> tuple[type, type]:
    """The cursor classes (psycopg imported only when a PostgreSQL engine is made: a SQLite
    command's start-up does not pay for it)."""
    import psycopg

    class Cursor(psycopg.Cursor[Any]):
        """A cursor that sends its transaction's pending BEGIN before anything else."""

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            _send_pending(self.connection)
            return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> None:
            _send_pending(self.connection)
            super().executemany(*args, **kwargs)

        def stream(self, *args: Any, **kwargs: Any) -> Any:
            _send_pending(self.connection)
            return super().stream(*args, **kwargs)

        def copy(self, *args: Any, **kwargs: Any) -> Any:
            _send_pending(self.connection)
            return super().copy(*args, **kwargs)

    class ServerCursor(psycopg.ServerCursor[Any]):
        """A named cursor (``yield_per``) that sends its transaction's pending BEGIN first."""

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            _send_pending(self.connection)
            return super().execute(*args, **kwargs)

    return Cursor, ServerCursor


def install(engine: Engine, write_option: str) -> None:
    """Autocommit on the driver, the BEGIN sent by whoever runs first (the module's note)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory, dbapi_connection.server_cursor_factory = _cursors()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get(write_option)
        begin = READ if write is False else WRITE
        setattr(connection.connection.driver_connection, _PENDING, begin)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _on_end(connection: Any) -> None:
        if not connection.invalidated:
            setattr(connection.connection.driver_connection, _PENDING, None)

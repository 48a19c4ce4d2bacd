"""Keeping the ORM's cached rows true, in one place, so that no service has to.

A transaction reaches its rows two ways: the ORM (``tx.orm``, rows kept in the session's
identity map) and Core statements (``tx.run``, set-based, straight to the tables). A cached
row goes stale two ways, and the unit of work handles both:

- **locks**: a row read before ``tx.lock`` may have been changed by another transaction until
  the lock was granted. Once new locks are held, every cached row of a table those locks guard
  is expired: it is read again, under the lock, when next used. (Reference rows — people,
  categories, the settings, the history — are not changed under the calendar locks and stay.)
- **Core writes**: an UPDATE, DELETE or upsert run through ``tx.run`` expires the cached rows
  of the table it wrote.

Expiring costs nothing until a row is used again, and then one SELECT by primary key.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Delete, Insert, Table, Update
from sqlalchemy.orm import Session

from tutorctl.db import tables

UNGUARDED: frozenset[Table] = frozenset(
    (
        tables.users,
        tables.categories,
        tables.settings,
        tables.schema_versions,
        tables.history,
        tables.history_users,
    )
)


def after_lock(orm: Session) -> None:
    """New locks are held: cached rows of the tables they guard are read again when used."""
    for row in list(orm.identity_map.values()):
        if _table(row) not in UNGUARDED:
            orm.expire(row)


def after_write(orm: Session, statement: Any) -> None:
    """A Core statement ran: if it changed rows of a table (not a plain INSERT, which
    changes none that are cached), cached rows of that table are read again when used."""
    if not isinstance(statement, (Update, Delete, Insert)):
        return
    if isinstance(statement, Insert) and getattr(statement, "_post_values_clause", None) is None:
        return  # a plain INSERT: an upsert's ON CONFLICT clause is its post-values clause
    written = statement.table
    for row in list(orm.identity_map.values()):
        if _table(row) is written:
            orm.expire(row)


def _table(row: object) -> Any:
    return getattr(type(row), "__table__", None)

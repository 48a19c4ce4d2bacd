"""The history log: what each mutation changed, appended when its transaction finishes.

The rows come from the typed events a service records (``events.py`` turns each into its rows:
``add``, one row, details as keywords, or ``add_from``, one row per selected row, set-based)
and, for the kinds with no event yet, from ``tx.audit(...)``; the unit of work writes them,
with their links to the people they are about (``history_users``), just before it commits.
History is append-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import literal

from tutorctl.db import tables
from tutorctl.db.prepared import Prepared

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

_H = tables.history
INSERT_HISTORY = _H.insert()
_HISTORY_KEYS = ("at", "actor", "command", "subject", "user_ids", "session_id", "details")
# one history row, its id back (the links to its people name it)
INSERT_ONE_HISTORY = Prepared(INSERT_HISTORY.returning(_H.c.id), keys=_HISTORY_KEYS)
INSERT_HISTORY_USERS = Prepared(
    tables.history_users.insert().inline(),
    keys=("user_id", "history_id"),
)
USER_IDS_LENGTH = 2000  # history.user_ids holds the ids that fit; history_users holds them all


def user_ids_text(ids: list[int]) -> str:
    """``",5,12,"``: the people of a history row, as many as fit in the column (a big import
    names thousands; every one of them is linked in history_users)."""
    text = ","
    for u in ids:
        piece = f"{u},"
        if len(text) + len(piece) > USER_IDS_LENGTH:
            break
        text += piece
    return text


def _split_user_ids(text: str) -> list[int]:
    return [int(u) for u in text.strip(",").split(",") if u]


@dataclass
class AuditLog:
    """The history rows of one transaction, written by ``finish``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    users: list[list[int]] = field(default_factory=list)  # the people of each row
    in_sql: bool = False  # history rows already written set-based (``add_from``)
    unchanged: bool = False  # the mutation changed nothing: no history row

    def add(
        self, tx: Tx, subject: str, users: Iterable[int], session_id: int | None, **details: Any
    ) -> None:
        ids = sorted({u for u in users if u is not None})
        self.rows.append(
            {
                "at": tx.now,
                "actor": tx.actor,
                "command": tx.command,
                "subject": subject[:200],
                "user_ids": user_ids_text(ids),
                "session_id": session_id,
                "details": json.dumps(details, default=str, sort_keys=True),
            }
        )
        self.users.append(ids)

    def add_from(self, tx: Tx, rows: Any) -> None:
        """One history row per row of ``rows``, set-based: a Core SELECT of ``subject,
        user_ids, session_id, details`` (as ``add`` would build them; the transaction's time,
        actor and command are added). The links to their people come back with the new rows
        (``RETURNING``) and go in with one ``executemany``."""
        columns = [
            literal(tx.now, _H.c.at.type).label("at"),
            literal(tx.actor[:200]).label("actor"),
            literal(tx.command).label("command"),
            *rows.selected_columns,
        ]
        added = tx.run(
            INSERT_HISTORY.from_select(
                list(_HISTORY_KEYS), rows.with_only_columns(*columns)
            ).returning(_H.c.id, _H.c.user_ids)
        ).all()
        _link_users(tx, ((history_id, _split_user_ids(text)) for history_id, text in added))
        self.in_sql = True

    def finish(self, tx: Tx) -> None:
        """Flush the service's ORM writes, then append the history rows (a mutation with none
        gets one naming its command, unless it changed nothing)."""
        if not self.rows:
            if self.in_sql or self.unchanged:
                tx.flush()
                return
            self.add(tx, tx.command, (), None)
        tx.flush()
        if len(self.rows) == 1:
            ((history_id,),) = tx.run(INSERT_ONE_HISTORY, self.rows[0])
            ids = [history_id]
        else:
            returning = INSERT_HISTORY.returning(_H.c.id, sort_by_parameter_order=True)
            ids = list(tx.run(returning, self.rows).scalars())
        _link_users(tx, zip(ids, self.users, strict=True))


def _link_users(tx: Tx, rows: Iterable[tuple[int, list[int]]]) -> None:
    """history_users rows for (history id, its people), in one ``executemany``."""
    links = [{"user_id": u, "history_id": h} for h, users in rows for u in users]
    if links:
        tx.run_many(INSERT_HISTORY_USERS, links)

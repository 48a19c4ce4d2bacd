"""Primary keys allocated ahead of a bulk insert that gives explicit ids (no RETURNING)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlmodel import func, select

from tutorctl.db import tables

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

PG_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
)


def allocate_ids(tx: Tx, model: Any, count: int) -> list[int]:
    """``count`` fresh primary keys of ``model``'s table."""
    if count == 0:
        return []
    if tx.dialect == "postgresql":
        rows = tx.run(PG_NEXT_IDS, {"table": model.__tablename__, "n": count})
        return [int(r[0]) for r in rows]
    table = tables.table_of(model)
    first = int(tx.run(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1
    return list(range(first, first + count))  # SQLite: one writer holds BEGIN IMMEDIATE

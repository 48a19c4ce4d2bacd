"""Ids on the read side: a row read from the database (or flushed) always has one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, TypeVar

from tutorctl.core.errors import NotFoundError

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

M = TypeVar("M")


class HasId(Protocol):
    @property
    def id(self) -> int | None: ...


def must_id(row: HasId) -> int:
    """The id of a stored row (the models declare ``int | None`` only for rows not yet inserted)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: it was never flushed")
    return row.id


def must_get(tx: Tx, model: type[M], row_id: int, missing: str) -> M:
    """The row of ``model`` with this id, or not found (exit 3) saying ``missing``."""
    row = tx.orm.get(model, row_id)
    if row is None:
        raise NotFoundError(missing)
    return row

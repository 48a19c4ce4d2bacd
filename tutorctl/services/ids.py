"""Ids on the read side: a row read from the database (or flushed) always has one."""

from __future__ import annotations

from typing import Protocol


class HasId(Protocol):
    @property
    def id(self) -> int | None: ...


def must_id(row: HasId) -> int:
    """The id of a stored row (the models declare ``int | None`` only for rows not yet inserted)."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: it was never flushed")
    return row.id

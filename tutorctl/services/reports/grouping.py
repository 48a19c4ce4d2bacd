"""SQL pieces every report's grouping uses: a sum that is 0 over no rows, and a group's name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select


def total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def name_of(label: Any, key: Any, value: Any, name: str = "name") -> Any:
    """A group's name looked up by its key, one primary-key lookup per grouped row (a join
    could make the database scan every user to name a few hundred groups)."""
    return select(label).where(key == value).scalar_subquery().label(name)

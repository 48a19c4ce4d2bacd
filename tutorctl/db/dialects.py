"""SQL whose spelling differs between SQLite and PostgreSQL, as expression builders.

Services and reports build their queries from these and never branch on the dialect
themselves: ``db/`` is the only layer that knows there are two.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Interval, func, literal, true


def seconds_between(dialect: str, start: Any, end: Any) -> ColumnElement[Any]:
    """The real seconds from ``start`` to ``end`` (two stored instants), as a number."""
    if dialect == "postgresql":
        seconds: ColumnElement[Any] = func.extract("epoch", end - start)
        return seconds
    return func.round((func.julianday(end) - func.julianday(start)) * 86400)


def hours_before(dialect: str, instant: Any, hours: int) -> ColumnElement[Any]:
    """The stored instant ``hours`` before ``instant`` (a column), comparable with another
    stored instant. PostgreSQL subtracts an interval; SQLite, whose instants are text
    (``YYYY-MM-DD HH:MM:SS.ffffff``), shifts the seconds part with ``strftime`` and keeps the
    fraction as it was, so the comparison stays exact to the microsecond."""
    if dialect == "postgresql":
        shifted: ColumnElement[Any] = instant - literal(timedelta(hours=hours), Interval())
        return shifted
    return func.strftime("%Y-%m-%d %H:%M:%S", instant, f"-{int(hours)} hours").op("||")(
        func.substr(instant, 20)
    )


def join_each(dialect: str, driving: Any, parts: Any, on: Any) -> tuple[Any, Any]:
    """``driving`` joined to its rows of ``parts`` that match ``on``, each driving row's parts
    read through an index on ``parts`` (a small period's payments and the fundings of each
    one, out of a fundings table that grows with the whole history): (from clause, the parts
    as a selectable with ``parts``' columns). SQLite plans it so from the plain join;
    PostgreSQL, which would hash the whole of ``parts`` instead, gets a LATERAL subquery that
    OFFSET 0 keeps it from flattening."""
    if dialect != "postgresql":
        return driving.join(parts, on), parts
    lateral = parts.select().where(on).offset(0).lateral(f"{parts.name}_each")
    return driving.join(lateral, true()), lateral

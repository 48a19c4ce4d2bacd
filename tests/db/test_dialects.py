"""``dialects.hours_before``: an instant some hours before a stored one, compared with another
stored instant exactly (to the microsecond, across days and months) on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from tutorctl.db import tables
from tutorctl.db.dialects import hours_before
from tutorctl.db.engine import get_engine

STARTS = datetime(2026, 12, 1, 0, 30, 0, 250, tzinfo=UTC)  # a fraction of a second: kept


def test_hours_before_compares_to_the_microsecond(db_url: str) -> None:
    v, start = tables.schema_versions, tables.schema_versions.alias("start")
    engine = get_engine(db_url)
    for hours in (1, 24, 720):
        bound = STARTS - timedelta(hours=hours)
        booked = {
            101: bound - timedelta(microseconds=1),  # before the window opened: due
            102: bound.replace(microsecond=0),  # the same second, earlier in it: due
            103: bound,  # as the window opened: inside it
            104: bound + timedelta(microseconds=1),
            105: bound + timedelta(seconds=1),
        }
        with engine.connect() as conn:  # rolled back: the rows are only for the comparison
            rows = [{"version": 200, "applied_at": STARTS}]
            rows += [{"version": n, "applied_at": at} for n, at in booked.items()]
            conn.execute(insert(v), rows)
            before = (
                select(v.c.version)
                .join(start, start.c.version == 200)
                .where(
                    v.c.version > 100,
                    v.c.applied_at < hours_before(engine.dialect.name, start.c.applied_at, hours),
                )
                .order_by(v.c.version)
            )
            assert list(conn.execute(before).scalars()) == [101, 102], hours
            conn.rollback()

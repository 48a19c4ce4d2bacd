"""What pass 2 of an import reads of the weeks pass 1 spooled and ``db.locks.WeekSpool``
locked: a teacher's availability, per batch (never the whole import's in memory)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, or_
from sqlalchemy import select as core_select

from tutorctl.core.availability import DAY_COLUMNS, WeekAvailability
from tutorctl.db.tables import calendar_weeks as W
from tutorctl.db.uow import Tx


def availability(tx: Tx, keys: set[tuple[int, date]]) -> dict[tuple[int, date], WeekAvailability]:
    """(user id, monday) → the week's availability, of the locked weeks among ``keys``.

    One query per batch, a week's users at a time (``week = … AND user_id IN …`` terms joined
    by OR): both databases look each term up in the (user, week) index, where a row-value IN
    list would make SQLite scan every week of the school.
    """
    by_week: dict[date, list[int]] = {}
    for user, week in sorted(keys):
        by_week.setdefault(week, []).append(user)
    found: dict[tuple[int, date], WeekAvailability] = {}
    if not by_week:
        return found
    query = core_select(W.c.user_id, W.c.week, *(W.c[day] for day in DAY_COLUMNS)).where(
        or_(*(and_(W.c.week == week, W.c.user_id.in_(users)) for week, users in by_week.items()))
    )
    for row in tx.run(query):
        found[(row[0], row[1])] = WeekAvailability(tuple(row[2:]))
    return found

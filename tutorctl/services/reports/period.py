"""The period of a report: whole days in the school zone, as UTC instants.

``--month YYYY-MM``, or ``--from W [--to W]`` (weeks; ``--to`` defaults to the current week);
no option means the current month. Time zones are applied here, in Python (a period's bounds
and a month's boundaries become UTC instants), never by the database, so both backends give
the same figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_

from tutorctl.core.calendar import format_week, monday_of, parse_week, to_utc
from tutorctl.core.errors import InputError
from tutorctl.core.limits import check_year
from tutorctl.core.views import ReportPeriod
from tutorctl.db.uow import Tx

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)


@dataclass(frozen=True)
class Period:
    first: date  # the first day
    end: date  # the day after the last
    label: str
    starts_at: datetime  # UTC instant of the first day's midnight in the school zone
    ends_at: datetime

    def view(self, tx: Tx) -> ReportPeriod:
        zone = tx.settings.zone
        return ReportPeriod(
            label=self.label,
            first_date=self.first.isoformat(),
            last_date=(self.end - timedelta(days=1)).isoformat(),
            starts_at=self.starts_at.astimezone(zone).isoformat(),
            ends_at=self.ends_at.astimezone(zone).isoformat(),
        )

    def during(self, column: Any) -> Any:
        """``column`` (an instant) falls in the period: a range an index on it can scan."""
        return and_(column >= self.starts_at, column < self.ends_at)

    def months(self) -> list[tuple[str, date]]:
        """The months the period touches: (``YYYY-MM``, first day of the next month)."""
        found, day = [], self.first
        while day < self.end:
            following = _next_month(day)
            found.append((f"{day.year:04d}-{day.month:02d}", following))
            day = following
        return found

    def weeks(self) -> tuple[date, date]:
        """The Mondays of the first and the last week the period touches."""
        return monday_of(self.first), monday_of(self.end - timedelta(days=1))


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_month(text: str) -> date:
    """``2026-11`` → its first day; anything else is bad input (exit 2)."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(f"bad --month {text!r}: use YYYY-MM, e.g. 2026-11")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    check_year(first, text, "--month")
    return first


def period(tx: Tx, first_week: str | None, last_week: str | None, month: str | None) -> Period:
    """The period of ``--from W --to W`` or ``--month YYYY-MM`` (default: this month)."""
    if month is not None and (first_week is not None or last_week is not None):
        raise InputError("give either --month or --from/--to, not both")
    if last_week is not None and first_week is None:
        raise InputError("--to needs --from (the first week of the period)")
    if first_week is not None:
        first = parse_week(first_week, tx.today)
        last = parse_week(last_week, tx.today) if last_week is not None else monday_of(tx.today)
        if last < first:
            shown = last_week if last_week is not None else "this (the default --to)"
            raise InputError(f"bad period: --from {first_week} is after --to {shown}")
        label = format_week(first) + ("" if last == first else f"..{format_week(last)}")
        end = last + timedelta(days=7)
    else:
        first = parse_month(month) if month is not None else tx.today.replace(day=1)
        end = _next_month(first)
        label = f"{first.year:04d}-{first.month:02d}"
    return Period(
        first=first,
        end=end,
        label=label,
        starts_at=midnight(tx, first),
        ends_at=midnight(tx, end),
    )


def midnight(tx: Tx, day: date) -> datetime:
    """The UTC instant of ``day``'s midnight in the school zone."""
    return to_utc(datetime.combine(day, time()), tx.settings.zone)

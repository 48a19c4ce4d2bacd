"""``report occupancy``: per teacher and week, open minutes (availability) against booked
(booked + done) and held minutes. Only the days of each week inside the period count, on
both sides."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, select, union_all

from tutorctl.core.availability import DAY_COLUMNS, OPEN
from tutorctl.core.calendar import format_week
from tutorctl.core.status import LessonStatus
from tutorctl.core.views import OccupancyReport, OccupancyRow
from tutorctl.db.tables import calendar_weeks as W
from tutorctl.db.tables import reservations as R
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.reports.grouping import name_of, total
from tutorctl.services.reports.period import Period

_KEPT = (LessonStatus.BOOKED, LessonStatus.DONE)


def _open_slots(day: Any) -> Any:
    """The number of open slots of a day's availability string (its ``OPEN`` characters)."""
    return func.length(day) - func.length(func.replace(day, OPEN, ""))


def _open_minutes(span: Period, slot: Any) -> Any:
    """A week row's open minutes on the days inside the period (day i of week w is in the
    period when first ≤ w + i < end)."""
    days = (
        case(
            (
                and_(
                    W.c.week >= span.first - timedelta(days=i),
                    W.c.week <= span.end - timedelta(days=i + 1),
                ),
                _open_slots(W.c[DAY_COLUMNS[i]]),
            ),
            else_=0,
        )
        for i in range(7)
    )
    return sum(days, start=literal(0)) * slot


def occupancy(tx: Tx, span: Period) -> OccupancyReport:
    slot = literal(tx.settings.slot_minutes)
    first_week, last_week = span.weeks()
    minutes = (R.c.end_slot - R.c.start_slot) * slot
    zero = literal(0)
    parts = union_all(
        # a student's own week rows (a booking locks them) have nothing open: left out below
        select(W.c.user_id.label("teacher_id"), W.c.week, _open_minutes(span, slot).label("open"),
               zero.label("booked"), zero.label("held"))
        .where(W.c.week >= first_week, W.c.week <= last_week),
        select(R.c.teacher_id, R.c.week, zero,
               case((R.c.status.in_(_KEPT), minutes), else_=0),
               case((R.c.status == LessonStatus.HELD, minutes), else_=0))
        .where(span.during(R.c.starts_at), R.c.status.in_((LessonStatus.HELD, *_KEPT))),
    ).subquery("parts")  # fmt: skip
    grouped = (
        select(
            parts.c.teacher_id,
            parts.c.week,
            total(parts.c.open).label("open"),
            total(parts.c.booked).label("booked"),
            total(parts.c.held).label("held"),
        )
        .group_by(parts.c.teacher_id, parts.c.week)
        .subquery("grouped")
    )
    query = (
        select(name_of(U.c.handle, U.c.id, grouped.c.teacher_id, "handle"), grouped)
        .where((grouped.c.open + grouped.c.booked + grouped.c.held) > 0)
        .order_by("handle", grouped.c.week)
    )
    rows = [
        OccupancyRow(
            teacher=r.handle,
            teacher_id=int(r.teacher_id),
            week=format_week(r.week),
            week_start=r.week.isoformat(),
            open_minutes=int(r.open),
            booked_minutes=int(r.booked),
            held_minutes=int(r.held),
        )
        for r in tx.run(query)
    ]
    weeks, week = [], first_week
    while week <= last_week:
        weeks.append(format_week(week))
        week += timedelta(days=7)
    return OccupancyReport(period=span.view(tx), weeks=weeks, rows=rows)

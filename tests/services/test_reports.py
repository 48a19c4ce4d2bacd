"""The report services called directly, in one read transaction each, on a small school built
through the CLI helpers: the period rules and a figure of each report, without the CLI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import pytest

from tests.cli.test_reports import _month
from tests.conftest import NOW, Cli, booked, school
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.errors import InputError
from tutorctl.core.views import BalancesReport, HoursReport, OccupancyReport, RevenueReport
from tutorctl.db.uow import Database, Tx
from tutorctl.services import reports

T = TypeVar("T")


def read(cli: Cli, fn: Callable[[Tx], T]) -> T:
    return Database(cli.url, Clock(parse_now(NOW))).read(fn)


def test_periods_are_whole_days_in_the_school_zone(cli: Cli) -> None:
    school(cli)
    month = read(cli, lambda tx: reports.period(tx, None, None, "2026-03"))
    assert (month.first, month.end, month.label) == (date(2026, 3, 1), date(2026, 4, 1), "2026-03")
    assert month.starts_at.isoformat() == "2026-02-28T23:00:00+00:00"  # CET
    assert month.ends_at.isoformat() == "2026-03-31T22:00:00+00:00"  # CEST from the 29th
    default = read(cli, lambda tx: reports.period(tx, None, None, None))
    assert default.label == "2026-11"  # now is in November
    weeks = read(cli, lambda tx: reports.period(tx, "2026-W45", "2026-W46", None))
    assert (weeks.label, weeks.first, weeks.end) == (
        "2026-W45..2026-W46", date(2026, 11, 2), date(2026, 11, 16))  # fmt: skip
    assert weeks.months() == [("2026-11", date(2026, 12, 1))]
    assert weeks.weeks() == (date(2026, 11, 2), date(2026, 11, 9))
    bad: list[tuple[str | None, str | None, str | None]] = [
        ("this", None, "2026-11"), (None, "this", None), ("+1", "this", None),
        (None, None, "2026-13")]  # fmt: skip
    for options in bad:

        def span(tx: Tx, given: tuple[str | None, ...] = options) -> reports.Period:
            return reports.period(tx, *given)

        with pytest.raises(InputError):
            read(cli, span)


def test_reports_of_a_month_in_one_transaction(cli: Cli) -> None:
    _month(cli)

    def everything(tx: Tx) -> tuple[RevenueReport, HoursReport, BalancesReport, OccupancyReport]:
        span = reports.period(tx, None, None, "2026-11")
        return (
            reports.revenue(tx, span, "teacher"),
            reports.hours(tx, span, "student"),
            reports.balances(tx),
            reports.occupancy(tx, span),
        )

    revenue, hours, balances, occupancy = read(cli, everything)
    assert [(r.name, r.taken_cents, r.refunded_cents) for r in revenue.rows] == [
        ("alice", 20000, 12000), ("bruno", 12000, 0), (reports.ACCOUNT_ROW, 14000, 0)]  # fmt: skip
    assert revenue.total.net_cents == 46000 - 3000
    by_student = {r.name: r for r in hours.rows}
    assert by_student["bob"].late_cancelled_minutes == 60
    assert by_student["bob"].moved_minutes == 120 and by_student["carl"].done_minutes == 60
    owed = {r.student: (r.owed_minutes, r.owed_cents) for r in balances.rows}
    assert owed["carl"] == (60, 4000)  # 1 h of the package still owed
    assert {r.teacher for r in occupancy.rows} == {"alice", "bruno"}


def test_bad_grouping_is_refused_before_any_query(cli: Cli) -> None:
    school(cli)
    booked(cli)
    with pytest.raises(InputError, match="--by"):
        read(cli, lambda tx: reports.revenue(tx, reports.period(tx, None, None, None), "student"))
    with pytest.raises(InputError, match="--by"):
        read(cli, lambda tx: reports.hours(tx, reports.period(tx, None, None, None), "month"))

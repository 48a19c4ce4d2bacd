"""The reports: compact tables titled above, figures right-aligned, a total row."""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_amount
from tutorctl.core.views import (
    BalancesReport,
    HoursReport,
    OccupancyReport,
    ReportPeriod,
    RevenueReport,
)
from tutorctl.render.base import hours, minute, render

ACCOUNT_ROW = "(account)"  # = tutorctl.services.reports.ACCOUNT_ROW (not imported: SQLAlchemy)


def _period(title: str, period: ReportPeriod) -> str:
    return f"{title} · {period.label} ({period.first_date} → {period.last_date})"


def _money(cents: int) -> str:
    return format_amount(cents, "").strip() if cents else "·"


def _h(minutes: int) -> str:
    return hours(minutes) if minutes else "·"


def _titled(table: Table, *notes: RenderableType) -> RenderableType:
    return Group(Text(str(table.caption), style="bold"), _uncaptioned(table), *notes)


def _uncaptioned(table: Table) -> Table:
    table.caption = None
    return table


def _report_table(title: str, columns: list[str], first: int = 1) -> Table:
    """A report's table, compact enough for 80 columns: the first ``first`` columns name the
    row, the rest are figures (right-aligned; a header may wrap, a figure is never cut)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.caption = title  # printed above it by _titled (a table's title wraps to its width)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < first else "right", overflow="fold")
    return table


@render.register
def _(view: RevenueReport) -> RenderableType:
    by = f" by {view.by}" if view.by else ""
    table = _report_table(
        _period(f"revenue{by}", view.period) + f" · {view.currency}",
        [view.by or "", "payments", "packages", "credits", "taken", "refunded", "paid out", "net"],
    )
    shown = [r for r in view.rows if r.name != ACCOUNT_ROW or any(_revenue_figures(r))]
    for r in [*shown, view.total]:
        if r is view.total and shown:
            table.add_section()
        table.add_row(
            r.name,
            *(
                _money(c)
                for c in (
                    r.payments_cents,
                    r.package_payments_cents,
                    r.credits_cents,
                    r.taken_cents,
                    r.refunded_cents,
                    r.paid_out_cents,
                    r.net_cents,
                )
            ),
            style="bold" if r is view.total else None,
        )
    note = Text(
        "taken = payments + packages + credits; net = taken − paid out; refunds went back to "
        "balances (see report balances)"
        + (
            f"; {ACCOUNT_ROW}: money of no lesson (credits, debits, surpluses)"
            if view.by in ("teacher", "category")
            else ""
        )
    )
    return _titled(table, note)


@render.register
def _(view: HoursReport) -> RenderableType:
    table = _report_table(
        _period(f"lesson hours by {view.by}", view.period),
        [view.by, "lessons", "booked", "done", "cancelled", "late cancelled", "moved", "payable"],
    )
    for r in [*view.rows, view.total]:
        if r is view.total and view.rows:
            table.add_section()
        table.add_row(
            r.name,
            str(r.lessons),
            *(
                _h(m)
                for m in (
                    r.booked_minutes,
                    r.done_minutes,
                    r.cancelled_minutes,
                    r.late_cancelled_minutes,
                    r.moved_minutes,
                    r.payable_minutes,
                )
            ),
            style="bold" if r is view.total else None,
        )
    return _titled(
        table,
        Text(
            "by the date of the lesson; lessons = booked + done; payable = done + late-cancelled; "
            "moved = the old place of a moved lesson"
        ),
    )


@render.register
def _(view: BalancesReport) -> RenderableType:
    table = _report_table(
        f"balances · {minute(view.as_of)} · {view.currency}",
        ["student", "name", "balance", "reserved", "available", "owed hours", "owed"],
        first=2,
    )
    for r in [*view.rows, view.total]:
        if r is view.total and view.rows:
            table.add_section()
        table.add_row(
            r.student,
            r.name,
            _money(r.balance_cents),
            _money(r.reserved_cents),
            _money(r.available_cents),
            _h(r.owed_minutes),
            _money(r.owed_cents),
            style="bold" if r is view.total else None,
        )
    if not view.rows:
        return Text("no student has money on the account, reserved money or hours owed")
    return _titled(
        table,
        Text(
            "balance: the school owes it to the student (to spend or pay back); reserved: held "
            "by a payment in progress; owed: package hours sold on credit, not paid yet"
        ),
    )


def _revenue_figures(r: Any) -> tuple[int, ...]:
    return (r.taken_cents, r.refunded_cents, r.paid_out_cents)


def _occupied(open_minutes: int, booked: int, held: int) -> str:
    """``12/40 30%`` (booked/open hours, booked share of open), ``+2 held`` below."""
    if not (open_minutes or booked or held):
        return ""
    cell = f"{booked / 60:g}/{open_minutes / 60:g}"
    if open_minutes:
        cell += f" {round(100 * booked / open_minutes)}%"
    if held:
        cell += f"\n+{held / 60:g} held"
    return cell


@render.register
def _(view: OccupancyReport) -> RenderableType:
    table = _report_table(_period("occupancy", view.period), ["teacher", *view.weeks, "total"])
    cells: dict[str, dict[str, tuple[int, int, int]]] = {}
    for r in view.rows:
        cells.setdefault(r.teacher, {})[r.week] = (r.open_minutes, r.booked_minutes, r.held_minutes)
    for teacher, weeks in cells.items():
        total = tuple(sum(v[i] for v in weeks.values()) for i in range(3))
        table.add_row(
            teacher,
            *(_occupied(*weeks.get(w, (0, 0, 0))) for w in view.weeks),
            _occupied(*total),
            style=None,
        )
    if not cells:
        return _titled(table, Text("no open or booked hours in this period"))
    return _titled(
        table,
        Text(
            "cells: booked / open hours, booked share of open; booked = booked + done "
            "lessons; held = chosen in a session, not paid yet; only the days inside the "
            "period count"
        ),
    )

"""``--format csv`` of the reports: one header row, then one row per line of the report (and
its total). Money columns are decimal amounts in the school currency with a point and two
decimals (``1234.50``), named as in JSON without ``_cents``; minutes stay integer ``*_minutes``;
ids are integers (empty when a row has none). Text a person typed (names, handles) that starts
like a spreadsheet formula is written with a leading apostrophe."""

from __future__ import annotations

import csv
import dataclasses
import io
from typing import Any

from tutorctl.core.views import BalancesReport, HoursReport, OccupancyReport, RevenueReport


def _amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """A name as a spreadsheet shows it, never runs it: a cell typed by a person that starts
    like a formula (``=HYPERLINK(…)``) gets a leading apostrophe, as spreadsheets advise."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _rows(view: Any) -> list[Any]:
    if isinstance(view, RevenueReport):
        return [*view.rows, view.total]
    if isinstance(view, HoursReport | BalancesReport):
        return [*view.rows, view.total]
    if isinstance(view, OccupancyReport):
        return list(view.rows)
    raise TypeError(f"no CSV form for {type(view).__name__}")


def _columns(view: Any) -> list[str]:
    row_type = {
        RevenueReport: "RevenueRow",
        HoursReport: "HoursRow",
        BalancesReport: "BalanceRow",
        OccupancyReport: "OccupancyRow",
    }[type(view)]
    from tutorctl.core import views

    return [f.name for f in dataclasses.fields(getattr(views, row_type))]


def to_csv(view: Any) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = _columns(view)
    writer.writerow(name.removesuffix("_cents") for name in names)
    for row in _rows(view):
        values = []
        for name in names:
            value = getattr(row, name)
            if name.endswith("_cents"):
                value = _amount(value)
            elif isinstance(value, str):
                value = _text(value)
            values.append("" if value is None else value)
        writer.writerow(values)
    return out.getvalue()

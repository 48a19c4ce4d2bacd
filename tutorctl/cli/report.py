"""tutorctl report revenue | hours | balances | occupancy

Every report shares one set of options, written after its own (``--by``), in the order
``--help`` lists them: the period (``--from``/``--to``/``--month``, except ``balances``, which
is as of now) and the output (``--format table|csv``, ``--json``). Each command hands the
function that builds its view to ``_show`` (``_show_period`` works out the period first).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tutorctl.cli.state import Json, emit, read

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx
    from tutorctl.services.reports import Period

reports = typer.Typer(
    help="Reports for the office: revenue, hours, balances, occupancy.", no_args_is_help=True
)

From = Annotated[
    str | None,
    typer.Option("--from", help="First week of the period (2026-W45, a date, this, -4, …)."),
]
To = Annotated[
    str | None, typer.Option("--to", help="Last week of the period (default: this week).")
]
Month = Annotated[
    str | None, typer.Option("--month", help="A calendar month, YYYY-MM (default: this month).")
]
Format = Annotated[
    str,
    typer.Option(
        "--format",
        help="table (rich, default) or csv (a header row, money as decimals, for a spreadsheet).",
        metavar="<table|csv>",
    ),
]


def _show(build: Callable[[Tx], Any], as_json: bool, fmt: str) -> None:
    from tutorctl.core.errors import InputError

    if fmt not in ("table", "csv"):
        raise InputError(f"bad --format {fmt!r}: use table or csv")
    if fmt == "csv" and as_json:
        raise InputError("give --json or --format csv, not both")
    view = read(build)
    if fmt == "csv":
        import sys

        from tutorctl.render.csvout import to_csv

        sys.stdout.write(to_csv(view))
        return
    emit(view, as_json)


def _show_period(
    build: Callable[[Tx, Period], Any],
    first: str | None,
    last: str | None,
    month: str | None,
    fmt: str,
    as_json: bool,
) -> None:
    """``_show`` a report of the period the options give."""

    def view(tx: Tx) -> Any:
        from tutorctl.services.reports import period

        return build(tx, period(tx, first, last, month))

    _show(view, as_json, fmt)


@reports.command("revenue")
def revenue(
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="teacher, category or month (default: totals).",
            metavar="<teacher|category|month>",
        ),
    ] = None,
    from_: From = None,
    to: To = None,
    month: Month = None,
    fmt: Format = "table",
    json: Json = False,
) -> None:
    """Money taken (payments, package payments, credits), refunded and paid out."""
    from tutorctl.services import reports as svc

    _show_period(lambda tx, span: svc.revenue(tx, span, by), from_, to, month, fmt, json)


@reports.command("hours")
def hours(
    by: Annotated[
        str,
        typer.Option(
            "--by", help="teacher, student or category.", metavar="<teacher|student|category>"
        ),
    ] = "teacher",
    from_: From = None,
    to: To = None,
    month: Month = None,
    fmt: Format = "table",
    json: Json = False,
) -> None:
    """Lesson hours booked, done, cancelled and late-cancelled (by the date of the lesson)."""
    from tutorctl.services import reports as svc

    _show_period(lambda tx, span: svc.hours(tx, span, by), from_, to, month, fmt, json)


@reports.command("balances")
def balances(fmt: Format = "table", json: Json = False) -> None:
    """Every student with money on the account, reserved money or package hours owed (now)."""
    from tutorctl.services import reports as svc

    _show(svc.balances, json, fmt)


@reports.command("occupancy")
def occupancy(
    from_: From = None,
    to: To = None,
    month: Month = None,
    fmt: Format = "table",
    json: Json = False,
) -> None:
    """Per teacher and week: open hours against booked hours."""
    from tutorctl.services import reports as svc

    _show_period(svc.occupancy, from_, to, month, fmt, json)

"""tutorctl report revenue | hours | balances | occupancy

Every report shares one set of options: the period (``--from``/``--to``/``--month``, except
``balances``, which is as of now) and the output (``--format table|csv``, ``--json``). A report
is declared once, as the function that builds its view from a transaction and the period, with
its own options (``--by``) as parameters; ``_report`` adds the shared options to the command.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, get_type_hints

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


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


PERIOD_OPTIONS = (
    _option("from_", From, None),
    _option("to", To, None),
    _option("month", Month, None),
)
OUTPUT_OPTIONS = (_option("fmt", Format, "table"), _option("json", Json, False))


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


def _report(name: str, *, period: bool = True) -> Callable[[Callable[..., Any]], Any]:
    """Register ``build(tx, [span,] **own options)`` as ``report NAME`` with the shared
    options after its own (the order ``--help`` lists them in)."""

    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        hints = get_type_hints(build, localns={"Tx": Any, "Period": Any}, include_extras=True)
        inner = ("tx", "span") if period else ("tx",)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
            for p in inspect.signature(build).parameters.values()
            if p.name not in inner
        ]
        shared = (*PERIOD_OPTIONS, *OUTPUT_OPTIONS) if period else OUTPUT_OPTIONS

        def command(**options: Any) -> None:
            fmt, as_json = options.pop("fmt"), options.pop("json")
            first, last, month = (options.pop(o, None) for o in ("from_", "to", "month"))

            def view(tx: Tx) -> Any:
                if not period:
                    return build(tx, **options)
                from tutorctl.services.reports import period as span_of

                return build(tx, span_of(tx, first, last, month), **options)

            _show(view, as_json, fmt)

        command.__name__, command.__doc__ = build.__name__, build.__doc__
        setattr(command, "__signature__", inspect.Signature([*own, *shared]))  # noqa: B010
        reports.command(name)(command)
        return build

    return register


@_report("revenue")
def revenue(
    tx: Tx,
    span: Period,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="teacher, category or month (default: totals).",
            metavar="<teacher|category|month>",
        ),
    ] = None,
) -> Any:
    """Money taken (payments, package payments, credits), refunded and paid out."""
    from tutorctl.services import reports as svc

    return svc.revenue(tx, span, by)


@_report("hours")
def hours(
    tx: Tx,
    span: Period,
    by: Annotated[
        str,
        typer.Option(
            "--by", help="teacher, student or category.", metavar="<teacher|student|category>"
        ),
    ] = "teacher",
) -> Any:
    """Lesson hours booked, done, cancelled and late-cancelled (by the date of the lesson)."""
    from tutorctl.services import reports as svc

    return svc.hours(tx, span, by)


@_report("balances", period=False)
def balances(tx: Tx) -> Any:
    """Every student with money on the account, reserved money or package hours owed (now)."""
    from tutorctl.services import reports as svc

    return svc.balances(tx)


@_report("occupancy")
def occupancy(tx: Tx, span: Period) -> Any:
    """Per teacher and week: open hours against booked hours."""
    from tutorctl.services import reports as svc

    return svc.occupancy(tx, span)

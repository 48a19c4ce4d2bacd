"""tutorctl schedule show | set | copy"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tutorctl.cli import complete
from tutorctl.cli.state import Json, emit, read, write
from tutorctl.core.calendar import parse_days, parse_week, parse_week_range

if TYPE_CHECKING:  # not at run time: `tutorctl --help` must not import SQLAlchemy
    from tutorctl.core.views import ScheduleChangeView, TeacherOffView
    from tutorctl.db.uow import Tx

app = typer.Typer(help="Teachers' weekly availability and week grids.", no_args_is_help=True)

UserArg = Annotated[
    str, typer.Argument(help="Handle or numeric id.", autocompletion=complete.people)
]
TeacherArg = Annotated[
    str, typer.Argument(help="Teacher handle or id.", autocompletion=complete.teachers)
]
WEEK_HELP = "2026-W48, a date, this, next, last, +N, -N."


@app.command("show")
def show(
    user: UserArg,
    week: Annotated[str, typer.Option(help=WEEK_HELP, autocompletion=complete.weeks)] = "this",
    with_: Annotated[
        str | None,
        typer.Option(
            "--with",
            help="Overlay this teacher's availability and lessons.",
            autocompletion=complete.teachers,
        ),
    ] = None,
    json: Json = False,
) -> None:
    """Show a person's week as a grid (JSON: week, user, stamp, days, lessons)."""
    from tutorctl.services import schedule

    emit(read(lambda tx: schedule.show_schedule(tx, user, parse_week(week, tx.today), with_)), json)


@app.command("set")
def set_(
    user: UserArg,
    week: Annotated[
        str,
        typer.Option(help=f"A week or a range W..W2: {WEEK_HELP}", autocompletion=complete.weeks),
    ],
    days: Annotated[
        str, typer.Option(help="mon-fri, mon,wed,fri, sat, 1-5.", autocompletion=complete.days)
    ],
    hours: Annotated[str, typer.Option(help="HH:MM-HH:MM on the slot grid, e.g. 09:00-18:00.")],
    open_: Annotated[
        bool | None, typer.Option("--open/--close", help="Open or close those slots.")
    ] = None,
    if_stamp: Annotated[
        int | None, typer.Option(help="Refuse if the week's stamp is no longer this one.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Close slots even under lessons (they stay).")
    ] = False,
    json: Json = False,
) -> None:
    """Open or close a rectangle of days × hours in one week or a range, atomically."""
    from tutorctl.core.errors import InputError
    from tutorctl.services import schedule

    if open_ is None:
        raise InputError("say --open or --close")
    day_list = parse_days(days)

    def run(tx: Tx) -> ScheduleChangeView:
        start, end = tx.settings.grid.parse_range(hours)
        weeks = parse_week_range(week, tx.today)
        return schedule.set_availability(
            tx, user, weeks, day_list, start, end, open_=open_, if_stamp=if_stamp, force=force
        )

    emit(write("schedule set", run), json)


@app.command("copy")
def copy(
    user: UserArg,
    from_: Annotated[
        str,
        typer.Option(
            "--from", help=f"The template week: {WEEK_HELP}", autocompletion=complete.weeks
        ),
    ],
    to: Annotated[
        str, typer.Option(help="A week or a range W1..W2.", autocompletion=complete.weeks)
    ],
    force: Annotated[
        bool, typer.Option(help="Close slots even under lessons (they stay).")
    ] = False,
    json: Json = False,
) -> None:
    """Copy a week's availability onto other weeks."""
    from tutorctl.services import schedule

    emit(
        write(
            "schedule copy",
            lambda tx: schedule.copy_availability(
                tx, user, parse_week(from_, tx.today), parse_week_range(to, tx.today), force=force
            ),
        ),
        json,
    )


@app.command("off")
def off(
    teacher: TeacherArg,
    date: Annotated[
        str,
        typer.Option("--date", help='The day: YYYY-MM-DD, or a whole date such as "Nov 25 2026".'),
    ],
    reason: Annotated[str, typer.Option(help="Why (kept in history and on each cancellation).")],
    hours: Annotated[
        str | None, typer.Option(help="HH:MM-HH:MM on the slot grid (default: the whole day).")
    ] = None,
    json: Json = False,
) -> None:
    """The teacher cannot come: close those slots and cancel every lesson there with a full
    refund (notice waived), in one transaction; prints who was cancelled and refunded."""
    from tutorctl.core.calendar import parse_date
    from tutorctl.core.limits import check_text
    from tutorctl.services import absence

    day = parse_date(date, "--date")
    why = check_text(reason, "--reason")

    def run(tx: Tx) -> TeacherOffView:
        start, end = tx.settings.grid.parse_range(hours) if hours else (None, None)
        return absence.teacher_off(tx, teacher, day, start, end, why)

    emit(write("schedule off", run), json)

"""tutorctl reserve | cancel | move, tutorctl history"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tutorctl.cli import complete
from tutorctl.cli.state import Json, emit, id_argument, id_option, read, write
from tutorctl.core.calendar import parse_date, parse_day, parse_week

if TYPE_CHECKING:  # the CLI starts without SQLAlchemy: only commands that run import it
    from tutorctl.core.views import BookingResultView, HistoryView
    from tutorctl.db.uow import Tx

SessionOpt = Annotated[
    int | None,
    id_option(
        "--session",
        help="Use this open session (default: the student's open one).",
        autocompletion=complete.open_sessions,
    ),
]
KeyOpt = Annotated[
    str | None,
    typer.Option(
        "--idempotency-key", help="A retried call with the same key returns the first result."
    ),
]
WeekOpt = Annotated[
    str,
    typer.Option(help="2026-W48, a date, this, next, last, +N, -N.", autocompletion=complete.weeks),
]
DayOpt = Annotated[str, typer.Option(help="mon..sun or 1..7.", autocompletion=complete.days)]
TimeOpt = Annotated[str, typer.Option(help="HH:MM-HH:MM on the slot grid.")]
TeacherOpt = Annotated[
    str, typer.Option(help="Teacher handle or id.", autocompletion=complete.teachers)
]
StudentOpt = Annotated[
    str, typer.Option(help="Student handle or id.", autocompletion=complete.students)
]
CategoryOpt = Annotated[
    str, typer.Option(help="Category name or id.", autocompletion=complete.categories)
]


def reserve(
    teacher: TeacherOpt,
    student: StudentOpt,
    category: CategoryOpt,
    week: WeekOpt,
    day: DayOpt,
    time: TimeOpt,
    repeat: Annotated[
        int, typer.Option(help="Same weekday and time for N consecutive weeks (all or nothing).")
    ] = 1,
    session: SessionOpt = None,
    idempotency_key: KeyOpt = None,
    json: Json = False,
) -> None:
    """Hold a lesson in the student's open booking session."""
    from tutorctl.services import booking

    day_index = parse_day(day)

    def run(tx: Tx) -> BookingResultView:
        start, end = tx.settings.grid.parse_range(time)
        return booking.reserve(
            tx,
            teacher,
            student,
            category,
            parse_week(week, tx.today),
            day_index,
            start,
            end,
            repeat=repeat,
            session_id=session,
            key=idempotency_key,
        )

    emit(write("reserve", run), json)


WaiveOpt = Annotated[
    bool,
    typer.Option(
        "--waive-notice",
        help="Staff waive the cancellation notice (e.g. the teacher is ill): a late cancel is "
        "refunded in full, a late move is allowed. Recorded in history with the actor.",
    ),
]


def cancel(
    reservation: Annotated[
        int, id_argument("RESERVATION", "The booked lesson's id.", complete.booked_lessons)
    ],
    session: SessionOpt = None,
    idempotency_key: KeyOpt = None,
    waive_notice: WaiveOpt = False,
    json: Json = False,
) -> None:
    """Plan the cancellation of a booked lesson (applied when the session is)."""
    from tutorctl.services import booking

    emit(
        write(
            "cancel",
            lambda tx: booking.cancel(
                tx, reservation, session_id=session, key=idempotency_key, waive_notice=waive_notice
            ),
        ),
        json,
    )


def move(
    reservation: Annotated[
        int, id_argument("RESERVATION", "The booked lesson's id.", complete.booked_lessons)
    ],
    week: WeekOpt,
    day: DayOpt,
    time: TimeOpt,
    session: SessionOpt = None,
    idempotency_key: KeyOpt = None,
    waive_notice: WaiveOpt = False,
    json: Json = False,
) -> None:
    """Plan a move to another week, day, time or length; the new place is held at once."""
    from tutorctl.services import booking

    day_index = parse_day(day)

    def run(tx: Tx) -> BookingResultView:
        start, end = tx.settings.grid.parse_range(time)
        return booking.move(
            tx,
            reservation,
            parse_week(week, tx.today),
            day_index,
            start,
            end,
            session_id=session,
            key=idempotency_key,
            waive_notice=waive_notice,
        )

    emit(write("move", run), json)


def history(
    user: Annotated[
        str | None,
        typer.Option(help="Only entries about this user.", autocompletion=complete.people),
    ] = None,
    session: Annotated[
        int | None,
        id_option(
            "--session", help="Only entries of this session.", autocompletion=complete.live_sessions
        ),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only entries from this date (YYYY-MM-DD) on.")
    ] = None,
    limit: Annotated[
        int, typer.Option(help="At most this many entries (the newest).", min=1, max=100_000)
    ] = 1000,
    before: Annotated[
        int | None,
        id_option("--before", help="Only entries older than this entry id (paging back)."),
    ] = None,
    json: Json = False,
) -> None:
    """The audit trail: every mutation, with its actor (newest last)."""
    from tutorctl.core.calendar import to_utc
    from tutorctl.services import history as svc

    def run(tx: Tx) -> HistoryView:
        from datetime import datetime, time

        start = (
            to_utc(datetime.combine(parse_date(since, "--since"), time()), tx.settings.zone)
            if since
            else None
        )
        return svc.history(tx, user, session, start, limit=limit, before=before)

    emit(read(run), json)

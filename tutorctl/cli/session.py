"""tutorctl session list | show | drop | abandon | resume | pay | confirm | receipt"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tutorctl.cli import complete
from tutorctl.cli.state import Json, emit, id_argument, read, state, write
from tutorctl.core.money import parse_total
from tutorctl.core.status import PaymentMethod

app = typer.Typer(
    help="Booking sessions: list, show, drop an operation, abandon; resume (what to pay), pay,"
    " confirm; receipt.",
    no_args_is_help=True,
)

SessionArg = Annotated[int, id_argument("ID", "Session id.", complete.live_sessions)]


class Simulate(StrEnum):
    """The simulated provider's answer to ``session pay``."""

    success = "success"
    failure = "failure"
    pending = "pending"


ANSWERS = {Simulate.success: True, Simulate.failure: False, Simulate.pending: None}


@app.command("list")
def session_list(
    student: Annotated[
        str | None,
        typer.Option(help="Only this student's sessions.", autocompletion=complete.students),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="open, awaiting_payment, paid, payment_failed, applied, abandoned, expired.",
            metavar="<open|awaiting_payment|paid|payment_failed|applied|abandoned|expired>",
            autocompletion=complete.statuses,
        ),
    ] = None,
    json: Json = False,
) -> None:
    """List booking sessions, newest first."""
    from tutorctl.services import sessions as svc

    emit(read(lambda tx: svc.list_sessions(tx, student, status)), json)


@app.command("show")
def session_show(
    session_id: SessionArg,
    json: Json = False,
) -> None:
    """Show a session and its operations."""
    from tutorctl.services import sessions as svc

    emit(read(lambda tx: svc.show_session(tx, session_id)), json)


@app.command("drop")
def session_drop(
    session_id: Annotated[int, id_argument("SESSION", "Session id.", complete.open_sessions)],
    operation_id: Annotated[int, id_argument("OP", "Operation id (see session show).")],
    json: Json = False,
) -> None:
    """Remove one operation from an open session and release its hold."""
    from tutorctl.services import sessions as svc

    emit(write("session drop", lambda tx: svc.drop(tx, session_id, operation_id)), json)


@app.command("abandon")
def session_abandon(
    session_id: SessionArg,
    json: Json = False,
) -> None:
    """Release everything the session holds; it becomes abandoned."""
    from tutorctl.services import sessions as svc

    emit(write("session abandon", lambda tx: svc.abandon(tx, session_id)), json)


@app.command("resume")
def session_resume(session_id: SessionArg, json: Json = False) -> None:
    """The payment resume: now, cancellations, after, new lessons, to pay."""
    from tutorctl.services import resume

    emit(read(lambda tx: resume.show_resume(tx, session_id)), json)


@app.command("pay")
def session_pay(
    session_id: SessionArg,
    method: Annotated[PaymentMethod, typer.Option(help="card, wechat, cash or transfer.")],
    reference: Annotated[
        str | None, typer.Option(help="The provider's or the desk's reference.")
    ] = None,
    simulate: Annotated[
        Simulate,
        typer.Option(help="The provider's answer: success, failure, or pending (no answer yet)."),
    ] = Simulate.success,
    expect_total: Annotated[
        str | None,
        typer.Option(
            help="Refuse unless the resume asks exactly this (as its next: line prints it, "
            "e.g. 1440.00: no thousands separators).",
            metavar="AMOUNT",
        ),
    ] = None,
    json: Json = False,
) -> None:
    """Take the payment the resume asks for; success applies the session at once."""
    from tutorctl.core.limits import check_text
    from tutorctl.services import settlement
    from tutorctl.services.providers import SimulatedProvider

    reference = check_text(reference, "--reference") if reference is not None else None
    expected = parse_total(expect_total) if expect_total else None
    result = settlement.pay(
        state().database(),
        session_id,
        method,
        SimulatedProvider(ANSWERS[simulate]),
        reference=reference,
        expect_total=expected,
    )
    emit(result, json)


@app.command("confirm")
def session_confirm(
    session_id: SessionArg,
    cancels: Annotated[
        bool,
        typer.Option("--cancels/--no-cancels", help="After a failed payment: apply the cancels."),
    ] = False,
    moves: Annotated[
        bool, typer.Option("--moves/--no-moves", help="After a failed payment: apply the moves.")
    ] = False,
    json: Json = False,
) -> None:
    """Apply a session with nothing to pay, close a paid one, or settle a failed payment."""
    from tutorctl.services import settlement

    emit(
        write(
            "session confirm",
            lambda tx: settlement.confirm(tx, session_id, cancels=cancels, moves=moves),
        ),
        json,
    )


@app.command("receipt")
def session_receipt(
    session_id: Annotated[int, id_argument("SESSION", "Session id.")],
    json: Json = False,
) -> None:
    """The receipt of an applied session: its lessons and the money, as it was sent."""
    from tutorctl.services.notify import notices

    emit(read(lambda tx: notices.receipt(tx, session_id)), json)

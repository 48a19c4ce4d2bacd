"""The root command: global options, sub-commands, and the one place errors are caught."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any

import typer

from tutorctl.cli import booking, db_cmd, money, report, schedule, transfer, users
from tutorctl.cli.state import ENV_LOCK_TIMEOUT, configure
from tutorctl.core.config import ENV_ACTOR, ENV_DB, ENV_NOW
from tutorctl.core.errors import TutorError

app = typer.Typer(
    name="tutorctl",
    help="The booking back office of a tutoring school.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar=ENV_DB,
            show_envvar=True,
            help="Database URL (sqlite:///PATH or postgresql://…); default "
            "$XDG_DATA_HOME/tutorctl/tutorctl.db.",
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option(
            "--now",
            envvar=ENV_NOW,
            show_envvar=True,
            help="Fix 'now' (ISO 8601), for tests and replays.",
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            "--actor",
            envvar=ENV_ACTOR,
            show_envvar=True,
            help="Who is acting (history); default: OS user.",
        ),
    ] = None,
    lock_timeout: Annotated[
        str | None,
        typer.Option(
            "--lock-timeout",
            envvar=ENV_LOCK_TIMEOUT,
            show_envvar=True,
            metavar="SECONDS",
            help="How long one attempt waits for a lock before the command retries; "
            "when retries run out (after about twice this) it exits 5. Default 10.",
        ),
    ] = None,
) -> None:
    configure(db, now, actor, lock_timeout)


app.add_typer(db_cmd.app, name="db")
app.add_typer(users.users, name="user")
app.add_typer(users.categories, name="category")
app.add_typer(schedule.app, name="schedule")
app.command("reserve")(booking.reserve)
app.command("cancel")(booking.cancel)
app.command("move")(booking.move)
app.add_typer(booking.sessions, name="session")
app.command("history")(booking.history)
app.add_typer(money.accounts, name="account")
app.add_typer(money.purchases, name="purchase")
app.command("check")(money.check)
app.command("expire")(money.expire)
app.command("import")(transfer.import_)
app.add_typer(transfer.exports, name="export")
app.add_typer(report.reports, name="report")


@app.command("demo")
def demo() -> None:
    """Create (or refresh) a small demo school and show a teacher's week."""
    from tutorctl.cli.state import emit, state
    from tutorctl.services import demo as demo_school

    view = demo_school.build(state().database())
    emit(view, False)
    print(f"demo school ready in {state().masked_url}")
    print(
        "try: tutorctl schedule show emma --with alice · tutorctl session list · tutorctl account show david"
    )


@cache
def _command() -> Any:
    """The click command, built once per process (~30 ms): scripts and tests call main() often."""
    return typer.main.get_command(app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run tutorctl; return the exit code. Errors become one ``error: …`` line on stderr."""
    command = _command()
    try:
        result = command.main(args=argv, prog_name="tutorctl", standalone_mode=False)
    except TutorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        message = " ".join(exc.format_message().split())
        print(f"error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    return result if isinstance(result, int) else 0

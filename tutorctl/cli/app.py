"""The root command: global options, sub-commands, and the one place errors are caught."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Annotated, Any

import typer

from tutorctl.cli import (
    booking,
    db_cmd,
    lessons,
    maintenance,
    money,
    notify,
    report,
    schedule,
    transfer,
    users,
)
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


def _global(name: str, envvar: str, help: str, **more: Any) -> Any:
    """A root option that the environment can also set (shown in --help)."""
    return typer.Option(name, envvar=envvar, show_envvar=True, help=help, **more)


@app.callback()
def root(
    db: Annotated[
        str | None,
        _global(
            "--db",
            ENV_DB,
            "Database URL (sqlite:///PATH or postgresql://…); default "
            "$XDG_DATA_HOME/tutorctl/tutorctl.db.",
        ),
    ] = None,
    now: Annotated[
        str | None, _global("--now", ENV_NOW, "Fix 'now' (ISO 8601), for tests and replays.")
    ] = None,
    actor: Annotated[
        str | None, _global("--actor", ENV_ACTOR, "Who is acting (history); default: OS user.")
    ] = None,
    lock_timeout: Annotated[
        str | None,
        _global(
            "--lock-timeout",
            ENV_LOCK_TIMEOUT,
            "How long one attempt waits for a lock before the command retries; "
            "when retries run out (after about twice this) it exits 5. Default 10.",
            metavar="SECONDS",
        ),
    ] = None,
) -> None:
    configure(db, now, actor, lock_timeout)


# Sub-command groups (a Typer) and commands (a function), in the order --help lists them.
COMMANDS: list[tuple[str, typer.Typer | Callable[..., Any]]] = [
    ("db", db_cmd.app),
    ("user", users.users),
    ("category", users.categories),
    ("schedule", schedule.app),
    ("lesson", lessons.app),
    ("reserve", booking.reserve),
    ("cancel", booking.cancel),
    ("move", booking.move),
    ("session", booking.sessions),
    ("history", booking.history),
    ("account", money.accounts),
    ("purchase", money.purchases),
    ("check", maintenance.check),
    ("expire", maintenance.expire),
    ("import", transfer.import_),
    ("export", transfer.exports),
    ("report", report.reports),
    ("notify", notify.app),
]
booking.sessions.command("receipt")(notify.session_receipt)
for _name, _command_or_group in COMMANDS:
    if isinstance(_command_or_group, typer.Typer):
        app.add_typer(_command_or_group, name=_name)
    else:
        app.command(_name)(_command_or_group)


@app.command("demo")
def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Build a new demo in its own file, $XDG_DATA_HOME/tutorctl/demo.db (a previous "
            "demo there is replaced), whatever TUTORCTL_DB says.",
        ),
    ] = False,
) -> None:
    """Build (or refresh) a small demo school and show a teacher's week. Refuses a database
    that holds anything but a previous demo: use --fresh, or --db with a new file."""
    from tutorctl.cli.state import emit, state
    from tutorctl.core.config import default_db_path
    from tutorctl.services import demo as demo_school

    own = default_db_path().parent / "demo.db"
    prefix = "tutorctl"
    if fresh:
        source = ctx.find_root().get_parameter_source("db")
        if source is not None and source.name == "COMMANDLINE":
            from tutorctl.core.errors import InputError

            raise InputError(f"give --db or --fresh, not both (--fresh uses {own})")
        configured = state()
        configure_fresh = (
            f"sqlite:///{own}",
            configured.now_text,
            configured.actor,
            str(configured.lock_timeout),
        )
        configure(*configure_fresh)
        if own.exists():
            demo_school.refuse_unless_demo(state().database(), str(own))
            from tutorctl.db.engine import dispose_engines

            dispose_engines()
            for path in (own, own.with_name(own.name + "-wal"), own.with_name(own.name + "-shm")):
                path.unlink(missing_ok=True)
        prefix = f"tutorctl --db {own}"
    view = demo_school.build(state().database(), str(own))
    emit(view, False)
    print(f"demo school ready in {state().masked_url}")
    print(f"try: {prefix} schedule show emma --with alice · session list · account show david")


@app.command("shell")
def shell(ctx: typer.Context) -> None:
    """A prompt in one warm process: each line runs as `tutorctl LINE` would (same output,
    exit code, one transaction), in milliseconds. TAB completes; history in
    $XDG_DATA_HOME/tutorctl/shell_history; exit or Ctrl-D leaves. Root options given before
    `shell` apply to every line; a line may give its own."""
    from tutorctl.cli import shell as prompt

    code = prompt.run(ctx)
    if code:
        raise typer.Exit(code)


@cache
def _command() -> Any:
    """The click command, built once per process: building it is costly, and scripts and
    tests call main() often."""
    return typer.main.get_command(app)


class _RawValue:
    """Typer's coercion stand-in while completing: the raw string as typed."""

    def coerce(self, value: Any, *, param: Any = None, ctx: Any = None) -> Any:
        return value


def _light_completion() -> None:
    """Shell completion is one process per TAB and only reads the words typed: skip Typer's
    value coercion, whose pydantic adapters cost more than all the rest of a completion
    (~0.1-0.2 s). Only done in a process started to complete (``_TUTORCTL_COMPLETE`` set),
    which exits once it has answered; ``tutorctl shell`` completes with the real coercion."""
    import typer.core

    if hasattr(typer.core, "build_runtime_param"):  # Typer 0.2x; elsewhere: full coercion
        setattr(typer.core, "build_runtime_param", lambda descriptor: _RawValue())  # noqa: B010


def main(argv: Sequence[str] | None = None) -> int:
    """Run tutorctl; return the exit code. Errors become one ``error: …`` line on stderr."""
    if argv is None and os.environ.get("_TUTORCTL_COMPLETE"):
        _light_completion()
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

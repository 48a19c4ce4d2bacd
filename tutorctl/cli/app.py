"""The root command: global options, sub-commands, and the one place errors are caught."""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Annotated, Any, NoReturn

import typer

from tutorctl.cli.flags import refuse_contradicting_flags, refuse_undecodable
from tutorctl.cli.state import ENV_LOCK_TIMEOUT, configure
from tutorctl.core.config import ENV_ACTOR, ENV_DB, ENV_NOW
from tutorctl.core.errors import TutorError


def _global(name: str, envvar: str, help: str, **more: Any) -> Any:
    """A root option that the environment can also set (shown in --help)."""
    return typer.Option(name, envvar=envvar, show_envvar=True, help=help, **more)


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
        str | None,
        _global(
            "--now",
            ENV_NOW,
            "Fix 'now', for tests and replays: an ISO 8601 instant WITH its UTC offset, e.g. "
            "2026-11-24T09:00:00+01:00 or ...Z for UTC (a time without one is refused).",
            metavar="ISO-DATETIME",
        ),
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


# Sub-command groups (a Typer) and commands (a function), in the order --help lists them: the
# attribute of a module of tutorctl.cli that holds the whole group or command, imported only
# when the command tree needs it
COMMANDS: list[tuple[str, str, str]] = [
    ("db", "db_cmd", "app"),
    ("user", "users", "users"),
    ("category", "users", "categories"),
    ("schedule", "schedule", "app"),
    ("lesson", "lessons", "app"),
    ("reserve", "booking", "reserve"),
    ("cancel", "booking", "cancel"),
    ("move", "booking", "move"),
    ("session", "session", "app"),
    ("history", "booking", "history"),
    ("account", "money", "accounts"),
    ("purchase", "money", "purchases"),
    ("check", "maintenance", "check"),
    ("expire", "maintenance", "expire"),
    ("import", "transfer", "import_"),
    ("export", "transfer", "exports"),
    ("report", "report", "reports"),
    ("notify", "notify", "app"),
]


def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Build a new demo in its own file, $XDG_DATA_HOME/tutorctl/demo.db (a previous "
            "demo there is replaced; one used since is refused), whatever TUTORCTL_DB says.",
        ),
    ] = False,
) -> None:
    """Build (or refresh) a small demo school and show a teacher's week. Refuses a database
    that holds anything but the demo's own work (a demo used since is a school): use --fresh,
    or --db with a new file."""
    from tutorctl.cli.state import emit, state
    from tutorctl.services import demo as demo_school

    own = demo_school.own_file()
    prefix = "tutorctl"
    if fresh:
        source = ctx.find_root().get_parameter_source("db")
        if source is not None and source.name == "COMMANDLINE":
            from tutorctl.core.errors import InputError

            raise InputError(f"give --db or --fresh, not both (--fresh uses {own})")
        configured = state()
        configure(
            f"sqlite:///{own}", configured.now_text, configured.actor, str(configured.lock_timeout)
        )
        demo_school.clear_own_file(state().database(), own)
        prefix = f"tutorctl --db {own}"
    emit(demo_school.build(state().database(), str(own)), False)
    print(f"demo school ready in {state().masked_url}")
    print(f"try: {prefix} schedule show emma --with alice · session list · account show david")


def shell(
    ctx: typer.Context,
    stop_on_error: Annotated[
        bool,
        typer.Option(
            "--stop-on-error",
            "-e",
            help="Stop at the first line that fails, with its exit code (as `set -e`): "
            "for scripts piped in.",
        ),
    ] = False,
) -> None:
    """A prompt in one warm process: each line runs as `tutorctl LINE` would (same output,
    exit code, one transaction), in milliseconds. TAB completes; history in
    $XDG_DATA_HOME/tutorctl/shell_history; `# comments` and blank lines are skipped; exit,
    quit or Ctrl-D leaves with the last line's exit code (`exit N`: N). Root options given
    before `shell` apply to every line; a line may give its own."""
    from tutorctl.cli import shell as prompt

    code = prompt.run(ctx, stop_on_error)
    if code:
        raise typer.Exit(code)


_NEGATIVE = re.compile(r"-[0-9][0-9.,]*")


# this module's own commands, after those of COMMANDS
OWN: dict[str, Callable[..., Any]] = {"demo": demo, "shell": shell}
# the root options that take a value (the word after them is not a command)
VALUED = ("--db", "--now", "--actor", "--lock-timeout")


def _tree(only: str | None) -> typer.Typer:
    """The command tree: every command, or the root with the one command ``only``."""
    app = typer.Typer(
        name="tutorctl",
        help="The booking back office of a tutoring school.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(root)
    for name, module, attribute in COMMANDS:
        if only in (None, name):
            found = getattr(importlib.import_module(f"tutorctl.cli.{module}"), attribute)
            if isinstance(found, typer.Typer):
                app.add_typer(found, name=name)
            else:
                app.command(name)(found)
    for name, function in OWN.items():
        if only in (None, name):
            app.command(name)(function)
    return app


@cache
def _command(only: str | None = None) -> Any:
    """The click command, built once per process (scripts, tests and the shell call main()
    often): the whole tree, or the root with one command. Building the whole tree imports
    every command's module and reads every signature, ~50 ms of a command's start-up that
    runs one (SPEC §9); --help and completion, which need them all, build it whole."""
    from tutorctl.cli.comp_line import install_bash

    command = typer.main.get_command(_tree(only))
    install_bash()  # tutorctl's own bash completion, over the one Typer registered
    return command


def _named(argv: Sequence[str]) -> str | None:
    """The command the arguments run, if nothing but root options with values comes before
    it; else None (``--help``, a word that is no command, nothing): the whole tree answers."""
    words = iter(argv)
    names = {entry[0] for entry in COMMANDS} | OWN.keys()
    for word in words:
        if word in VALUED:
            next(words, None)
        elif not word.startswith(VALUED) or "=" not in word:
            return word if word in names else None
    return None


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
    completing = argv is None and bool(os.environ.get("_TUTORCTL_COMPLETE"))
    if completing:
        _light_completion()
    command = _command(None if completing else _named(sys.argv[1:] if argv is None else argv))
    try:
        refuse_undecodable(sys.argv[1:] if argv is None else argv, os.environ)
        refuse_contradicting_flags(command, sys.argv[1:] if argv is None else argv)
        result = command.main(args=argv, prog_name="tutorctl", standalone_mode=False)
    except TutorError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except typer.TyperException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            print(exc.format_message())
            return 0
        message = " ".join(exc.format_message().split())
        name = str(getattr(exc, "option_name", "") or "")
        if type(exc).__name__ == "NoSuchOption" and _NEGATIVE.fullmatch(name):
            # `account credit bob -5`: click reads -5 as an option; it is a negative number
            # (click names only "-5" of "-5.50": the word typed is looked up)
            words = sys.argv[1:] if argv is None else argv
            typed = next((w for w in words if w.startswith(name) and _NEGATIVE.fullmatch(w)), name)
            message = f"bad value {typed!r}: a negative amount or number is not accepted here"
        print(f"error: {message}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 2))
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    return result if isinstance(result, int) else 0


def run() -> NoReturn:
    """The ``tutorctl`` process (its console script and ``python -m tutorctl``): ``main()``,
    then an exit that skips tearing the interpreter down. Finalising it — freeing every
    object of every module imported, one by one — costs ~0.15-0.2 s of CPU after the work is
    done, as much as a whole read command (SPEC §9). Nothing of tutorctl runs at exit: the
    output is flushed and the database connections are closed here first."""
    try:
        code = main()
    except SystemExit as exc:  # completion and --install-completion end with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    if "tutorctl.db.engine" in sys.modules:
        from tutorctl.db.engine import dispose_engines

        try:
            dispose_engines()
        except Exception:  # noqa: BLE001 - a connection already lost: the exit closes it
            pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (``| head``): the output was cut
            code = code or 1
    os._exit(code)

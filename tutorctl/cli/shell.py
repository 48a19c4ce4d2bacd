"""``tutorctl shell``: one warm process that runs each line typed at its prompt exactly as
``tutorctl LINE`` would run it.

Each line is split like a POSIX shell does (``shlex``), and run through the same ``main()`` a
``tutorctl`` process runs: the same parsing, the same one transaction per command, the same
output and exit code (shown as ``[exit N]`` on stderr when it is not 0). The root options the
shell itself was started with (``tutorctl --db X --now T shell``) are put in front of every
line, so a line may give its own (``--db Y user list``: the last one wins, as in a process).
Nothing a line sets outlives it: the root callback rebuilds the command's state from that
line's options alone, and the click context is made afresh per line. What stays warm is what
a process pays once: imports, the click command, the database engine and its prepared
statements.

Lines are read as a POSIX shell reads a script: blank lines and ``# comments`` (whole lines or
the end of one: a ``#`` that begins a word outside quotes) are skipped; ``exit``/``quit`` and
Ctrl-D (end of input) leave with the last line's exit code, ``exit N`` with N; with
``--stop-on-error`` (``set -e``) the first failing line ends the shell with its code.
"""

from __future__ import annotations

import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tutorctl.cli.comp_line import current_word, strip_comment

ROOT_OPTIONS = (
    ("db", "--db"),
    ("now", "--now"),
    ("actor", "--actor"),
    ("lock_timeout", "--lock-timeout"),
)
PROMPT = "tutorctl> "
INTERRUPTED = 130  # a command stopped by Ctrl-C, as a POSIX shell reports it (128 + SIGINT)


def history_path() -> Path:
    """The shell's history, next to the default database: ``$XDG_DATA_HOME/tutorctl/shell_history``."""
    from tutorctl.core.config import default_db_path

    return default_db_path().parent / "shell_history"


def inherited_options(ctx: Any) -> list[str]:
    """The root options given on the command line that started the shell (environment
    variables are read again by each line, as by each process)."""
    root = ctx.find_root()
    args: list[str] = []
    for name, flag in ROOT_OPTIONS:
        source = root.get_parameter_source(name)
        value = root.params.get(name)
        if value is not None and source is not None and source.name == "COMMANDLINE":
            args += [flag, str(value)]
    return args


def words_of(line: str) -> list[str]:
    """The arguments of a line, without its ``# comment``; a leading ``tutorctl`` is allowed
    (lines pasted from docs)."""
    words = shlex.split(strip_comment(line))
    if words[:1] == ["tutorctl"]:
        words = words[1:]
    return words


def run_line(words: list[str], inherited: list[str]) -> int:
    """Run one command as ``tutorctl`` would; never raise (errors never end the shell)."""
    from tutorctl.cli.app import main

    try:
        code = main([*inherited, *words])
    except SystemExit as exc:  # e.g. --install-completion ends with sys.exit
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        code = INTERRUPTED
    except Exception:  # noqa: BLE001 - a bug in one command must not end the shell
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    if code == INTERRUPTED:  # Typer turns a Ctrl-C inside a command into exit 130
        print("\ninterrupted (the command's transaction was rolled back)", file=sys.stderr)
    return code


class _Completer:
    """readline's completer: the same completions as the shells' (click's machinery, the
    functions of ``tutorctl.cli.complete``), for the word under the cursor."""

    def __init__(self, inherited: list[str], readline: Any) -> None:
        self.inherited = inherited
        self.readline = readline
        self.matches: list[str] = []

    def candidates(self, line: str, text: str) -> list[str]:
        """What replaces ``text``, the end of the word under the cursor, for each completion
        of ``line`` (up to the cursor), quoted so that the line splits back into the value."""
        from typer._click.shell_completion import _resolve_context, _resolve_incomplete

        from tutorctl.cli.app import _command

        word = current_word(line)
        words = word.before[1:] if word.before[:1] == ["tutorctl"] else word.before
        args = [*self.inherited, *words]
        ctx = _resolve_context(_command(), {}, "tutorctl", args)
        obj, incomplete = _resolve_incomplete(ctx, args, word.incomplete)
        values = [item.value for item in obj.shell_complete(ctx, incomplete)]
        if not words:
            values += [w for w in ("exit", "quit") if w.startswith(incomplete)]
        replies = [word.reply(v, text) for v in values if v != "shell"]
        found = [reply for reply in replies if reply is not None]
        if len(found) == 1:  # the word is done: close its quote, then a space
            found[0] += (word.quote or "") + " "
        return found

    def __call__(self, text: str, state: int) -> str | None:
        if state == 0:
            line = self.readline.get_line_buffer()[: self.readline.get_endidx()]
            try:
                self.matches = self.candidates(line, text)
            except Exception:  # noqa: BLE001 - completion never breaks the prompt
                self.matches = []
        return self.matches[state] if state < len(self.matches) else None


def _setup_readline(inherited: list[str]) -> Callable[[str], None]:
    """Completion and the history file; returns a function recording a line in the file."""
    try:
        import readline
    except ImportError:  # no readline (some builds): a plain prompt
        return lambda line: None
    path = history_path()
    readline.set_completer_delims(" \t\n")
    readline.set_completer(_Completer(inherited, readline))
    if "libedit" in (readline.__doc__ or ""):
        readline.parse_and_bind("bind ^I rl_complete")
    else:
        readline.parse_and_bind("tab: complete")
    readline.set_history_length(2000)
    try:
        readline.read_history_file(path)
    except OSError:
        pass

    def record(line: str) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.touch(mode=0o600)
            readline.append_history_file(1, path)
        except OSError:
            pass

    return record


def leave_code(words: list[str], last: int) -> int | None:
    """The exit code if the line leaves the shell (``exit``, ``quit``, ``exit N``), else None."""
    if words[:1] not in (["exit"], ["quit"]) or len(words) > 2:
        return None
    if len(words) == 1:
        return last
    code = words[1]
    return int(code) if code.isascii() and code.isdigit() and int(code) <= 255 else None


def run(ctx: Any, stop_on_error: bool = False) -> int:
    """The prompt loop. Returns the last line's exit code (``exit N``: N); with
    ``stop_on_error``, the code of the first line that fails, which ends the loop."""
    inherited = inherited_options(ctx)
    if hasattr(sys.stdin, "reconfigure"):
        # A byte that is not UTF-8 reaches main() as a surrogate, as in argv, and is refused
        # there with the line's other words (exit 2), instead of ending the shell mid-read.
        sys.stdin.reconfigure(errors="surrogateescape")
    interactive = sys.stdin.isatty()
    record = _setup_readline(inherited) if interactive else (lambda line: None)
    if interactive:
        print(
            "tutorctl shell: type commands without `tutorctl` (e.g. `session list`), "
            "TAB completes, `exit` or Ctrl-D leaves.",
            file=sys.stderr,
        )
    last = 0
    while True:
        try:
            line = input(PROMPT if interactive else "")
        except EOFError:
            if interactive:
                print(file=sys.stderr)
            return last
        except KeyboardInterrupt:
            print(file=sys.stderr)
            continue
        if not line.strip():
            continue
        record(line)
        try:
            words = words_of(line)
        except ValueError as exc:
            print(f"error: cannot split the line: {exc}", file=sys.stderr)
            last = 2
        else:
            if not words:
                continue  # a comment: nothing ran, the last code stands
            code = leave_code(words, last)
            if code is not None:
                return code
            last = run_words(words, inherited)
        if last:
            print(f"[exit {last}]", file=sys.stderr)
            if stop_on_error:
                return last


def run_words(words: list[str], inherited: list[str]) -> int:
    """Run a line's words (not one that leaves); its exit code."""
    if words[0] in ("exit", "quit"):
        print("error: usage: exit [N], N from 0 to 255", file=sys.stderr)
        return 2
    if words[0] == "shell":
        print("error: this is the shell already", file=sys.stderr)
        return 2
    return run_line(words, inherited)

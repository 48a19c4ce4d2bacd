"""tutorctl import KIND FILE, tutorctl export reservations"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from tutorctl.cli.state import Json, emit, read, write
from tutorctl.core.calendar import parse_week

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

exports = typer.Typer(help="Export lessons as CSV, JSON Lines or iCalendar.", no_args_is_help=True)


def import_(
    kind: Annotated[
        # a Literal, so that help shows the choices (a metavar would replace the name, not <str>)
        Literal["users", "categories", "availability", "purchases", "credits", "reservations"],
        typer.Argument(help="users, categories, availability, purchases, credits or reservations."),
    ],
    file: Annotated[str, typer.Argument(help="A .csv or .jsonl file, or - for stdin.")],
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help="csv or jsonl (default: by extension).", metavar="<csv|jsonl>"
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Check and count everything, write nothing.")
    ] = False,
    json: Json = False,
) -> None:
    """Bulk import one file: all or nothing, every bad row reported with its line."""
    from tutorctl.core.errors import InputError
    from tutorctl.render.progress import progress_reporter
    from tutorctl.services import imports

    if kind not in imports.KINDS:
        raise InputError(f"bad kind {kind!r}: use one of {', '.join(imports.KINDS)}")
    with tempfile.TemporaryDirectory() as spool:
        if file == "-":
            if not format:
                raise InputError("reading stdin needs --format csv or --format jsonl")
            path = Path(spool) / "stdin"
            binary = getattr(sys.stdin, "buffer", None)  # bytes as sent: decoded (and a bad
            with path.open("wb") as copy:  # byte reported as one error) when read, as a file
                if binary is not None:
                    shutil.copyfileobj(binary, copy)  # streamed to disk: pass 2 reads it again
                else:  # a text stream (tests, embedding)
                    for chunk in iter(lambda: sys.stdin.read(1 << 16), ""):
                        copy.write(chunk.encode("utf-8", "surrogateescape"))
        else:
            path = Path(file)
            if not path.is_file():
                raise InputError(f"no such file {file!r}")
        fmt = imports.detect_format(file, format)
        label = "stdin" if file == "-" else path.name
        with progress_reporter(f"import {kind}") as progress:
            view = write(
                f"import {kind}",
                lambda tx: imports.run_import(
                    tx,
                    kind,
                    label,
                    lambda: imports.read_rows(path, fmt),
                    dry_run=dry_run,
                    progress=progress,
                ),
            )
    emit(view, json)


@exports.command("reservations")
def export_reservations(
    format: Annotated[
        str, typer.Option("--format", help="csv, jsonl or ics.", metavar="<csv|jsonl|ics>")
    ],
    user: Annotated[
        str | None, typer.Option(help="Only lessons of this teacher or student.")
    ] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="First week (2026-W48, a date, this, …).")
    ] = None,
    to: Annotated[str | None, typer.Option(help="Last week.")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Export booked and done lessons (CSV/JSONL read back by `import reservations`).

    --output FILE is written atomically (on any error FILE is left as it was); a FIFO, a
    character device or /dev/stdout is written as a stream, never replaced."""
    from tutorctl.cli.output import output_file
    from tutorctl.core.errors import InputError
    from tutorctl.services import exports as svc

    if format not in svc.FORMATS:
        raise InputError(f"bad --format {format!r}: use csv, jsonl or ics")

    def run(tx: Tx) -> int:
        first = parse_week(from_, tx.today) if from_ else None
        last = parse_week(to, tx.today) if to else None
        if first is not None and last is not None and first > last:
            raise InputError(f"bad weeks: --from {from_} is after --to {to}")
        # everything is checked before anything is written: a stream cannot be taken back
        export = svc.prepare(tx, format, user, first, last)
        if output is None:
            return svc.write(tx, sys.stdout, export)
        with output_file(output) as out:
            return svc.write(tx, out, export)

    read(run)

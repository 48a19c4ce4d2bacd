"""tutorctl import KIND FILE, tutorctl export reservations"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from tutorctl.cli.state import Json, emit, read, write
from tutorctl.core.timegrid import parse_week

exports = typer.Typer(help="Export lessons as CSV, JSON Lines or iCalendar.", no_args_is_help=True)


def import_(
    kind: Annotated[
        str,
        typer.Argument(help="users, categories, availability, purchases, credits or reservations."),
    ],
    file: Annotated[str, typer.Argument(help="A .csv or .jsonl file, or - for stdin.")],
    format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: by extension).")
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
            with path.open("w", encoding="utf-8") as copy:
                shutil.copyfileobj(sys.stdin, copy)  # streamed to disk: pass 2 reads it again
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
    format: Annotated[str, typer.Option("--format", help="csv, jsonl or ics.")],
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
    """Export booked and done lessons (CSV/JSONL read back by `import reservations`)."""
    from tutorctl.services import exports as svc

    def run(tx):  # type: ignore[no-untyped-def]
        first = parse_week(from_, tx.today) if from_ else None
        last = parse_week(to, tx.today) if to else None
        if output is None:
            return svc.export_reservations(tx, sys.stdout, format, user, first, last)
        with output.open("w", encoding="utf-8", newline="") as out:
            return svc.export_reservations(tx, out, format, user, first, last)

    read(run)

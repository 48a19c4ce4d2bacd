"""tutorctl check | expire: keeping the database true and moving it on with time (cron)."""

from __future__ import annotations

from typing import Annotated

import typer

from tutorctl.cli.state import Json, emit, read, state


def check(json: Json = False) -> None:
    """Verify every invariant on the whole database (exit 1 and the list when one fails)."""
    from tutorctl.services.check import check as run_check

    result = read(run_check)
    emit(result, json)
    if not result.ok:
        raise typer.Exit(1)


def expire(
    batch: Annotated[int, typer.Option(help="Rows per transaction.", min=1, max=100_000)] = 1000,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say what was done even when all is well.")
    ] = False,
    json: Json = False,
) -> None:
    """For cron: expire idle sessions, fail stale payments, close paid and failed sessions left
    over the hold time, mark past lessons done (quiet on success)."""
    from tutorctl.services.expire import expire_all

    result = expire_all(state().database(), batch)
    if json or verbose:
        emit(result, json)

"""tutorctl lesson …"""

from __future__ import annotations

from typing import Annotated

import typer

from tutorctl.cli import complete
from tutorctl.cli.state import Json, emit, id_argument, read

app = typer.Typer(help="One lesson: its funding and its story.", no_args_is_help=True)


@app.command("show")
def show(
    lesson: Annotated[int, id_argument("ID", "The lesson's id.", complete.live_lessons)],
    json: Json = False,
) -> None:
    """The lesson, how it was funded (package hours, balance, payment) and what happened to it."""
    from tutorctl.services import story

    emit(read(lambda tx: story.show_lesson(tx, lesson)), json)

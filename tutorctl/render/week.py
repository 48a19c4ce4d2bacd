"""The week grid (``tutorctl.core.grid.WeekGrid``) drawn as a rich table: colour is an extra,
the text alone reads without it."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.grid import WeekGrid
from tutorctl.core.status import LessonStatus

STYLES: dict[str, str] = {  # a cell's kind: a lesson status or what the slot is
    "closed": "dim",
    "open": "green",
    "missing": "dim italic",
    LessonStatus.BOOKED: "bold cyan",
    LessonStatus.HELD: "yellow",
    LessonStatus.DONE: "dim cyan",
    "pending": "magenta",
    "busy": "red",
    "teacher-open": "green",
}


def render_week(grid: WeekGrid) -> RenderableType:
    table = Table(title=grid.title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for index, header in enumerate(grid.headers):
        table.add_column(header, no_wrap=index == 0, overflow="fold")
    for row in grid.rows:
        table.add_row(
            Text(row.label, style="bold"),
            *[Text(c.text, style=STYLES.get(c.kind, "")) for c in row.cells],
        )
    return Group(table, Text(grid.legend, style="dim"))

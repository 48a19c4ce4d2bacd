"""The one registry from read model to renderable (``render``), and the small formatters the
renderers of every concept share. Each module of this package registers the renderers of its
read models; ``tutorctl.render.console`` imports the one a view needs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import singledispatch
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_hours


@singledispatch
def render(view: Any) -> RenderableType:
    return Text(str(view))


def pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    """A titled two-column table: a bold name, then its value."""
    table = Table(title=title, show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def listing(title: str, columns: Iterable[str], rows: Iterable[Sequence[str]]) -> Table:
    """A titled table of plain left-aligned columns, one row per item."""
    table = Table(title=title, title_justify="left")
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    return table


def yes(flag: bool) -> str:
    return "yes" if flag else "no"


def minute(instant: str) -> str:
    """An ISO instant to the minute, as a person reads it: ``2026-11-26 14:05``."""
    return instant[:16].replace("T", " ")


def hours(minutes: int) -> str:
    return format_hours(minutes)

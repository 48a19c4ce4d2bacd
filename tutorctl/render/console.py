"""The console every view is printed on, and ``render(view)``: the renderable of any read model.

The renderers are one ``singledispatch`` function (``tutorctl.render.base.render``); each module
of this package registers those of its concept's read models when it is imported. ``render``
imports the one module a view needs (``RENDERERS``), not all of them: a command's start-up
pays for its own renderers only (SPEC §9).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from rich.console import Console, RenderableType

from tutorctl.render import base

# the read models of each module of core/views → the module of render/ that draws them
RENDERERS = {
    "catalog": "school",
    "database": "school",
    "history": "sessions",
    "lessons": "lessons",
    "money": "money",
    "notify": "notify",
    "people": "school",
    "reports": "reports",
    "resume": "resume",
    "runs": "runs",
    "schedule": "schedule",
    "sessions": "sessions",
}

__all__ = ["load_all", "make_console", "render"]


def render(view: Any) -> RenderableType:
    """The renderable of a read model, its concept's renderers imported first."""
    concept = type(view).__module__.rpartition(".")[2]
    if concept in RENDERERS:
        importlib.import_module(f"tutorctl.render.{RENDERERS[concept]}")
    return base.render(view)


def load_all() -> None:
    """Import every renderer (for a check of them all)."""
    for module in sorted(set(RENDERERS.values())):
        importlib.import_module(f"tutorctl.render.{module}")


def make_console(file: Any = None) -> Console:
    """The console every view is printed on. Markup, emoji codes and highlighting are off:
    every string printed (titles, headers, cells, lines) is shown literally, so names,
    reasons, references and actors a user typed (``Jo [/b]``, ``piano [beginner]``,
    ``:smile:``) can never be read as rich markup (SPEC §6). Style with ``Text``/``Style``
    objects, never with markup."""
    file = file or sys.stdout
    return Console(
        file=file,
        width=_width(file),
        highlight=False,
        soft_wrap=False,
        markup=False,
        emoji=False,
    )


# Wide enough for any line tutorctl prints, small enough that nothing sized to the console
# (none is: tables are sized to their content) could cost much.
PIPED_WIDTH = 10_000


def _width(file: Any) -> int | None:
    """None (rich's own: the terminal's width, or $COLUMNS) on a terminal or when COLUMNS is
    set; else, into a pipe or a file, a width that wraps no line. Rich's 80 columns cut lines
    scripts read (``session resume N | grep next:`` lost ``--expect-total 40.00`` to the next
    line) and split table cells mid-number (``999,999.`` / ``00``)."""
    if os.environ.get("COLUMNS"):
        return None
    isatty = getattr(file, "isatty", None)
    try:
        terminal = bool(isatty()) if isatty is not None else False
    except (OSError, ValueError):  # a closed or detached stream: not a terminal
        terminal = False
    return None if terminal else PIPED_WIDTH

"""The console every view is printed on, and ``render(view)``: the renderable of any read model.

``render`` is one ``singledispatch`` function (defined in ``tutorctl.render.base``); the modules
imported below register the renderers of their concept's read models on it.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console

from tutorctl.render import (
    lessons,
    money,
    notify,
    reports,
    resume,
    runs,
    schedule,
    school,
    sessions,
)
from tutorctl.render.base import render

RENDERERS = (lessons, money, notify, reports, resume, runs, schedule, school, sessions)  # registered

__all__ = ["make_console", "render"]


def make_console(file: Any = None) -> Console:
    """The console every view is printed on. Markup, emoji codes and highlighting are off:
    every string printed (titles, headers, cells, lines) is shown literally, so names,
    reasons, references and actors a user typed (``Jo [/b]``, ``piano [beginner]``,
    ``:smile:``) can never be read as rich markup (SPEC §6). Style with ``Text``/``Style``
    objects, never with markup."""
    return Console(
        file=file or sys.stdout, highlight=False, soft_wrap=False, markup=False, emoji=False
    )

"""A flag and its opposite on one line (``--open --close``) is a contradiction, not a choice.

Click keeps the last of the two; a script that says both has a bug the desk should hear about
(exit 2) rather than a guess acted on. Every boolean pair declared ``--x/--y`` is covered.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from tutorctl.core.errors import InputError


@cache
def _pairs(command: Any) -> frozenset[tuple[str, str]]:
    pairs: set[tuple[str, str]] = set()
    stack = [command]
    while stack:
        current = stack.pop()
        for param in getattr(current, "params", ()):
            for on in getattr(param, "opts", ()):
                for off in getattr(param, "secondary_opts", ()) or ():
                    pairs.add((on, off))
        stack.extend(getattr(current, "commands", {}).values())
    return frozenset(pairs)


def refuse_contradicting_flags(command: Any, args: Sequence[str]) -> None:
    words = list(args)
    if "--" in words:  # what follows is operands, not options
        words = words[: words.index("--")]
    given = set(words)
    for on, off in sorted(_pairs(command)):
        if on in given and off in given:
            raise InputError(f"give {on} or {off}, not both")

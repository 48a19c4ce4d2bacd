"""A flag and its opposite on one line (``--open --close``) is a contradiction, not a choice.

Click keeps the last of the two; a script that says both has a bug the desk should hear about
(exit 2) rather than a guess acted on. Every boolean pair declared ``--x/--y`` is covered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from tutorctl.core.errors import InputError
from tutorctl.core.limits import shown, undecodable


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


def refuse_undecodable(args: Sequence[str], environ: Mapping[str, str]) -> None:
    """Every word typed and every ``TUTORCTL_*`` variable must be UTF-8 text: a byte that is
    not (``$'a\\x85b'``) would reach the database as a lone surrogate and fail there, after the
    command began. Refused here, once for every option, argument and line of the shell."""
    for name in sorted(key for key in environ if key.startswith("TUTORCTL_")):
        value = environ[name]
        if undecodable(value):
            secret = "PASSWORD" in name  # named, not shown
            what = f"{name}" if secret else f"{name} {shown(value)}"
            raise InputError(f"bad {what}: not valid UTF-8 (bytes shown as \\xNN); use UTF-8 text")
    previous = ""
    for word in args:
        if undecodable(word):
            name, _, value = word.partition("=")
            if word.startswith("--") and value and not undecodable(name):
                what = f"{name} {shown(value)}"
            else:
                where = f" (after {previous})" if previous.isprintable() and previous else ""
                what = f"value {shown(word)}{where}"
            raise InputError(f"bad {what}: not valid UTF-8 (bytes shown as \\xNN); use UTF-8 text")
        previous = word

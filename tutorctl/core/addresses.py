"""Email addresses people give (SPEC §11): checked once, when typed, so that a message is
never addressed to something a mail server (or a header) could read as more than one address."""

from __future__ import annotations

import re

from tutorctl.core.errors import InputError

MAX_ADDRESS = 254  # RFC 5321's path limit
# an ASCII dot-atom local part and a host name of at least two labels: no quotes, spaces,
# commas, angle brackets or line breaks can get through (\Z: no trailing newline either)
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}\Z",
    re.ASCII,
)


def check_email(text: str, what: str = "--email") -> str:
    """A valid address, its domain lower-cased; bad input (exit 2) otherwise."""
    value = text.strip()
    if len(value) > MAX_ADDRESS or not _ADDRESS.match(value):
        raise InputError(
            f"bad {what} {text[:80]!r}: give one address like name@example.org "
            "(ASCII letters, digits and . _ + - before the @, a domain after it)"
        )
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def one_line(text: str, limit: int = 200) -> str:
    """Text for a header's display name or subject: line breaks (and other control
    characters) become spaces, so typed text can never start a header of its own."""
    cleaned = "".join(" " if ord(c) < 32 or c in "\x7f\u2028\u2029\x85" else c for c in text)
    return " ".join(cleaned.split())[:limit]

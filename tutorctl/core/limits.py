"""Input limits of SPEC §6, the same on every database and checked before a database sees a value.

money ≤ 10,000,000.00 per amount · hours ≤ 10,000 · ids ≤ 2**31-1 (a larger one names nothing:
not found) · names, reasons, references and actors ≤ 200 characters · dates and ``--now`` in the
years 1900-2999 · only ASCII digits are digits · a handle is never all digits (it would read as
an id).
"""

from __future__ import annotations

import re
from datetime import date, datetime

from tutorctl.core.errors import InputError, NotFoundError

MAX_ID = 2**31 - 1  # ids are 32-bit on every backend: anything larger names nothing
MAX_CENTS = 10_000_000_00  # 10,000,000.00 per amount
MAX_HOURS = 10_000
MAX_TEXT = 200
MIN_YEAR, MAX_YEAR = 1900, 2999

_DIGITS = re.compile(r"[0-9]+")  # str.isdigit() is True for '²' and '٣': not digits here
# C0 and C1 controls, and what reorders or breaks a line without being one: the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069: "\u202e" shows a name
# backwards in every listing) and the line and paragraph separators (U+2028, U+2029)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]")


def is_digits(text: str) -> bool:
    """Only the ASCII digits 0-9, at least one."""
    return _DIGITS.fullmatch(text) is not None


def as_id(text: str) -> int | None:
    """``text`` as an id if it is written in ASCII digits, else None (a handle or a name).

    An id over 2**31-1 names nothing: -1 is returned, which no row has, so lookups say
    "not found" on every database instead of overflowing a 32-bit column. ``0`` is bad input
    (exit 2), as for every id.
    """
    if not is_digits(text):
        return None
    value = int(text)
    if value == 0:  # as for every id (parse_id): no row has id 0, so it is a typing error
        raise InputError(f"bad id {text!r}: use a whole number from 1, in digits 0-9")
    return value if value <= MAX_ID else -1


def parse_id(text: str | int, what: str = "id") -> int:
    """A positional or option id: ASCII digits; 0 is bad input, > 2**31-1 is not found."""
    if isinstance(text, int):
        return text
    value = text.strip()
    if not is_digits(value) or int(value) == 0:
        raise InputError(f"bad {what} {text!r}: use a whole number from 1, in digits 0-9")
    number = int(value)
    if number > MAX_ID:
        raise NotFoundError(f"no {what} {number} (ids go up to {MAX_ID})")
    return number


def check_text(value: str, what: str, limit: int = MAX_TEXT) -> str:
    """A name, reason, reference or actor: 1-``limit`` printable characters, kept as typed
    (surrounding spaces dropped)."""
    cleaned = value.strip()
    if not cleaned or len(cleaned) > limit or _CONTROL.search(cleaned):
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise InputError(
            f"bad {what} {shown!r}: use 1-{limit} printable characters (got {len(cleaned)})"
        )
    return cleaned


def undecodable(value: str) -> bool:
    """True if ``value`` holds bytes that were not UTF-8: Python reads argv, the environment
    (and the shell's lines) with ``surrogateescape``, each such byte a lone surrogate that no
    database, file or terminal accepts."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def shown(value: str) -> str:
    """``value`` quoted for an error line, each byte that was not UTF-8 shown as ``\\xNN``
    (and control characters escaped, as ``repr`` does)."""
    parts = (
        f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else repr(c)[1:-1] for c in value
    )
    return "'" + "".join(parts).replace("'", "\\'") + "'"


def check_year(value: date | datetime, text: str, what: str) -> None:
    """Dates and instants live in the years 1900-2999."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InputError(f"bad {what} {text!r}: use a date between {MIN_YEAR} and {MAX_YEAR}")

"""The one clock. Every command asks ``Clock.now()``; tests and replays fix it with --now."""

from __future__ import annotations

from datetime import UTC, datetime

from tutorctl.core.errors import InputError
from tutorctl.core.limits import check_year


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant in the years 1900-2999 (SPEC §6), with its UTC offset: a wall
    time without one is bad input, not a guess (a replay at the school's 08:00 read as UTC
    would run an hour or two off)."""
    bad = f"bad --now {text!r}: use an ISO 8601 datetime such as 2026-11-24T09:00:00+01:00"
    value_text = text.strip().replace("Z", "+00:00")
    if not value_text.isascii():  # only ASCII digits are digits
        raise InputError(bad)
    try:
        value = datetime.fromisoformat(value_text)
    except ValueError:
        raise InputError(bad) from None
    if value.tzinfo is None:  # whose 08:00? read as UTC it would silently move by hours
        raise InputError(
            f"bad --now {text!r}: give its UTC offset (such as 2026-11-24T09:00:00+01:00, or Z"
            " for UTC): a time without one names no instant"
        )
    check_year(value, text, "--now")
    instant = value.astimezone(UTC)
    check_year(instant, text, "--now")  # in UTC too: every stored instant is UTC
    return instant


class Clock:
    """A fixed instant (``--now``) or the system time, read once and then frozen.

    One command sees one "now" from start to end, so a check made at its start and a write
    made at its end agree.
    """

    def __init__(self, fixed: datetime | None = None) -> None:
        self._now = fixed.astimezone(UTC) if fixed is not None else None

    def now(self) -> datetime:
        if self._now is None:
            self._now = datetime.now(UTC)
        return self._now

"""The one clock. Every command asks ``Clock.now()``; tests and replays fix it with --now."""

from __future__ import annotations

from datetime import UTC, datetime

from tutorctl.core.errors import InputError


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant. A naive value is read as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"bad --now {text!r}: use an ISO 8601 datetime such as 2026-11-24T09:00:00+01:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


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

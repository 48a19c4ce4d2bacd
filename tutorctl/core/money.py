"""Money in integer minor units. Input from decimal strings, never floats."""

from __future__ import annotations

import re

from tutorctl.core.errors import InputError

_AMOUNT = re.compile(r"^(\d{1,12})(?:\.(\d{1,2}))?$")
MAX_CENTS = 10**14


def parse_amount(text: str, *, allow_zero: bool = False, what: str = "amount") -> int:
    """``"45.50"`` → ``4550``. Refuses negatives, floats with more than two decimals, junk."""
    value = text.strip()
    match = _AMOUNT.match(value)
    if not match:
        raise InputError(
            f"bad {what} {text!r}: use a positive decimal with at most 2 decimals, e.g. 45.50"
        )
    whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
    cents = int(whole) * 100 + int(frac)
    if cents == 0 and not allow_zero:
        raise InputError(f"bad {what} {text!r}: it must be more than zero")
    if cents > MAX_CENTS:
        raise InputError(f"bad {what} {text!r}: too large")
    return cents


def format_amount(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d} {currency}"


def prorate(price_per_hour_cents: int, minutes: int) -> int:
    """Price of ``minutes`` at an hourly price, rounded half up to the cent (integers only)."""
    return (price_per_hour_cents * minutes * 2 + 60) // 120

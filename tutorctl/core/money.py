"""Money in integer minor units. Input from decimal strings, never floats."""

from __future__ import annotations

import re

from tutorctl.core.errors import InputError
from tutorctl.core.limits import MAX_CENTS, MAX_HOURS

_AMOUNT = re.compile(r"([0-9]{1,20})(?:\.([0-9]{1,2}))?")  # ASCII digits only
_NEGATIVE = re.compile(r"-\s*[0-9][0-9,]*(?:\.[0-9]*)?")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?")  # 1,440.00

# What a session can be asked to pay has no cap of its own (a session books any number of
# lessons, each up to 24 h at up to 10,000,000.00 an hour): its bound is the 64-bit column its
# payment is stored in. --expect-total accepts every total up to it.
MAX_TOTAL_CENTS = 2**63 - 1


def parse_amount(
    text: str, *, allow_zero: bool = False, what: str = "amount", limit: int = MAX_CENTS
) -> int:
    """``"45.50"`` → ``4550``. Refuses negatives, floats with more than two decimals, junk,
    and more than ``limit`` hundredths (10,000,000.00: the same on every database)."""
    value = text.strip()
    match = _AMOUNT.fullmatch(value)
    if not match and _NEGATIVE.fullmatch(value):
        raise InputError(
            f"bad {what} {text!r}: a negative amount is not accepted; use a positive decimal"
        )
    if not match and _GROUPED.fullmatch(value):
        raise InputError(
            f"bad {what} {text!r}: write it without thousands separators, e.g. {value.replace(',', '')}"
        )
    if not match:
        raise InputError(
            f"bad {what} {text!r}: use a positive decimal with at most 2 decimals, e.g. 45.50"
        )
    whole, frac = match.group(1), (match.group(2) or "").ljust(2, "0")
    cents = int(whole) * 100 + int(frac)
    if cents == 0 and not allow_zero:
        raise InputError(f"bad {what} {text!r}: it must be more than zero")
    if cents > limit:
        largest = plain_amount(limit).removesuffix(".00")  # as it would be typed
        raise InputError(f"bad {what} {text!r}: too large (at most {largest})")
    return cents


def parse_total(text: str) -> int:
    """``--expect-total``: any total a session can ask (0 included), as the resume prints it."""
    return parse_amount(text, allow_zero=True, what="--expect-total", limit=MAX_TOTAL_CENTS)


def parse_hours(text: str, what: str = "hours") -> int:
    """``"10"`` or ``"1.5"`` hours (at most 10,000) → whole minutes."""
    hundredths = parse_amount(text, allow_zero=True, what=what, limit=MAX_HOURS * 100)
    if (hundredths * 60) % 100:
        raise InputError(f"bad {what} {text!r}: it must be a whole number of minutes")
    return hundredths * 60 // 100


def format_hours(minutes: int) -> str:
    """Minutes as a person reads hours: ``1 h``, ``1 h 30``, ``45 min``."""
    h, m = divmod(minutes, 60)
    if m == 0:
        return f"{h} h"
    return f"{h} h {m:02d}" if h else f"{m} min"


def plain_amount(cents: int) -> str:
    """``144000`` → ``1440.00``: what ``parse_amount`` reads back (no thousands separators),
    for a value to paste into a command line."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def format_amount(cents: int, currency: str) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100:,}.{cents % 100:02d} {currency}"


def pro_rata(amount: int, part: int, whole: int) -> int:
    """``amount × part / whole`` rounded half up to the cent, in integers (never a float): the
    one pro-rata formula of every price (a lesson's length, a package's paid hours, a moved
    lesson, a funding given back). Inputs are never negative and ``whole`` > 0.

    Its SQL twin is ``tutorctl.db.money.pro_rata`` (the same operations, for queries that
    compute in the database): change both or neither; ``tests/db/test_money_sql.py`` holds
    them equal to the cent on SQLite and PostgreSQL over the whole input range."""
    return (amount * part * 2 + whole) // (2 * whole)


def prorate(price_per_hour_cents: int, minutes: int) -> int:
    """Price of ``minutes`` at an hourly price, rounded half up to the cent (integers only)."""
    return pro_rata(price_per_hour_cents, minutes, 60)


def paid_price(price_cents: int, paid_minutes: int, bought_minutes: int) -> int:
    """What the paid hours of a package cost: its price pro rata, rounded half up to the cent."""
    return pro_rata(price_cents, paid_minutes, bought_minutes)

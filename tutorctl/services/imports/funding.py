"""The ``funding`` column of ``import reservations`` and ``export reservations``: a lesson's
whole funding, part by part, as the lesson holds it (``lesson show``).

CSV: the parts joined by ``;``, each one of::

    purchase ID: MINUTES min              hours of a package
    balance: MINUTES min = AMOUNT         money from the student's balance
    payment: MINUTES min = AMOUNT         money from an external payment

e.g. ``purchase 1: 60 min; balance: 60 min = 40.00``. JSON Lines: a list of objects, money in
integer cents, e.g. ``[{"source": "purchase", "purchase_id": 1, "minutes": 60},
{"source": "balance", "minutes": 60, "amount_cents": 4000}]`` (``lesson show --json``'s
``funding`` is accepted as it is). Empty, ``[]`` or ``null``: an unfunded lesson.

Both forms are read in both kinds of file (a JSON list always starts with ``[``).

The lesson's hourly price travels with it (``rate``: ``40.00`` in CSV; ``rate_cents``: 4000 in
JSON Lines; either is read in both): a lesson keeps the price it was chosen at, whatever its
category costs when the file is read. Its money must be that price's share of the minutes it
pays (``money_problem``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple, TypeGuard

from tutorctl.core.errors import InputError
from tutorctl.core.limits import MAX_CENTS, MAX_ID, is_digits
from tutorctl.core.money import parse_amount, plain_amount, pro_rata, prorate
from tutorctl.core.status import FundingSource
from tutorctl.services.imports.fields import RowError

MONEY = (FundingSource.BALANCE, FundingSource.PAYMENT)
SOURCES = tuple(FundingSource)
MAX_PARTS = 100  # a lesson has a few; a hostile row gets a clear error, not a long loop
_PURCHASE = re.compile(r"purchase\s+([0-9]+)\s*:\s*([0-9]+)\s*min", re.ASCII)
_MONEY = re.compile(r"(balance|payment)\s*:\s*([0-9]+)\s*min\s*=\s*(\S+)", re.ASCII)
_FORMS = "use 'purchase ID: MINUTES min', 'balance: MINUTES min = AMOUNT' or 'payment: …'"
_JSON_KEYS = {"source", "minutes", "amount_cents", "purchase_id", "payment_id"}


class Part(NamedTuple):
    """One source of a lesson's funding: a package's minutes, or money for minutes."""

    source: str  # purchase | balance | payment
    minutes: int
    amount_cents: int = 0
    purchase_id: int | None = None


def as_text(parts: Iterable[Part]) -> str:
    """The CSV form: ``purchase 1: 60 min; balance: 60 min = 40.00``."""
    return "; ".join(
        f"purchase {p.purchase_id}: {p.minutes} min"
        if p.source == FundingSource.PURCHASE
        else f"{p.source}: {p.minutes} min = {p.amount_cents // 100}.{p.amount_cents % 100:02d}"
        for p in parts
    )


def as_json(parts: Iterable[Part]) -> list[dict[str, Any]]:
    return [
        {"source": p.source, "purchase_id": p.purchase_id, "minutes": p.minutes}
        if p.source == FundingSource.PURCHASE
        else {"source": p.source, "minutes": p.minutes, "amount_cents": p.amount_cents}
        for p in parts
    ]


@lru_cache(maxsize=4096)  # the hot path of a big import: the same few values on every row
def parse(text: str, column: str = "funding") -> tuple[Part, ...]:
    """The parts of one row's ``funding`` (RowError if bad); () for an unfunded lesson."""
    text = text.strip()
    if text in ("", "[]", "null"):
        return ()
    parts = _from_json(text, column) if text.startswith("[") else _from_text(text, column)
    if len(parts) > MAX_PARTS:
        raise RowError(column, f"{len(parts)} funding parts: at most {MAX_PARTS}")
    return parts


def _from_text(text: str, column: str) -> tuple[Part, ...]:
    parts = []
    for piece in (p.strip() for p in text.split(";")):
        if match := _PURCHASE.fullmatch(piece):
            parts.append(
                Part(
                    FundingSource.PURCHASE,
                    _minutes(match.group(2), piece, column),
                    0,
                    _id(match.group(1), piece, column),
                )
            )
        elif match := _MONEY.fullmatch(piece):
            try:
                cents = parse_amount(match.group(3), allow_zero=True)
            except InputError as exc:
                raise RowError(column, f"bad funding part {piece!r}: {exc.message}") from None
            minutes = _minutes(match.group(2), piece, column, money=cents)
            parts.append(Part(match.group(1), minutes, cents))
        else:
            raise RowError(column, f"bad funding part {piece!r}: {_FORMS}")
    return tuple(parts)


def _from_json(text: str, column: str) -> tuple[Part, ...]:
    try:
        items = json.loads(text)
    except (ValueError, RecursionError):
        raise RowError(column, "bad funding: not a JSON list of parts") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RowError(column, "bad funding: a JSON list of objects, one per part")
    return tuple(_json_part(item, column) for item in items)


def _json_part(item: dict[str, Any], column: str) -> Part:
    def bad(reason: str) -> RowError:
        return RowError(column, f"bad funding part {json.dumps(item)}: {reason}")

    unknown = sorted(set(item) - _JSON_KEYS)
    if unknown:
        raise bad(f"unknown key {unknown[0]!r}")
    source, minutes = item.get("source"), item.get("minutes")
    if source not in SOURCES:
        raise bad("source is purchase, balance or payment")
    amount = item.get("amount_cents", 0)
    if isinstance(amount, float):
        raise bad("amount_cents is a JSON float: money is a whole number of cents")
    if not _whole(amount) or not 0 <= amount <= MAX_CENTS:
        raise bad(f"amount_cents is a whole number of cents, 0 to {MAX_CENTS}")
    # a money part may pay no whole minute: the cents a move's rounding left on the lesson
    least = 0 if amount and source != FundingSource.PURCHASE else 1
    if not _whole(minutes) or not least <= minutes <= 24 * 60:
        raise bad(f"minutes is a whole number of minutes, at least {least}")
    pid = item.get("purchase_id")
    if source == FundingSource.PURCHASE:
        if not _whole(pid) or not 0 < pid <= MAX_ID or amount:
            raise bad("a purchase part names its purchase_id (and no amount_cents)")
        return Part(FundingSource.PURCHASE, minutes, 0, pid)
    if pid is not None:
        raise bad(f"a {source} part names no purchase_id")
    return Part(source, minutes, amount)


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _minutes(text: str, piece: str, column: str, money: int = 0) -> int:
    """A part's minutes: 1 to 1440, or 0 for a money part that carries money (the cents a
    move's rounding left on a lesson are exported as ``payment: 0 min = 0.05``)."""
    value = int(text) if len(text) <= 5 else -1
    least = 0 if money else 1
    if not least <= value <= 24 * 60:
        raise RowError(column, f"bad funding part {piece!r}: minutes between {least} and 1440")
    return value


def _id(text: str, piece: str, column: str) -> int:
    value = int(text) if len(text) <= 10 else MAX_ID + 1
    if not 0 < value <= MAX_ID:
        raise RowError(column, f"bad funding part {piece!r}: purchase ids go from 1 to {MAX_ID}")
    return value


def rate(row: dict[str, str]) -> int | None:
    """The lesson's hourly price in cents from ``rate`` (``40.00``) or ``rate_cents`` (4000);
    None when the row gives neither (the category's current price is taken)."""
    text, cents = row.get("rate", ""), row.get("rate_cents", "")
    if text and cents:
        raise RowError("rate", "give the rate or rate_cents, not both")
    if cents:
        if not is_digits(cents) or len(cents) > 10 or int(cents) > MAX_CENTS:
            raise RowError("rate_cents", f"bad rate_cents {cents!r}: whole cents, 0 to {MAX_CENTS}")
        return int(cents)
    if text:
        try:
            return parse_amount(text, allow_zero=True, what="rate")
        except InputError as exc:
            raise RowError("rate", exc.message) from None
    return None


def money_problem(parts: Iterable[Part], rate_cents: int, minutes: int) -> str | None:
    """Why the money of a lesson's funding is not its price's share of the minutes it pays
    (None when it is): ``pro_rata(price, money minutes, minutes)`` where the price is
    ``prorate(rate, minutes)``, what the booking charges.

    To the cent for a lesson as booked; a lesson since moved (or paid part from the balance,
    part by card) may differ by up to a minute's price and a cent per money part: the booking
    gives a split's parts whole minutes (``core.resume``), and a shorter move takes money back
    pro rata of those minutes. ``check`` (invariant 4) applies the same rule."""
    money = [p for p in parts if p.source != FundingSource.PURCHASE]
    if not money:
        return None
    price_cents = prorate(rate_cents, minutes)
    cents = sum(p.amount_cents for p in money)
    paid = sum(p.minutes for p in money)
    due = pro_rata(price_cents, paid, minutes)
    slack = len(money) * (-(-price_cents // minutes) + 1)
    if abs(cents - due) <= slack:
        return None
    return (
        f"its money ({plain_amount(cents)}) is not the price of the {paid} min it pays "
        f"({plain_amount(due)} at {plain_amount(rate_cents)} an hour)"
    )

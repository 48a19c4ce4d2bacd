"""Sample outbox rows for the byte-for-byte tests of composing (issue 24's performance work):
every kind, one to many lessons, each action, a second year, a school in UTC, and hostile or
non-ASCII text (which takes the slow, general path)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from tutorctl.core.settings import DEFAULT_SETTINGS, SchoolSettings
from tutorctl.services.notify.messages import Row

NOW = datetime.fromisoformat("2026-11-24T09:00:00+01:00")
SETTINGS = replace(DEFAULT_SETTINGS, notifications=True, mail_from="desk@school.example")
UTC_SCHOOL = replace(SETTINGS, timezone="UTC", currency="USD", mail_from="office@tutors.test")
MONEY = {
    "package_minutes": 60,
    "balance_cents": 1000,
    "payment_cents": 3000,
    "refund_cents": 0,
    "refund_minutes": 0,
    "balance_after_cents": 0,
}


def lesson(
    action: str, n: int, at: str = "2026-12-02T10:00:00+01:00", **extra: Any
) -> dict[str, Any]:
    start = datetime.fromisoformat(at)
    return {
        "action": action,
        "id": n,
        "uid": n,
        "sequence": n % 3,
        "teacher": "Alice Martin",
        "student": "Bob Li",
        "category": "maths",
        "starts_at": start.isoformat(),
        "ends_at": start.replace(hour=start.hour + 1).isoformat(),
        "price_cents": 4000,
        **extra,
    }


MOVED = {"old_starts_at": "2026-12-01T09:00:00+01:00", "old_ends_at": "2026-12-01T10:00:00+01:00"}
CANCELLED = {"refund_cents": 4000, "refund_minutes": 0, "late": False}


def samples() -> list[tuple[str, Row, SchoolSettings]]:
    """(name, row, settings): the golden files are ``golden/NAME.eml``."""
    r = Row
    booked = {"lessons": [lesson("booked", 7)], "money": MONEY, "reason": None}
    mixed = {
        "lessons": [
            lesson("booked", 11),
            lesson("moved", 12, "2026-12-09T14:00:00+01:00", **MOVED),
            lesson("cancelled", 13, "2026-12-03T09:00:00+01:00", **CANCELLED),
            lesson("booked", 14, "2027-01-06T10:00:00+01:00"),
        ],
        "money": MONEY,
        "reason": "the teacher is away",
    }
    hostile_name = "Eve\r\nBcc: x@evil.example {{ 7*7 }}"
    hostile = {
        "lessons": [
            {
                **lesson("booked", 21),
                "teacher": "Chloé Dubois",
                "student": "王芳",
                "category": "maths, physics; \\ more",
            }
        ],
        "money": MONEY,
        "reason": "x" * 200,
    }
    long_lines = {"lessons": [lesson("booked", 31)], "money": MONEY, "reason": "y " * 60}
    return [
        ("receipt-one", r(1, "receipt", "bob@example.org", "Bob Li", 1, booked), SETTINGS),
        ("receipt-mixed", r(2, "receipt", "bob@example.org", "Bob Li", 2, mixed), SETTINGS),
        (
            "teacher-mixed",
            r(3, "teacher", "alice@school.example", "Alice Martin", 2, mixed),
            SETTINGS,
        ),
        (
            "reminder",
            r(
                40000,
                "reminder",
                "bob.li+x@example.org",
                "Bob Li",
                None,
                {"lessons": [lesson("booked", 9)]},
            ),
            SETTINGS,
        ),
        (
            "payment-failed",
            r(
                5,
                "payment_failed",
                "bob@example.org",
                "Bob Li",
                3,
                {"why": "card declined", "currency": "EUR"},
            ),
            SETTINGS,
        ),
        ("utc-school", r(6, "receipt", "bob@example.org", "Bob Li", 4, booked), UTC_SCHOOL),
        ("hostile", r(7, "receipt", "eve@example.org", hostile_name, 5, hostile), SETTINGS),
        ("non-ascii", r(8, "receipt", "chloe@example.org", "Chloé Dubois", 6, booked), SETTINGS),
        ("quoted-name", r(9, "receipt", "j@example.org", "J. R. Smith, Jr.", 6, booked), SETTINGS),
        ("long-lines", r(10, "receipt", "bob@example.org", "Bob Li", 7, long_lines), SETTINGS),
        (
            "long-subject",
            r(
                11,
                "reminder",
                "bob@example.org",
                "Bob Li",
                None,
                {"lessons": [{**lesson("booked", 9), "category": "c" * 70}]},
            ),
            SETTINGS,
        ),
    ]

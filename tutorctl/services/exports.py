"""Export lessons: CSV and JSON Lines that ``import reservations`` reads back, and iCalendar.

Streams rows from the database (``yield_per``) straight to the output: memory does not grow
with the number of lessons.

A round trip (export, then ``import reservations`` into a fresh database holding the same
users, categories and packages) loses nothing: every booked or done lesson comes back with its
status, its whole funding (column ``funding``, every part: a package's minutes, money from
the balance or a payment; see ``tutorctl.services.imports.funding``) and the hourly price it
was chosen at (``rate``; ``rate_cents`` in JSON Lines), so a price changed since does not
reprice it. Rows are exported with
``history=true``, past and future alike: each is the record of a booking already made and
checked, so the import does not apply the booking-time rules (availability, notice, active
people) again, and a fresh database without availability takes it; the overlap rule still
applies.

Everything that can be refused (the format, the user) is checked by ``prepare`` before
``write`` sends the first byte: an output that is a stream cannot be taken back.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TextIO

from sqlalchemy import bindparam, select
from sqlmodel import col

from tutorctl.core.calendar_uid import lesson_sequence, lesson_uid
from tutorctl.core.errors import InputError
from tutorctl.core.money import plain_amount, pro_rata
from tutorctl.core.status import LessonStatus
from tutorctl.core.views import LessonView
from tutorctl.db.schema import Reservation
from tutorctl.db.tables import fundings as F
from tutorctl.db.uow import Tx
from tutorctl.services.imports.funding import Part, as_json, as_text
from tutorctl.services.lessons import lesson_query, lesson_view
from tutorctl.services.users import find_user

FORMATS = ("csv", "jsonl", "ics")
BATCH = 1000  # lessons streamed, and their funding read, together
COLUMNS = [
    "teacher", "student", "category", "date", "start", "end", "status", "history", "funding",
    "rate",
]  # fmt: skip
_PARTS = (
    select(F.c.reservation_id, F.c.source, F.c.minutes, F.c.amount_cents, F.c.purchase_id)
    .where(F.c.reservation_id.in_(bindparam("ids", expanding=True)))
    .order_by(F.c.reservation_id, F.c.id)  # the order they were recorded, kept by the import
)


@dataclass(frozen=True)
class Export:
    """What to export, checked: the format and the query of its lessons."""

    fmt: str
    query: Any


def prepare(
    tx: Tx, fmt: str, user_ref: str | None, first: date | None, last: date | None
) -> Export:
    """Check everything (NotFound for an unknown user, InputError for a bad format); write
    nothing."""
    if fmt not in FORMATS:
        raise InputError(f"bad --format {fmt!r}: use csv, jsonl or ics")
    query = (
        lesson_query()
        .add_columns(
            col(Reservation.rate_cents), col(Reservation.lineage_id), col(Reservation.revision)
        )
        .where(col(Reservation.status).in_((LessonStatus.BOOKED, LessonStatus.DONE)))
    )
    if user_ref is not None:
        user = find_user(tx, user_ref)
        query = query.where(
            (Reservation.teacher_id == user.id) | (Reservation.student_id == user.id)
        )
    if first is not None:
        query = query.where(col(Reservation.week) >= first)
    if last is not None:
        query = query.where(col(Reservation.week) <= last)
    query = query.order_by(
        col(Reservation.week),
        col(Reservation.day),
        col(Reservation.start_slot),
        col(Reservation.id),
    ).execution_options(yield_per=BATCH)
    return Export(fmt, query)


def lessons(tx: Tx, export: Export) -> Iterator[tuple[LessonView, list[Part], int, Any]]:
    """(lesson, its funding parts, its hourly price, its row), in time order: the parts of
    each batch of lessons in one query, so memory holds one batch."""
    for rows in tx.run(export.query).partitions():
        parts: dict[int, list[Part]] = {}
        if export.fmt != "ics":
            for f in tx.run(_PARTS, {"ids": [row.id for row in rows]}):
                part = Part(f.source, f.minutes, f.amount_cents or 0, f.purchase_id)
                parts.setdefault(f.reservation_id, []).append(part)
        for row in rows:
            yield lesson_view(tx, row), parts.get(row.id, []), _rate(tx, row), row


def _rate(tx: Tx, row: Any) -> int:
    """The lesson's hourly price: as kept, or (a lesson from before rates were kept) its
    price's share of an hour."""
    if row.rate_cents is not None:
        return int(row.rate_cents)
    minutes = tx.settings.grid.minutes(row.start_slot, row.end_slot)
    return pro_rata(row.price_cents, 60, minutes)


def _record(lesson: LessonView, parts: list[Part], rate: int, fmt: str) -> dict[str, Any]:
    end = "24:00" if lesson.end == "00:00" else lesson.end
    return {
        "teacher": lesson.teacher,
        "student": lesson.student,
        "category": lesson.category,
        "date": lesson.date,
        "start": lesson.start,
        "end": end,
        "status": lesson.status,
        "history": "true",  # a booking already made: see the module docstring
        "funding": as_text(parts) if fmt == "csv" else as_json(parts),  # empty: unfunded
        **({"rate": plain_amount(rate)} if fmt == "csv" else {"rate_cents": rate}),
    }


def write(tx: Tx, out: TextIO, export: Export) -> int:
    """Write the lessons of ``export`` to ``out``; how many."""
    if export.fmt == "ics":
        return _ics(tx, out, ((lesson, row) for lesson, _parts, _rate, row in lessons(tx, export)))
    count = 0
    if export.fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for lesson, parts, rate, _row in lessons(tx, export):
            writer.writerow(_record(lesson, parts, rate, "csv"))
            count += 1
    else:
        for lesson, parts, rate, _row in lessons(tx, export):
            out.write(json.dumps(_record(lesson, parts, rate, "jsonl"), ensure_ascii=False) + "\n")
            count += 1
    return count


def export_reservations(
    tx: Tx,
    out: TextIO,
    fmt: str,
    user_ref: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> int:
    """``prepare`` then ``write``."""
    return write(tx, out, prepare(tx, fmt, user_ref, first, last))


END_CALENDAR = "END:VCALENDAR\r\n"


def _ics(tx: Tx, out: TextIO, rows: Iterator[tuple[LessonView, Any]]) -> int:
    """iCalendar written with ``icalendar`` (escaping, folding at 75 octets, CRLF), one event
    at a time so memory does not grow with the number of lessons: the calendar's head, then
    each event, then its end. Each event has the UID and SEQUENCE of the messages' calendar
    parts (``tutorctl.core.calendar_uid``): one event per lesson across its moves, the same
    one the email invitations made."""
    from icalendar import Calendar
    from icalendar import Event as VEvent

    head = Calendar()
    head.add("version", "2.0")
    head.add("prodid", "-//tutorctl//tutorctl//EN")
    head.add("calscale", "GREGORIAN")
    head.add("method", "PUBLISH")
    head.add("x-wr-timezone", tx.settings.timezone)
    text = head.to_ical().decode()
    out.write(text.removesuffix(END_CALENDAR))
    count = 0
    for lesson, row in rows:  # booked and done lessons only (``prepare``)
        event = VEvent()
        event.add("uid", lesson_uid(row.lineage_id or row.id, tx.settings.mail_from))
        event.add("sequence", lesson_sequence(row.revision))
        event.add("dtstamp", tx.now.astimezone(UTC))
        event.add("dtstart", datetime.fromisoformat(lesson.starts_at).astimezone(UTC))
        event.add("dtend", datetime.fromisoformat(lesson.ends_at).astimezone(UTC))
        event.add("summary", f"{lesson.category}: {lesson.teacher} with {lesson.student}")
        event.add(
            "description", f"lesson {lesson.id}, {lesson.duration_minutes} min, {lesson.status}"
        )
        event.add("status", "CONFIRMED")
        out.write(event.to_ical().decode())
        count += 1
    out.write(END_CALENDAR)
    return count

"""Export lessons: CSV and JSON Lines that ``import reservations`` reads back, and iCalendar.

Streams rows from the database (``yield_per``) straight to the output: memory does not grow
with the number of lessons.

A round trip (export, then ``import reservations`` into a fresh database holding the same
users, categories and packages) loses nothing: every booked or done lesson comes back with its
status and the package that funded its hours (column ``purchase``). Rows are exported with
``history=true``, past and future alike: each is the record of a booking already made and
checked, so the import does not apply the booking-time rules (availability, notice, active
people) again, and a fresh database without availability takes it; the overlap rule still
applies.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TextIO

from sqlalchemy import func, select
from sqlmodel import col

from tutorctl.core.errors import InputError
from tutorctl.core.status import LessonStatus
from tutorctl.core.views import LessonView
from tutorctl.db.schema import Reservation
from tutorctl.db.tables import fundings as _F
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import lesson_query, lesson_view
from tutorctl.services.users import find_user

FORMATS = ("csv", "jsonl", "ics")
COLUMNS = [
    "teacher", "student", "category", "date", "start", "end", "status", "history", "purchase",
]  # fmt: skip
# the package whose hours fund the lesson (the import names one; the first if two did)
FUNDING_PURCHASE = (
    select(func.min(_F.c.purchase_id))
    .where(_F.c.reservation_id == Reservation.id, _F.c.source == "purchase")
    .scalar_subquery()
    .label("funding_purchase")
)


def lessons(
    tx: Tx, user_ref: str | None, first: date | None, last: date | None
) -> Iterator[tuple[LessonView, int | None]]:
    """(lesson, id of the package funding its hours or None), in time order."""
    query = (
        lesson_query()
        .add_columns(FUNDING_PURCHASE)
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
    ).execution_options(yield_per=1000)
    for row in tx.run(query):
        yield lesson_view(tx, row), row.funding_purchase


def _record(lesson: LessonView, purchase: int | None) -> dict[str, str | int | None]:
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
        "purchase": purchase,  # CSV: empty when unfunded by a package; JSON: null
    }


def export_reservations(
    tx: Tx,
    out: TextIO,
    fmt: str,
    user_ref: str | None = None,
    first: date | None = None,
    last: date | None = None,
) -> int:
    if fmt not in FORMATS:
        raise InputError(f"bad --format {fmt!r}: use csv, jsonl or ics")
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for lesson, purchase in lessons(tx, user_ref, first, last):
            writer.writerow(_record(lesson, purchase))
            count += 1
    elif fmt == "jsonl":
        for lesson, purchase in lessons(tx, user_ref, first, last):
            out.write(json.dumps(_record(lesson, purchase), ensure_ascii=False) + "\n")
            count += 1
    else:
        count = _ics(tx, out, (lesson for lesson, _purchase in lessons(tx, user_ref, first, last)))
    return count


END_CALENDAR = "END:VCALENDAR\r\n"


def _ics(tx: Tx, out: TextIO, rows: Iterator[LessonView]) -> int:
    """iCalendar written with ``icalendar`` (escaping, folding at 75 octets, CRLF), one event
    at a time so memory does not grow with the number of lessons: the calendar's head, then
    each event, then its end."""
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
    for lesson in rows:
        event = VEvent()
        event.add("uid", f"lesson-{lesson.id}@tutorctl")
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

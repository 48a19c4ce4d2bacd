"""Export lessons: CSV and JSON Lines that ``import reservations`` reads back, and iCalendar.

Streams rows from the database (``yield_per``) straight to the output: memory does not grow
with the number of lessons.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import TextIO

from sqlmodel import col

from tutorctl.core.errors import InputError
from tutorctl.core.views import LessonView
from tutorctl.db.schema import Reservation
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import lesson_query, lesson_view
from tutorctl.services.users import find_user

FORMATS = ("csv", "jsonl", "ics")
COLUMNS = ["teacher", "student", "category", "date", "start", "end", "status", "history"]


def lessons(
    tx: Tx, user_ref: str | None, first: date | None, last: date | None
) -> Iterator[LessonView]:
    query = lesson_query().where(col(Reservation.status).in_(("booked", "done")))
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
    for row in tx.session.execute(query):
        yield lesson_view(tx, row)


def _record(lesson: LessonView) -> dict[str, str]:
    end = "24:00" if lesson.end == "00:00" else lesson.end
    return {
        "teacher": lesson.teacher,
        "student": lesson.student,
        "category": lesson.category,
        "date": lesson.date,
        "start": lesson.start,
        "end": end,
        "status": lesson.status,
        "history": "true",
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
        for lesson in lessons(tx, user_ref, first, last):
            writer.writerow(_record(lesson))
            count += 1
    elif fmt == "jsonl":
        for lesson in lessons(tx, user_ref, first, last):
            out.write(json.dumps(_record(lesson), ensure_ascii=False) + "\n")
            count += 1
    else:
        count = _ics(tx, out, lessons(tx, user_ref, first, last))
    return count


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, 74
    return "\r\n ".join(parts) + "\r\n"


def _utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _ics(tx: Tx, out: TextIO, rows: Iterator[LessonView]) -> int:
    stamp = tx.now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    head = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//tutorctl//tutorctl//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-TIMEZONE:{tx.settings.timezone}",
    ]
    for line in head:
        out.write(_fold(line))
    count = 0
    for lesson in rows:
        summary = f"{lesson.category}: {lesson.teacher} with {lesson.student}"
        event = [
            "BEGIN:VEVENT",
            f"UID:lesson-{lesson.id}@tutorctl",
            f"DTSTAMP:{stamp}",
            f"DTSTART:{_utc(lesson.starts_at)}",
            f"DTEND:{_utc(lesson.ends_at)}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(f'lesson {lesson.id}, {lesson.duration_minutes} min, {lesson.status}')}",
            "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
        for line in event:
            out.write(_fold(line))
        count += 1
    out.write(_fold("END:VCALENDAR"))
    return count

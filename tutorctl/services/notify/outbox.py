"""The outbox at work (SPEC §11): reminders queued set-based, messages claimed under lock,
checked against the lessons as they stand, marked sent, retried or failed.

Claims: a message is ``sending`` under one run's token from the short transaction that claims
it (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the one writer) until the transaction that
records the server's answer, so overlapping runs never send it twice. A run killed in between
leaves it ``sending``: after ``STALE_CLAIM`` another run takes it again (the one message that
may go twice, with the same Message-ID).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from tutorctl.core.settings import SchoolSettings
from tutorctl.core.status import LessonStatus
from tutorctl.db import tables
from tutorctl.db.dialects import hours_before
from tutorctl.db.uow import Tx
from tutorctl.services.notify import told as told_of
from tutorctl.services.notify.messages import Row, row_of

_O, _R, _U, _C = tables.outbox, tables.reservations, tables.users, tables.categories
STALE_CLAIM = timedelta(minutes=15)
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)
LIVE = (LessonStatus.BOOKED, LessonStatus.DONE)


def queue_reminders(tx: Tx) -> int:
    """One INSERT … SELECT: a reminder for every booked lesson that starts within the school's
    ``reminder_hours`` as they are now (the range on ``starts_at`` reads its index), that was
    booked before that window opened for it (``booked_at``: none when booked inside it, its
    confirmation said so), whose student has an email and wants messages, and that has none
    yet (a moved lesson is a new row, booked when the move was applied: it gets one for its new
    time if the move came before the window; the unique index backs this up)."""
    hours = tx.settings.reminder_hours
    if not tx.settings.notifications or not hours:
        return 0
    due = (
        select(
            literal("reminder").label("kind"),
            literal("queued").label("status"),
            _U.c.id.label("user_id"),
            _U.c.email.label("to_address"),
            _U.c.name.label("to_name"),
            _R.c.session_id,
            _R.c.id.label("lesson_id"),
            literal("{}").label("payload"),
            literal(tx.now, _O.c.created_at.type).label("created_at"),
            literal(tx.now, _O.c.created_at.type).label("next_attempt_at"),
            literal(0).label("attempts"),
        )
        .select_from(_R.join(_U, _U.c.id == _R.c.student_id))
        .where(
            _R.c.starts_at > tx.now,
            _R.c.starts_at <= tx.now + timedelta(hours=hours),
            _R.c.status == LessonStatus.BOOKED,
            _R.c.booked_at < hours_before(tx.dialect, _R.c.starts_at, hours),
            _U.c.email.is_not(None),
            _U.c.notify.is_(True),
            ~exists().where(_O.c.kind == "reminder", _O.c.lesson_id == _R.c.id),
        )
    )
    columns = [c.name for c in due.selected_columns]
    added = tx.run(insert(_O).from_select(columns, due).returning(_O.c.id)).all()
    return len(added)


@dataclass(frozen=True)
class Claimed:
    rows: list[Row]
    obsolete: list[tuple[Row, str]]
    settings: SchoolSettings | None = None  # as the claim read them: the texts use them
    now: datetime | None = None


def _lessons(tx: Tx, ids: set[int]) -> dict[int, Any]:
    """The lessons named, as they stand, with their people and category (one statement)."""
    if not ids:
        return {}
    teacher, student = aliased(_U), aliased(_U)
    rows = tx.run(
        select(
            _R.c.id,
            _R.c.status,
            _R.c.starts_at,
            _R.c.ends_at,
            _R.c.lineage_id,
            _R.c.revision,
            _R.c.price_cents,
            teacher.c.name.label("teacher"),
            student.c.name.label("student"),
            _C.c.name.label("category"),
        )
        .join(teacher, teacher.c.id == _R.c.teacher_id)
        .join(student, student.c.id == _R.c.student_id)
        .join(_C, _C.c.id == _R.c.category_id)
        .where(tx.one_of(_R.c.id, ids))
    )
    return {row.id: row for row in rows}


def reminder_payload(lesson: Any) -> dict[str, Any]:
    return {
        "lessons": [
            {
                "action": "booked",
                "id": lesson.id,
                "uid": lesson.lineage_id or lesson.id,
                "sequence": lesson.revision,
                "teacher": lesson.teacher,
                "student": lesson.student,
                "category": lesson.category,
                "starts_at": lesson.starts_at.isoformat(),
                "ends_at": lesson.ends_at.isoformat(),
                "price_cents": lesson.price_cents,
            }
        ]
    }


def _stale(tx: Tx, row: Row, lessons: dict[int, Any], lesson_id: int | None) -> str | None:
    """Why a reminder no longer matches its lesson (None: it does)."""
    lesson = lessons.get(lesson_id or 0)
    if lesson is None or lesson.status != LessonStatus.BOOKED:
        return f"lesson {lesson_id} is no longer booked"
    if lesson.starts_at <= tx.now:
        return f"lesson {lesson_id} has started"
    return None


def _changed(item: dict[str, Any], lessons: dict[int, Any]) -> str | None:
    """Why one lesson of a message no longer stands as the message describes it."""
    if item["action"] == "cancelled":
        return None
    lesson = lessons.get(item["id"])
    if lesson is None or lesson.status not in LIVE:
        return f"lesson {item['id']} is no longer booked"
    if lesson.starts_at.isoformat() != item["starts_at"]:
        return f"lesson {item['id']} has moved"
    return None


def _standing(row: Row, lessons: dict[int, Any]) -> tuple[Row | None, str | None]:
    """A message as it can still be told: without the lessons changed since (their later
    change has its own message). None and the reason when nothing of it stands: no lesson
    and no money (the money of a receipt is always told)."""
    items = row.payload.get("lessons", [])
    whys = [_changed(item, lessons) for item in items]
    if not any(whys):
        return row, None
    kept = [item for item, why in zip(items, whys, strict=True) if why is None]
    if not kept and not any(row.payload.get("money", {}).values()):
        return None, next(w for w in whys if w)
    payload = {**row.payload, "lessons": kept}
    return Row(row.id, row.kind, row.to_address, row.to_name, row.session_id, payload), None


def claim(tx: Tx, token: str, limit: int) -> Claimed:
    """Up to ``limit`` messages due, claimed for this run. A message whose lessons changed
    since is told without them, and without the cancellations of lessons its person was never
    told of (``told``); one of which nothing stands becomes ``obsolete`` (not sent)."""
    tx.unchanged()
    claimable = or_(
        and_(_O.c.status == "queued", _O.c.next_attempt_at <= tx.now),
        and_(_O.c.status == "sending", _O.c.claimed_at < tx.now - STALE_CLAIM),
    )
    due = (
        select(_O.c.id)
        .where(claimable)
        .order_by(_O.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = [row[0] for row in tx.run(due)]
    if not ids:
        return Claimed([], [], tx.settings, tx.now)
    taken = sorted(
        tx.run(
            update(_O)
            .where(tx.one_of(_O.c.id, ids), claimable)  # checked again: the lock holds it
            .values(
                status="sending",
                claimed_by=token,
                claimed_at=tx.now,
                # the recipient as they are now (SPEC §11): a changed address is where it goes
                to_address=func.coalesce(_person(_U.c.email), _O.c.to_address),
                to_name=func.coalesce(_person(_U.c.name), _O.c.to_name),
            )
            .returning(*_O.c)
        ).all(),
        key=lambda r: r.id,
    )
    deaf = _unreachable(tx, {r.user_id for r in taken})
    wanted = {r.lesson_id for r in taken if r.lesson_id is not None}
    rows = [row_of(r) for r in taken]
    for row in rows:
        wanted |= {i["id"] for i in row.payload.get("lessons", []) if i["action"] != "cancelled"}
    lessons = _lessons(tx, wanted)
    pairs = set().union(*(told_of.asked(r, t.user_id) for r, t in zip(rows, taken, strict=True)))
    heard = told_of.told(tx, pairs, [r.id for r in rows])
    good: list[Row] = []
    gone: list[tuple[Row, str]] = []
    for row, raw in zip(rows, taken, strict=True):  # in id order: an earlier one tells first
        if raw.user_id in deaf:
            gone.append((row, deaf[raw.user_id]))
            continue
        if row.kind == "reminder":
            why = _stale(tx, row, lessons, raw.lesson_id)
            told: Row | None = None
            if why is None:  # its text is the lesson as it stands now
                payload = reminder_payload(lessons[raw.lesson_id])
                told = Row(row.id, row.kind, row.to_address, row.to_name, row.session_id, payload)
        else:
            told, why = _standing(row, lessons)
            if told is not None:  # nobody hears of a change to a lesson never told them
                told, why = told_of.as_heard(told, raw.user_id, heard)
        if told is None:
            gone.append((row, why or "obsolete"))
            continue
        heard.add(raw.user_id, row.id, told_of.uids(told.payload))
        if told.payload is not row.payload:  # stored as sent: a later look shows what went
            tx.run(update(_O).where(_O.c.id == row.id).values(payload=json.dumps(told.payload)))
        good.append(told)
    for row, why in gone:
        _set(tx, row.id, status="obsolete", last_error=why)
    return Claimed(good, gone, tx.settings, tx.now)


def _person(column: Any) -> Any:
    """One value of the message's recipient as they are now (a correlated subquery)."""
    return select(column).where(_U.c.id == _O.c.user_id).scalar_subquery()


def _unreachable(tx: Tx, ids: set[int]) -> dict[int, str]:
    """The recipients among ``ids`` who may no longer be told (one statement): why not."""
    why: dict[int, str] = {}
    for person in tx.run(select(_U.c.id, _U.c.email, _U.c.notify).where(tx.one_of(_U.c.id, ids))):
        if not person.notify:
            why[person.id] = "the recipient opted out"
        elif not person.email:
            why[person.id] = "the recipient has no email"
    return why


def _set(tx: Tx, message_id: int, **values: Any) -> None:
    tx.run(update(_O).where(_O.c.id == message_id).values(**values))


# built once: recording an acceptance is most of a run's statements
_MARK_SENT = (
    update(_O)
    .where(_O.c.id == bindparam("message_id"))
    .values(
        status="sent",
        attempts=_O.c.attempts + 1,  # the attempt that sent it counts (SPEC §11)
        sent_at=bindparam("sent_at", type_=_O.c.sent_at.type),
        claimed_by=None,
        last_error=None,
    )
)


def mark_sent(conn: Connection, message_id: int, now: datetime) -> None:
    """The server accepted the message: one statement in its own short transaction on a plain
    connection (the run's claim already checked the schema and read the settings)."""
    conn.execute(_MARK_SENT, {"message_id": message_id, "sent_at": now})


def mark_unsent(tx: Tx, message_id: int, answer: str, permanent: bool) -> str:
    """A failure: permanent (or the last attempt) → ``failed``; else queued again later, each
    wait twice the last. Returns the new status."""
    tx.unchanged()
    (attempts,) = tx.run(select(_O.c.attempts).where(_O.c.id == message_id)).one()
    attempts += 1
    if permanent or attempts >= MAX_ATTEMPTS:
        status, wait = "failed", timedelta(0)
    else:
        status, wait = "queued", min(FIRST_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
    _set(
        tx,
        message_id,
        status=status,
        attempts=attempts,
        next_attempt_at=tx.now + wait,
        last_error=answer[:500],
        claimed_by=None,
    )
    return status


def release(tx: Tx, token: str, ids: list[int]) -> None:
    """Claimed messages this run did not try (it stopped): queued again, as they were."""
    tx.unchanged()
    if ids:
        tx.run(
            update(_O)
            .where(tx.one_of(_O.c.id, ids), _O.c.claimed_by == token, _O.c.status == "sending")
            .values(status="queued", claimed_by=None, claimed_at=None)
        )

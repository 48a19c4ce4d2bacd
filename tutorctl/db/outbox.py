"""The outbox (SPEC §11): the messages a transaction's events call for, written in that same
transaction just before it commits, and sent later by ``notify send`` (nothing is sent inside
a booking transaction).

Who hears: the student of an applied session (one receipt listing every lesson booked, moved
or cancelled, with the money) and each teacher concerned (one message per teacher and
transaction, listing their lessons that changed); the student of a failed payment. Nobody
without an email or who opted out; nothing while the school's notifications are off, and never
for ``demo``. A message holds the facts it is made of (``payload``, JSON): its text is written
when it is sent, and checked then against the lessons as they stand.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, and_, insert, literal, select

from tutorctl.core.calendar_uid import lesson_sequence
from tutorctl.core.events import (
    Event,
    LessonBooked,
    LessonChange,
    LessonFact,
    LessonMoved,
    NotApplied,
    PackageUse,
    PaymentFailed,
    SessionApplied,
    SessionMoney,
    SessionsSettled,
)
from tutorctl.db import tables

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

_U, _O, _S = tables.users, tables.outbox, tables.booking_sessions
QUEUED = "queued"


def wanted(tx: Tx) -> bool:
    """Whether this transaction's events become messages at all."""
    return tx.settings.notifications and not tx.command.startswith("demo")


def _item(action: str, lesson: LessonFact, names: dict[int, str], **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "id": lesson.id,
        "uid": lesson.lineage,
        "sequence": lesson_sequence(lesson.revision, cancelled=action == "cancelled"),
        "teacher": names.get(lesson.teacher_id, ""),
        "student": names.get(lesson.student_id, ""),
        "category": lesson.category,
        "starts_at": lesson.starts_at.isoformat(),
        "ends_at": lesson.ends_at.isoformat(),
        "price_cents": lesson.price_cents,
        **extra,
    }


def _packages(uses: tuple[PackageUse, ...]) -> dict[str, Any]:
    """The package hours that paid a lesson (none: no key, the line is as it always was)."""
    return {"packages": [vars(u) for u in uses]} if uses else {}


def _items(change: LessonChange, names: dict[int, str]) -> tuple[int, dict[str, Any]]:
    """(teacher id, the message line) of one change."""
    if isinstance(change, LessonBooked):
        return change.lesson.teacher_id, _item(
            "booked", change.lesson, names, **_packages(change.packages)
        )
    if isinstance(change, LessonMoved):
        return change.new.teacher_id, _item(
            "moved",
            change.new,
            names,
            old_id=change.old.id,
            old_starts_at=change.old.starts_at.isoformat(),
            old_ends_at=change.old.ends_at.isoformat(),
            refund_cents=change.refund_cents,
            extra_cents=change.extra_cents,
            **_packages(change.packages),
        )
    return change.lesson.teacher_id, _item(
        "cancelled",
        change.lesson,
        names,
        refund_cents=change.refund_cents,
        refund_minutes=change.refund_minutes,
        late=change.late,
    )


def _not_applied(dropped: tuple[NotApplied, ...], names: dict[int, str]) -> dict[str, Any]:
    """What a paid session left out, and why (none: no key, the payload is as it was)."""
    if not dropped:
        return {}
    return {"not_applied": [{**_item(d.kind, d.lesson, names), "why": d.why} for d in dropped]}


def _money(money: SessionMoney) -> dict[str, int]:
    """A receipt's money; no surplus key when none went back (the payload is as it was)."""
    return {k: v for k, v in vars(money).items() if v or k != "surplus_cents"}


def _people(tx: Tx, ids: set[int]) -> dict[int, Any]:
    """id → (id, name, email, notify) of these people, in one statement."""
    rows = tx.run(
        select(_U.c.id, _U.c.name, _U.c.email, _U.c.notify).where(tx.one_of(_U.c.id, ids))
    )
    return {row.id: row for row in rows}


def _row(
    tx: Tx, kind: str, person: Any, session_id: int | None, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "kind": kind,
        "status": QUEUED,
        "user_id": person.id,
        "to_address": person.email,
        "to_name": person.name,
        "session_id": session_id,
        "lesson_id": None,
        "payload": json.dumps(payload, sort_keys=True),
        "created_at": tx.now,
        "next_attempt_at": tx.now,
        "attempts": 0,
    }


def queue(tx: Tx, events: Sequence[Event]) -> int:
    """Write the messages ``events`` call for; how many."""
    applied = [e for e in events if isinstance(e, SessionApplied) and e.changes]
    count = 0
    if applied:
        count += _queue_applied(tx, applied)
    for event in events:
        if isinstance(event, PaymentFailed):
            count += _queue_failed(tx, (event.session_id,), event.why, _taken(tx, event))
        elif isinstance(event, SessionsSettled) and event.payments_failed and event.session_ids:
            count += _queue_failed(tx, event.session_ids, event.why)
    return count


def _queue_applied(tx: Tx, applied: list[SessionApplied]) -> int:
    ids: set[int] = set()
    for event in applied:
        ids.add(event.student_id)
        for change in event.changes:
            fact = change.new if isinstance(change, LessonMoved) else change.lesson
            ids.add(fact.teacher_id)
        ids.update(d.lesson.teacher_id for d in event.not_applied)
    people = _people(tx, ids)
    names = {i: p.name for i, p in people.items()}
    currency = tx.settings.currency
    rows: list[dict[str, Any]] = []
    by_teacher: dict[int, list[dict[str, Any]]] = defaultdict(list)
    reasons: dict[int, str] = {}
    for event in applied:
        lines = []
        for change in event.changes:
            teacher_id, line = _items(change, names)
            lines.append(line)
            by_teacher[teacher_id].append(line)
            if event.reason:
                reasons[teacher_id] = event.reason
        student = people.get(event.student_id)
        if student is not None and student.email and student.notify:
            payload = {
                "lessons": lines,
                "money": _money(event.money),
                "currency": currency,
                "reason": event.reason,
                **_not_applied(event.not_applied, names),
            }
            rows.append(_row(tx, "receipt", student, event.session_id, payload))
    for teacher_id, lines in by_teacher.items():
        teacher = people.get(teacher_id)
        if teacher is not None and teacher.email and teacher.notify:
            session = applied[0].session_id if len(applied) == 1 else None
            payload = {"lessons": lines, "currency": currency, "reason": reasons.get(teacher_id)}
            rows.append(_row(tx, "teacher", teacher, session, payload))
    if rows:
        tx.run(insert(_O), rows)
    return len(rows)


def _taken(tx: Tx, event: PaymentFailed) -> dict[str, Any]:
    """A payment taken that booked nothing: its money (all to the balance), and the lessons
    it did not book with why (none for a refused payment: the payload is as it was)."""
    if event.money is None:
        return {}
    teachers = {d.lesson.teacher_id for d in event.not_applied}
    names = {i: p.name for i, p in _people(tx, teachers | {event.student_id}).items()}
    return {"money": vars(event.money), **_not_applied(event.not_applied, names)}


def _queue_failed(
    tx: Tx, session_ids: Sequence[int], why: str, extra: dict[str, Any] | None = None
) -> int:
    """The students of these sessions, set-based (``expire`` fails a batch at once)."""
    facts = {"why": why, "currency": tx.settings.currency, **(extra or {})}
    payload = json.dumps(facts, sort_keys=True)
    chosen = (
        select(
            literal("payment_failed").label("kind"),
            literal(QUEUED).label("status"),
            _U.c.id.label("user_id"),
            _U.c.email.label("to_address"),
            _U.c.name.label("to_name"),
            _S.c.id.label("session_id"),
            literal(payload).label("payload"),
            literal(tx.now, _O.c.created_at.type).label("created_at"),
            literal(tx.now, _O.c.created_at.type).label("next_attempt_at"),
            literal(0).label("attempts"),
        )
        .select_from(_S.join(_U, _U.c.id == _S.c.student_id))
        .where(
            tx.one_of(_S.c.id, session_ids),
            and_(_U.c.email.is_not(None), _U.c.notify.is_(True)),
        )
    )
    columns = [
        "kind", "status", "user_id", "to_address", "to_name", "session_id", "payload",
        "created_at", "next_attempt_at", "attempts",
    ]  # fmt: skip
    result = cast("CursorResult[Any]", tx.run(insert(_O).from_select(columns, chosen)))
    return int(result.rowcount or 0)

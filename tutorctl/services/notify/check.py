"""Invariant 10 of ``check`` (SPEC §11): the messages are there, and no reminder went out
for a lesson that was not booked when it was sent. Set-based, like the other invariants.

"While notifications were on" is read from history: each ``db init`` stores the whole
settings (``subject = 'settings'``), so the stretches of time they were on are known. A person
"who has an email and did not opt out" is one who has them now and whose email or choice did
not change after the session was applied (history of ``user add|set``, ``import users``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus, PaymentStatus
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import history as H
from tutorctl.db.tables import history_users as HU
from tutorctl.db.tables import operations as O
from tutorctl.db.tables import outbox as OB
from tutorctl.db.tables import payments as PAY
from tutorctl.db.tables import reservations as R
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx

LIMIT = 50
PEOPLE_COMMANDS = ("user add", "user set", "import users")


def _on_stretches(tx: Tx) -> list[tuple[datetime, datetime | None]]:
    """[from, until) stretches of time the school's notifications were on."""
    rows = tx.run(
        select(H.c.at, H.c.details).where(H.c.subject == "settings").order_by(H.c.at, H.c.id)
    ).all()
    stretches: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for at, details in rows:
        on = bool(json.loads(details).get("notifications", False))
        if on and since is None:
            since = at
        elif not on and since is not None:
            stretches.append((since, at))
            since = None
    if since is not None:
        stretches.append((since, None))
    return stretches


def _wants(person: Any, of: Any = O, at: Any = O.c.applied_at) -> Any:
    """Has an email, did not opt out, and neither changed after the session's operations were
    applied (history in commit order: after the session's first history row from then on);
    ``of`` and ``at``: the row (an operation, a payment) and the instant it was told of."""
    later = aliased(H)
    applied_row = (
        select(func.min(later.c.id))
        .where(later.c.session_id == of.c.session_id, later.c.at >= at)
        .correlate(of)  # the row of the query this condition is in, two levels up
        .scalar_subquery()
    )
    changed = (
        select(HU.c.history_id)
        .join(H, H.c.id == HU.c.history_id)
        .where(HU.c.user_id == person.c.id, H.c.command.in_(PEOPLE_COMMANDS), H.c.id > applied_row)
    )
    return and_(person.c.email.is_not(None), person.c.notify.is_(True), ~changed.exists())


def _missing(tx: Tx, start: datetime, end: datetime | None) -> list[str]:
    # `demo` never queues a message: its sessions are not counted
    by_demo = exists().where(H.c.session_id == O.c.session_id, H.c.command.like("demo%"))
    applied = [O.c.status == OperationStatus.APPLIED, O.c.applied_at >= start, ~by_demo]
    if end is not None:
        applied.append(O.c.applied_at < end)
    student = aliased(U)
    no_receipt = (
        select(S.c.id, student.c.handle)
        .distinct()
        .join(O, O.c.session_id == S.c.id)
        .join(student, student.c.id == S.c.student_id)
        .where(
            *applied,
            _wants(student),
            ~exists().where(
                OB.c.session_id == S.c.id, OB.c.user_id == student.c.id, OB.c.kind == "receipt"
            ),
        )
        .limit(LIMIT)
    )
    found = [f"messages: session {s} has no receipt for {who}" for s, who in tx.run(no_receipt)]
    teacher = aliased(U)
    lesson = aliased(R)
    no_message = (
        select(O.c.session_id, teacher.c.handle)
        .distinct()
        .join(lesson, or_(lesson.c.id == O.c.new_id, lesson.c.id == O.c.target_id))
        .join(teacher, teacher.c.id == lesson.c.teacher_id)
        .where(
            *applied,
            _wants(teacher),
            ~exists().where(
                OB.c.user_id == teacher.c.id,
                OB.c.kind == "teacher",
                OB.c.created_at == O.c.applied_at,
            ),
        )
        .limit(LIMIT)
    )
    found += [f"messages: session {s} has no message for {who}" for s, who in tx.run(no_message)]
    return found + _untold_payments(tx, start, end)


def _untold_payments(tx: Tx, start: datetime, end: datetime | None) -> list[str]:
    """A payment taken (succeeded) that applied nothing (time overtook every lesson of it, or
    it no longer covered the resume): its money went to the balance, and the student must
    have been told, by a receipt or the message of the failed payment (README)."""
    settled = [PAY.c.status == PaymentStatus.SUCCEEDED, PAY.c.settled_at >= start]
    if end is not None:
        settled.append(PAY.c.settled_at < end)
    student = aliased(U)
    untold = (
        select(S.c.id, PAY.c.id, student.c.handle)
        .distinct()
        .join(PAY, PAY.c.session_id == S.c.id)
        .join(student, student.c.id == S.c.student_id)
        .where(
            *settled,
            ~exists().where(H.c.session_id == S.c.id, H.c.command.like("demo%")),
            # a session that applied operations: its receipt is checked above
            ~exists().where(O.c.session_id == S.c.id, O.c.status == OperationStatus.APPLIED),
            _wants(student, PAY, PAY.c.settled_at),
            ~exists().where(
                OB.c.session_id == S.c.id,
                OB.c.user_id == student.c.id,
                OB.c.kind.in_(("receipt", "payment_failed")),
            ),
        )
        .limit(LIMIT)
    )
    return [
        f"messages: session {s} took payment {p} and told {who} nothing"
        for s, p, who in tx.run(untold)
    ]


def messages(tx: Tx) -> list[str]:
    """10. every session applied while notifications were on has its messages for each
    person concerned who has an email and did not opt out, and so has every payment taken
    that applied nothing; no reminder was sent for a lesson that was not booked at that time"""
    found = [line for start, end in _on_stretches(tx) for line in _missing(tx, start, end)]
    # a reminder sent for a lesson never booked, booked only after it was sent, or
    # cancelled or moved away before it was sent
    changed_before = exists().where(
        O.c.target_id == R.c.id,
        O.c.kind.in_((OperationKind.CANCEL, OperationKind.MOVE)),
        O.c.status == OperationStatus.APPLIED,
        O.c.applied_at < OB.c.sent_at,
    )
    booked_after = exists().where(
        O.c.new_id == R.c.id, O.c.status == OperationStatus.APPLIED, O.c.applied_at > OB.c.sent_at
    )
    wrong = (
        select(OB.c.id, R.c.id)
        .join(R, R.c.id == OB.c.lesson_id)
        .where(
            OB.c.kind == "reminder",
            OB.c.status == "sent",
            or_(
                R.c.status.not_in((LessonStatus.BOOKED, LessonStatus.DONE, LessonStatus.CANCELLED)),
                changed_before,
                booked_after,
            ),
        )
        .limit(LIMIT)
    )
    found += [
        f"messages: reminder {m} was sent when lesson {r} was not booked" for m, r in tx.run(wrong)
    ]
    return found

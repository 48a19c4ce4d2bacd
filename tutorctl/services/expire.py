"""``tutorctl expire``, the cron job: set-based, batched, idempotent, safe beside staff.

Each batch is one short unit of work: select up to ``batch`` candidates, lock the calendar
weeks of their lessons (the same ordered lock as every mutation), then update with the
condition re-checked (``WHERE status = …``), so a session paid or touched meanwhile is left
alone and two concurrent runs never process a row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import String, and_, cast, literal, select, update

from tutorctl.core.events import PaymentsFailed
from tutorctl.core.status import LessonStatus, OperationKind, PaymentStatus, SessionStatus
from tutorctl.core.views import ExpireView
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import payments as PAY
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Database, Tx
from tutorctl.services.holds import lock_sessions, release_holds

DEFAULT_BATCH = 1000


@dataclass
class BatchResult:
    sessions: int = 0
    payments: int = 0
    released: int = 0
    done: int = 0
    candidates: int = 0


def _audit_sessions(tx: Tx, session_ids: list[int], status: SessionStatus) -> None:
    """One history row per settled session, with its session and student (set-based)."""
    tx.audit_from(
        select(
            (literal(f"{status} session ") + cast(S.c.id, String)).label("subject"),
            (literal(",") + cast(S.c.student_id, String) + literal(",")).label("user_ids"),
            S.c.id.label("session_id"),
            literal(f'{{"status": "{status}"}}').label("details"),
        ).where(tx.one_of(S.c.id, session_ids))
    )


@dataclass(frozen=True)
class _Overdue:
    """One kind of session time overtook: which ones, what they become, what is abandoned."""

    stale: Any  # the condition, checked again under the locks
    status: SessionStatus
    stamp: str  # the column set to now
    abandon: tuple[OperationKind, ...]
    why: str


def _settle_overdue(tx: Tx, batch: int, overdue: _Overdue) -> tuple[list[int], int, int]:
    """Up to ``batch`` overdue sessions moved on under their locks: (their ids, candidates,
    holds released)."""
    ids = [
        row[0] for row in tx.run(select(S.c.id).where(overdue.stale).order_by(S.c.id).limit(batch))
    ]
    if not ids:
        tx.unchanged()
        return [], 0, 0
    lock_sessions(tx, ids)
    changed = [
        row[0]
        for row in tx.run(
            update(S)
            .where(tx.one_of(S.c.id, ids), overdue.stale)
            .values(status=overdue.status, **{overdue.stamp: tx.now})
            .returning(S.c.id)
        )
    ]
    if not changed:
        tx.unchanged()
        return [], len(ids), 0
    if overdue.status == SessionStatus.PAYMENT_FAILED:
        tx.run(
            update(PAY)
            .where(tx.one_of(PAY.c.session_id, changed), PAY.c.status == PaymentStatus.PENDING)
            .values(status=PaymentStatus.FAILED, settled_at=tx.now)
        )
        tx.record(PaymentsFailed(tuple(changed), overdue.why))
    released = release_holds(tx, sessions=changed, abandon=overdue.abandon, note=overdue.why)
    _audit_sessions(tx, changed, overdue.status)
    return changed, len(ids), released


def expire_idle_sessions(tx: Tx, batch: int) -> BatchResult:
    minutes = tx.settings.hold_minutes
    idle = _Overdue(
        and_(
            S.c.status == SessionStatus.OPEN, S.c.touched_at < tx.now - timedelta(minutes=minutes)
        ),
        SessionStatus.EXPIRED,
        "closed_at",
        tuple(OperationKind),
        f"the session was idle over {minutes} min: expired",
    )
    expired, candidates, released = _settle_overdue(tx, batch, idle)
    return BatchResult(sessions=len(expired), released=released, candidates=candidates)


def fail_stale_payments(tx: Tx, batch: int) -> BatchResult:
    minutes = tx.settings.payment_minutes
    silent = _Overdue(
        and_(
            S.c.status == SessionStatus.AWAITING_PAYMENT,
            S.c.payment_started_at < tx.now - timedelta(minutes=minutes),
        ),
        SessionStatus.PAYMENT_FAILED,
        "touched_at",
        (OperationKind.RESERVE,),
        f"the payment had no answer in {minutes} min: failed",
    )
    failed, candidates, released = _settle_overdue(tx, batch, silent)
    return BatchResult(payments=len(failed), released=released, candidates=candidates)


def mark_done(tx: Tx, batch: int) -> BatchResult:
    ended = and_(R.c.status == LessonStatus.BOOKED, R.c.ends_at <= tx.now)
    rows = list(
        tx.run(
            select(R.c.id, R.c.teacher_id, R.c.student_id, R.c.week)
            .where(ended)
            .order_by(R.c.id)
            .limit(batch)
        )
    )
    if not rows:
        tx.unchanged()
        return BatchResult()
    tx.lock(weeks={key for _i, t, s, w in rows for key in ((t, w), (s, w))})
    done = [
        row[0]
        for row in tx.run(
            update(R)
            .where(tx.one_of(R.c.id, [r[0] for r in rows]), ended)
            .values(status=LessonStatus.DONE)
            .returning(R.c.id)
        )
    ]
    if not done:
        tx.unchanged()
        return BatchResult(candidates=len(rows))
    # one history row per lesson, with both people and the session that booked it
    lesson_id = cast(R.c.id, String)
    tx.audit_from(
        select(
            (literal("lesson ") + lesson_id + literal(" done")).label("subject"),
            (
                literal(",")
                + cast(R.c.teacher_id, String)
                + literal(",")
                + cast(R.c.student_id, String)
                + literal(",")
            ).label("user_ids"),
            R.c.session_id.label("session_id"),
            (literal('{"reservation": ') + lesson_id + literal("}")).label("details"),
        ).where(tx.one_of(R.c.id, done))
    )
    return BatchResult(done=len(done), candidates=len(rows))


def _step(step: Callable[[Tx, int], BatchResult], batch: int, tx: Tx) -> BatchResult:
    return step(tx, batch)


def expire_all(db: Database, batch: int = DEFAULT_BATCH) -> ExpireView:
    """Run every kind of expiry in bounded batches until nothing is left."""
    total = BatchResult()
    batches = 0
    steps: list[tuple[str, Callable[[Tx, int], BatchResult]]] = [
        ("expire", expire_idle_sessions),
        ("expire", fail_stale_payments),
        ("expire", mark_done),
    ]
    for command, step in steps:
        while True:
            result = db.write(command, partial(_step, step, batch))
            batches += 1
            total.sessions += result.sessions
            total.payments += result.payments
            total.released += result.released
            total.done += result.done
            if result.candidates < batch:
                break
    return ExpireView(
        expired_sessions=total.sessions,
        failed_payments=total.payments,
        released_holds=total.released,
        done_lessons=total.done,
        batches=batches,
    )

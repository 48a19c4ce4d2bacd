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
from typing import Any

from sqlalchemy import String, and_, cast, literal, or_, select, update

from tutorctl.core.views import ExpireView
from tutorctl.db.schema import BookingSession, Operation, Payment, Reservation
from tutorctl.db.uow import Database, Tx

S = BookingSession.__table__  # type: ignore[attr-defined]
O = Operation.__table__  # type: ignore[attr-defined]  # noqa: E741
R = Reservation.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]

DEFAULT_BATCH = 1000


@dataclass
class BatchResult:
    sessions: int = 0
    payments: int = 0
    released: int = 0
    done: int = 0
    candidates: int = 0


def _lock_sessions(tx: Tx, session_ids: list[int]) -> None:
    """Lock the students' accounts (they serialise their sessions), then the weeks of the lessons."""
    students = [
        row[0]
        for row in tx.session.execute(select(S.c.student_id).where(tx.one_of(S.c.id, session_ids)))
    ]
    tx.lock(accounts=students)
    tx.lock(weeks=_weeks_of_sessions(tx, session_ids))


def _weeks_of_sessions(tx: Tx, session_ids: list[int]) -> set[tuple[int, Any]]:
    rows = tx.session.execute(
        select(R.c.teacher_id, R.c.student_id, R.c.week)
        .select_from(R.join(O, or_(O.c.new_id == R.c.id, O.c.target_id == R.c.id)))
        .where(tx.one_of(O.c.session_id, session_ids), O.c.status == "pending")
        .distinct()
    )
    return {key for t, s, w in rows for key in ((t, w), (s, w))}


def _release(tx: Tx, session_ids: list[int], reserve_only: bool, why: str) -> int:
    """Release the holds of these sessions' pending operations; abandon them (or only
    reserves), saying ``why``."""
    held = select(O.c.new_id).where(
        tx.one_of(O.c.session_id, session_ids), O.c.status == "pending", O.c.new_id.is_not(None)
    )
    released = len(
        tx.session.execute(
            update(R)
            .where(R.c.id.in_(held), R.c.status == "held")
            .values(status="released")
            .returning(R.c.id)
        ).all()
    )
    abandon = and_(tx.one_of(O.c.session_id, session_ids), O.c.status == "pending")
    if reserve_only:
        abandon = and_(abandon, O.c.kind == "reserve")
    tx.session.execute(
        update(O).where(abandon).values(status="abandoned", applied_at=tx.now, note=why)
    )
    return released


def _audit_sessions(tx: Tx, session_ids: list[int], status: str) -> None:
    """One history row per settled session, with its session and student (set-based)."""
    tx.audit_from(
        select(
            (literal(f"{status} session ") + cast(S.c.id, String)).label("subject"),
            (literal(",") + cast(S.c.student_id, String) + literal(",")).label("user_ids"),
            S.c.id.label("session_id"),
            literal(f'{{"status": "{status}"}}').label("details"),
        ).where(tx.one_of(S.c.id, session_ids))
    )


def expire_idle_sessions(tx: Tx, batch: int) -> BatchResult:
    cutoff = tx.now - timedelta(minutes=tx.settings.hold_minutes)
    stale = and_(S.c.status == "open", S.c.touched_at < cutoff)
    ids = [
        row[0]
        for row in tx.session.execute(select(S.c.id).where(stale).order_by(S.c.id).limit(batch))
    ]
    if not ids:
        tx.unchanged()
        return BatchResult()
    _lock_sessions(tx, ids)
    expired = [
        row[0]
        for row in tx.session.execute(
            update(S)
            .where(tx.one_of(S.c.id, ids), stale)
            .values(status="expired", closed_at=tx.now)
            .returning(S.c.id)
        )
    ]
    if not expired:
        tx.unchanged()
        return BatchResult(candidates=len(ids))
    idle = f"the session was idle over {tx.settings.hold_minutes} min: expired"
    released = _release(tx, expired, reserve_only=False, why=idle)
    _audit_sessions(tx, expired, "expired")
    return BatchResult(sessions=len(expired), released=released, candidates=len(ids))


def fail_stale_payments(tx: Tx, batch: int) -> BatchResult:
    cutoff = tx.now - timedelta(minutes=tx.settings.payment_minutes)
    stale = and_(S.c.status == "awaiting_payment", S.c.payment_started_at < cutoff)
    ids = [
        row[0]
        for row in tx.session.execute(select(S.c.id).where(stale).order_by(S.c.id).limit(batch))
    ]
    if not ids:
        tx.unchanged()
        return BatchResult()
    _lock_sessions(tx, ids)
    failed = [
        row[0]
        for row in tx.session.execute(
            update(S)
            .where(tx.one_of(S.c.id, ids), stale)
            .values(status="payment_failed", touched_at=tx.now)
            .returning(S.c.id)
        )
    ]
    if not failed:
        tx.unchanged()
        return BatchResult(candidates=len(ids))
    tx.session.execute(
        update(PAY)
        .where(tx.one_of(PAY.c.session_id, failed), PAY.c.status == "pending")
        .values(status="failed", settled_at=tx.now)
    )
    silent = f"the payment had no answer in {tx.settings.payment_minutes} min: failed"
    released = _release(tx, failed, reserve_only=True, why=silent)
    _audit_sessions(tx, failed, "payment_failed")
    return BatchResult(payments=len(failed), released=released, candidates=len(ids))


def mark_done(tx: Tx, batch: int) -> BatchResult:
    ended = and_(R.c.status == "booked", R.c.ends_at <= tx.now)
    rows = list(
        tx.session.execute(
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
        for row in tx.session.execute(
            update(R)
            .where(tx.one_of(R.c.id, [r[0] for r in rows]), ended)
            .values(status="done")
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
            result = db.write(command, lambda tx, step=step: step(tx, batch))  # type: ignore[misc]
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

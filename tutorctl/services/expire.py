"""``tutorctl expire``, the cron job: set-based, batched, idempotent, safe beside staff.

Besides what time overtakes (idle open sessions, silent payments, lessons that ended) it
closes the sessions staff left (SPEC §5 "Sessions that nobody closes"): a ``paid`` session
idle longer than the hold time becomes ``applied``; a ``payment_failed`` one becomes
``expired``, its waiting cancels and moves abandoned with the reason.

Each batch is one short unit of work: select up to ``batch`` candidates, lock the calendar
weeks of their lessons (the same ordered lock as every mutation), then update with the
condition re-checked (``WHERE status = …``), so a session paid or touched meanwhile is left
alone and two concurrent runs never process a row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, select, update

from tutorctl.core.events import LessonsDone, SessionsSettled
from tutorctl.core.status import LessonStatus, OperationKind, PaymentStatus, SessionStatus
from tutorctl.core.views import ExpireView
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import payments as PAY
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Database, Tx
from tutorctl.services.holds import lock_sessions, release_and_abandon

DEFAULT_BATCH = 1000


@dataclass
class BatchResult:
    sessions: int = 0
    payments: int = 0
    released: int = 0
    done: int = 0
    closed_paid: int = 0
    closed_failed: int = 0
    abandoned: int = 0
    candidates: int = 0

    def add(self, other: BatchResult) -> None:
        for name in (f.name for f in fields(self) if f.name != "candidates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class _Overdue:
    """One kind of session time overtook: which ones, what they become, what is abandoned."""

    stale: Any  # the condition, checked again under the locks
    was: SessionStatus
    status: SessionStatus
    stamp: str  # the column set to now
    abandon: tuple[OperationKind, ...]
    why: str


@dataclass(frozen=True)
class _Settled:
    ids: list[int]  # the sessions moved on
    candidates: int
    released: int  # holds released
    abandoned: int  # operations abandoned


def _settle_overdue(tx: Tx, batch: int, overdue: _Overdue) -> _Settled:
    """Up to ``batch`` overdue sessions moved on under their locks (accounts, then the weeks
    of what their pending operations touch: the order of every mutation)."""
    stale = and_(S.c.status == overdue.was, overdue.stale)
    ids = [row[0] for row in tx.run(select(S.c.id).where(stale).order_by(S.c.id).limit(batch))]
    if not ids:
        tx.unchanged()
        return _Settled([], 0, 0, 0)
    lock_sessions(tx, ids)
    changed = [
        row[0]
        for row in tx.run(
            update(S)
            .where(tx.one_of(S.c.id, ids), stale)
            .values(status=overdue.status, **{overdue.stamp: tx.now})
            .returning(S.c.id)
        )
    ]
    if not changed:
        tx.unchanged()
        return _Settled([], len(ids), 0, 0)
    if overdue.status == SessionStatus.PAYMENT_FAILED:
        tx.run(
            update(PAY)
            .where(tx.one_of(PAY.c.session_id, changed), PAY.c.status == PaymentStatus.PENDING)
            .values(status=PaymentStatus.FAILED, settled_at=tx.now)
        )
    released = abandoned = 0
    if overdue.abandon:  # a paid session has nothing pending: it only changes status
        released, abandoned = release_and_abandon(
            tx, sessions=changed, abandon=overdue.abandon, note=overdue.why
        )
    # one event for the whole batch: a history row per session (set-based) and, for failed
    # payments, a message to each student
    tx.record(SessionsSettled(tuple(changed), overdue.status, overdue.was, overdue.why))
    return _Settled(changed, len(ids), released, abandoned)


def _idle(tx: Tx) -> Any:
    return S.c.touched_at < tx.now - timedelta(minutes=tx.settings.hold_minutes)


def expire_idle_sessions(tx: Tx, batch: int) -> BatchResult:
    minutes = tx.settings.hold_minutes
    idle = _Overdue(
        _idle(tx),
        SessionStatus.OPEN,
        SessionStatus.EXPIRED,
        "closed_at",
        tuple(OperationKind),
        f"the session was idle over {minutes} min: expired",
    )
    done = _settle_overdue(tx, batch, idle)
    return BatchResult(
        sessions=len(done.ids),
        released=done.released,
        abandoned=done.abandoned,
        candidates=done.candidates,
    )


def fail_stale_payments(tx: Tx, batch: int) -> BatchResult:
    minutes = tx.settings.payment_minutes
    silent = _Overdue(
        S.c.payment_started_at < tx.now - timedelta(minutes=minutes),
        SessionStatus.AWAITING_PAYMENT,
        SessionStatus.PAYMENT_FAILED,
        "touched_at",  # staff then have the hold time to confirm its cancels and moves
        (OperationKind.RESERVE,),
        f"the payment had no answer in {minutes} min: failed",
    )
    done = _settle_overdue(tx, batch, silent)
    return BatchResult(
        payments=len(done.ids),
        released=done.released,
        abandoned=done.abandoned,
        candidates=done.candidates,
    )


def close_paid_sessions(tx: Tx, batch: int) -> BatchResult:
    """A paid session is applied already (its lessons booked, money moved): closing it only
    changes its status, as ``session confirm`` would."""
    left = _Overdue(_idle(tx), SessionStatus.PAID, SessionStatus.APPLIED, "closed_at", (), "")
    done = _settle_overdue(tx, batch, left)
    return BatchResult(closed_paid=len(done.ids), candidates=done.candidates)


def close_failed_sessions(tx: Tx, batch: int) -> BatchResult:
    """A failed session nobody confirmed: its waiting cancels and moves are abandoned (nothing
    cancelled, moved or refunded), as ``session confirm`` with no choice would, but the session
    ends ``expired``: nobody chose."""
    minutes = tx.settings.hold_minutes
    left = _Overdue(
        _idle(tx),
        SessionStatus.PAYMENT_FAILED,
        SessionStatus.EXPIRED,
        "closed_at",
        tuple(OperationKind),
        # "the session was idle" first: the note names the session's idleness, not time
        # overtaking the lesson
        f"the session was idle over {minutes} min after its payment failed: expired "
        "(nobody confirmed it)",
    )
    done = _settle_overdue(tx, batch, left)
    return BatchResult(
        closed_failed=len(done.ids),
        released=done.released,
        abandoned=done.abandoned,
        candidates=done.candidates,
    )


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
    tx.record(LessonsDone(tuple(done)))  # a history row per lesson, set-based
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
        ("expire", close_paid_sessions),
        ("expire", close_failed_sessions),
        ("expire", mark_done),
    ]
    for command, step in steps:
        while True:
            result = db.write(command, partial(_step, step, batch))
            batches += 1
            total.add(result)
            if result.candidates < batch:
                break
    return ExpireView(
        expired_sessions=total.sessions,
        failed_payments=total.payments,
        closed_paid_sessions=total.closed_paid,
        closed_failed_sessions=total.closed_failed,
        abandoned_operations=total.abandoned,
        released_holds=total.released,
        done_lessons=total.done,
        batches=batches,
    )

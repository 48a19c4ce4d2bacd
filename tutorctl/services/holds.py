"""What booking sessions touch, how they are locked, and how their holds are released.

A session's operations name lessons: the hold a reserve or move made (``new_id``) and the
booked lesson a cancel or move changes (``target_id``). Those lessons give the people and
calendar weeks the session touches. Every path that changes a session (reserve, cancel, move,
drop, abandon, pay, confirm, expire, teacher off) locks the student's account first (it
serialises their sessions and money), then exactly those weeks, in one ``Tx.lock`` order, so
locks never form a cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import and_, or_, select, update

from tutorctl.core.status import LessonStatus, OperationKind, OperationStatus
from tutorctl.db.locks import WeekKey
from tutorctl.db.schema import BookingSession
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import operations as O
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_id


class Place(NamedTuple):
    """Where a lesson sits for the locks: its two people and its calendar week."""

    teacher_id: int
    student_id: int
    week: date


@dataclass(frozen=True)
class Touch:
    """The lessons (by id) a set of operations touches, and so their people and weeks."""

    lessons: dict[int, Place]

    @property
    def people(self) -> list[int]:
        return sorted({p for place in self.lessons.values() for p in _people(place)})

    @property
    def weeks(self) -> set[WeekKey]:
        return {(p, place.week) for place in self.lessons.values() for p in _people(place)}

    @staticmethod
    def of(places: Iterable[Place]) -> Touch:
        """The touch of lessons not in the database yet (a reserve's new places, a move's)."""
        return Touch(dict(enumerate(places)))


def _people(place: Place) -> tuple[int, int]:
    return place.teacher_id, place.student_id


def touched(
    tx: Tx,
    *,
    sessions: Iterable[int] = (),
    operations: Iterable[int] = (),
    lessons: Iterable[int] = (),
    pending_only: bool = True,
) -> Touch:
    """What these sessions' operations (or these operations, or these lessons) touch: one
    query. ``pending_only=False`` counts settled operations too (paying re-locks every week
    its session ever held)."""
    session_ids, operation_ids, lesson_ids = list(sessions), list(operations), list(lessons)
    query = select(R.c.id, R.c.teacher_id, R.c.student_id, R.c.week)
    if lesson_ids:
        query = query.where(tx.one_of(R.c.id, lesson_ids))
    else:
        if not session_ids and not operation_ids:
            return Touch({})
        on = or_(O.c.new_id == R.c.id, O.c.target_id == R.c.id)
        query = query.select_from(R.join(O, on))
        if session_ids:
            query = query.where(tx.one_of(O.c.session_id, session_ids))
        if operation_ids:
            query = query.where(tx.one_of(O.c.id, operation_ids))
        if pending_only:
            query = query.where(O.c.status == OperationStatus.PENDING)
    rows = tx.run(query.distinct())
    return Touch({i: Place(t, s, w) for i, t, s, w in rows})


def lock_sessions(
    tx: Tx,
    session_ids: list[int],
    *,
    students: list[int] | None = None,
    operations: Iterable[int] = (),
    pending_only: bool = True,
) -> Touch:
    """Lock the accounts of these sessions' students (they serialise their sessions), then
    the weeks of every lesson their pending operations (or these ``operations``) touch, read
    under that lock; what they touch."""
    if students is None:
        rows = tx.run(select(S.c.student_id).where(tx.one_of(S.c.id, session_ids)))
        students = [row[0] for row in rows]
    tx.lock(accounts=students)
    wanted = list(operations)
    if wanted:
        touch = touched(tx, operations=wanted, pending_only=pending_only)
    else:
        touch = touched(tx, sessions=session_ids, pending_only=pending_only)
    tx.lock(weeks=touch.weeks)
    return touch


def lock_session(
    tx: Tx, booking: BookingSession, *, operations: Iterable[int] = (), pending_only: bool = True
) -> Touch:
    """``lock_sessions`` for one session (an ORM row: the unit of work reads it again under
    the lock)."""
    return lock_sessions(
        tx,
        [must_id(booking)],
        students=[booking.student_id],
        operations=operations,
        pending_only=pending_only,
    )


def release_holds(
    tx: Tx,
    *,
    sessions: Iterable[int] = (),
    operations: Iterable[int] = (),
    abandon: tuple[OperationKind, ...] = tuple(OperationKind),
    note: str | None = None,
) -> int:
    """``release_and_abandon``: the number of holds released."""
    released, _abandoned = release_and_abandon(
        tx, sessions=sessions, operations=operations, abandon=abandon, note=note
    )
    return released


def release_and_abandon(
    tx: Tx,
    *,
    sessions: Iterable[int] = (),
    operations: Iterable[int] = (),
    abandon: tuple[OperationKind, ...] = tuple(OperationKind),
    note: str | None = None,
) -> tuple[int, int]:
    """Release the holds of these sessions' (or these) pending operations and abandon those
    of the kinds ``abandon`` (saying ``note``, else keeping the note they have); the others
    stay pending (after a failed payment a cancel or move waits for confirm). Set-based; the
    number of holds released and of operations abandoned. Call it under the locks of
    ``lock_session``."""
    session_ids, operation_ids = list(sessions), list(operations)
    if not session_ids and not operation_ids:
        return 0, 0
    pending: Any = O.c.status == OperationStatus.PENDING
    if session_ids:
        pending = and_(pending, tx.one_of(O.c.session_id, session_ids))
    if operation_ids:
        pending = and_(pending, tx.one_of(O.c.id, operation_ids))
    held = select(O.c.new_id).where(pending, O.c.new_id.is_not(None))
    released = [
        row[0]
        for row in tx.run(
            update(R)
            .where(R.c.id.in_(held), R.c.status == LessonStatus.HELD)
            .values(status=LessonStatus.RELEASED)
            .returning(R.c.id)
        )
    ]
    values: dict[str, Any] = {"status": OperationStatus.ABANDONED, "applied_at": tx.now}
    if note is not None:
        values["note"] = note[:200]
    kinds = [k.value for k in abandon]
    abandoned = [
        row[0]
        for row in tx.run(
            update(O).where(pending, O.c.kind.in_(kinds)).values(**values).returning(O.c.id)
        )
    ]
    return len(released), len(abandoned)

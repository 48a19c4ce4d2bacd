"""``expire`` as it is: idle open sessions expire after ``hold_minutes`` (20), unanswered
payments fail after ``payment_minutes`` (30), booked lessons that ended are done; in batches of
at most ``batch`` rows, each its own transaction, until nothing is left; a second run finds
nothing."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from tests.services.conftest import School
from tutorctl.core.status import (
    LessonStatus,
    OperationStatus,
    PaymentMethod,
    PaymentStatus,
    SessionStatus,
)
from tutorctl.core.views import ExpireView
from tutorctl.db.schema import History, Payment
from tutorctl.services import expire, sessions, settlement
from tutorctl.services.lessons import lessons_by_id
from tutorctl.services.providers import SimulatedProvider

pytestmark = pytest.mark.usefixtures("invariants")


# one batch at least per kind: idle sessions, stale payments, paid and failed sessions, done lessons
KINDS = 5


def counts(view: ExpireView) -> tuple[int, int, int, int, int]:
    return (
        view.expired_sessions,
        view.failed_payments,
        view.released_holds,
        view.done_lessons,
        view.batches,
    )


def status(school: School, session_id: int) -> str:
    return school.read(lambda tx: sessions.show_session(tx, session_id)).status


def test_an_idle_session_expires_after_hold_minutes_not_before(desk: School) -> None:
    held = desk.reserve()
    desk.advance(minutes=20)  # idle exactly 20 min: not yet over
    assert counts(expire.expire_all(desk.db)) == (0, 0, 0, 0, KINDS)  # one batch per kind
    assert status(desk, held.session_id) == SessionStatus.OPEN
    desk.advance(seconds=1)
    assert counts(expire.expire_all(desk.db)) == (1, 0, 1, 0, KINDS)
    view = desk.read(lambda tx: sessions.show_session(tx, held.session_id))
    assert view.status == SessionStatus.EXPIRED
    operation = view.operations[0]
    assert operation.status == OperationStatus.ABANDONED
    assert operation.note == "the session was idle over 20 min: expired"
    assert operation.lesson is not None and operation.lesson.status == LessonStatus.RELEASED
    assert counts(expire.expire_all(desk.db)) == (0, 0, 0, 0, KINDS)  # idempotent


def test_a_touched_session_starts_its_20_minutes_again(desk: School) -> None:
    first = desk.reserve()
    desk.advance(minutes=15)
    second = desk.reserve("14:00-15:00")  # the same open session, touched now
    assert second.session_id == first.session_id
    desk.advance(minutes=15)
    assert counts(expire.expire_all(desk.db))[:4] == (0, 0, 0, 0)
    assert status(desk, first.session_id) == SessionStatus.OPEN


def test_an_unanswered_payment_fails_after_payment_minutes(school: School) -> None:
    school.teacher()
    school.student("bob")  # no balance: the card pays 40.00
    school.category()
    held = school.reserve()
    waiting = settlement.pay(
        school.db, held.session_id, PaymentMethod.CARD, SimulatedProvider(None)
    )
    school.advance(minutes=30)
    assert counts(expire.expire_all(school.db)) == (0, 0, 0, 0, KINDS)
    school.advance(minutes=1)
    assert counts(expire.expire_all(school.db)) == (0, 1, 1, 0, KINDS)
    assert status(school, held.session_id) == SessionStatus.PAYMENT_FAILED
    payment = school.read(lambda tx: tx.orm.get(Payment, waiting.payment_id))
    assert payment is not None
    assert (payment.status, payment.amount_cents) == (PaymentStatus.FAILED, 4_000)


def test_lessons_that_ended_are_done_with_a_history_row_each(desk: School) -> None:
    lesson = desk.book("10:00-11:00")  # next Wednesday 10:00-11:00
    desk.advance(days=8, hours=1, minutes=59)  # Wednesday 10:59: the lesson is not over
    assert counts(expire.expire_all(desk.db))[3] == 0
    desk.advance(minutes=1)
    assert counts(expire.expire_all(desk.db)) == (0, 0, 0, 1, KINDS)
    found = desk.read(lambda tx: lessons_by_id(tx, [lesson]))[lesson]
    assert found.status == LessonStatus.DONE
    subjects = desk.read(
        lambda tx: [h.subject for h in tx.orm.exec(select(History).order_by(col(History.id)))]
    )
    assert subjects[-1] == f"lesson {lesson} done"


def test_many_sessions_are_settled_in_batches(desk: School) -> None:
    held = []
    for day, student in enumerate(("carl", "dana", "eve")):
        desk.student(student)
        held.append(desk.reserve(student=student, day=day).session_id)
    desk.advance(minutes=21)
    # one batch of 2 is one transaction: the first two sessions, the third left for the next
    first = desk.write(lambda tx: expire.expire_idle_sessions(tx, 2))
    assert (first.sessions, first.released, first.candidates) == (2, 2, 2)
    assert [status(desk, sid) for sid in held] == ["expired", "expired", "open"]
    # expire_all goes on until a batch is not full: 1 session, then one batch per other kind
    assert counts(expire.expire_all(desk.db, batch=1)) == (1, 0, 1, 0, KINDS + 1)
    assert counts(expire.expire_all(desk.db, batch=2)) == (0, 0, 0, 0, KINDS)

"""Paying a session through a payment provider, and what time does to an unanswered one."""

from __future__ import annotations

from tests.services.conftest import NEXT_WEEK, School
from tutorctl.core.status import LessonStatus, PaymentMethod, SessionStatus
from tutorctl.core.views import BookingResultView, PayResultView
from tutorctl.db.uow import Tx
from tutorctl.services import booking, expire, resume, sessions, settlement
from tutorctl.services.providers import SimulatedProvider


def held_lesson(school: School) -> BookingResultView:
    def run(tx: Tx) -> BookingResultView:
        start, end = school.slots(tx, "10:00-11:00")
        return booking.reserve(tx, "alice", "bob", "maths", NEXT_WEEK, 2, start, end)

    return school.write(run)


def lesson_status(school: School, sid: int) -> str | None:
    view = school.read(lambda tx: sessions.show_session(tx, sid))
    lesson = view.operations[0].lesson
    return lesson.status if lesson else None


def test_a_refused_payment_releases_the_holds(school: School) -> None:
    school.teacher()
    school.student("bob")  # nothing on the balance: the card pays it all
    school.category()
    held = held_lesson(school)
    paid = settlement.pay(school.db, held.session_id, PaymentMethod.CARD, SimulatedProvider(False))
    assert (paid.status, paid.payment_status) == (SessionStatus.PAYMENT_FAILED, "failed")
    assert lesson_status(school, held.session_id) == LessonStatus.RELEASED
    operation = school.read(lambda tx: sessions.show_session(tx, held.session_id)).operations[0]
    assert operation.status == "abandoned" and operation.note == f"payment {paid.payment_id} failed"


def test_the_provider_is_asked_between_two_transactions(school: School) -> None:
    school.teacher()
    school.student("bob")
    school.category()
    held = held_lesson(school)
    to_pay = school.read(lambda tx: resume.show_resume(tx, held.session_id)).to_pay_cents

    asked: list[PayResultView] = []

    class Desk:
        """A provider that looks at the database while it answers."""

        def charge(self, payment: PayResultView) -> bool | None:
            asked.append(payment)
            view = school.read(lambda tx: sessions.show_session(tx, held.session_id))
            assert view.status == SessionStatus.AWAITING_PAYMENT  # the start is committed
            return True

    paid = settlement.pay(school.db, held.session_id, PaymentMethod.CASH, Desk(), reference="r1")
    assert [p.amount_cents for p in asked] == [to_pay] and paid.method == "cash"
    assert paid.status == SessionStatus.PAID
    assert lesson_status(school, held.session_id) == LessonStatus.BOOKED
    confirmed = school.write(lambda tx: settlement.confirm(tx, held.session_id))
    assert confirmed.status == SessionStatus.APPLIED


def test_an_unanswered_payment_fails_with_time(school: School) -> None:
    school.teacher()
    school.student("bob")
    school.category()
    held = held_lesson(school)
    waiting = settlement.pay(
        school.db, held.session_id, PaymentMethod.WECHAT, SimulatedProvider(None)
    )
    assert (waiting.status, waiting.payment_status) == (SessionStatus.AWAITING_PAYMENT, "pending")
    school.advance(minutes=31)
    done = expire.expire_all(school.db)
    assert (done.failed_payments, done.released_holds) == (1, 1)
    assert lesson_status(school, held.session_id) == LessonStatus.RELEASED

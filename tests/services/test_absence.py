"""``schedule off`` as a service: the teacher cannot come. The day (or hours) close, held
lessons there are released, booked ones cancelled with a full refund whatever the notice (the
money to the balance, package minutes to their package), lessons already started are kept,
and a session waiting for its payment there stops it all."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.services.conftest import NEXT_WEEK, WEEK, School
from tutorctl.core.errors import RuleError
from tutorctl.core.status import LessonStatus, OperationStatus, PaymentMethod
from tutorctl.core.views import TeacherOffView
from tutorctl.db.uow import Tx
from tutorctl.services import absence, accounts, packages, schedule, sessions, settlement
from tutorctl.services.lessons import lessons_by_id
from tutorctl.services.providers import SimulatedProvider

pytestmark = pytest.mark.usefixtures("invariants")
WEDNESDAY = NEXT_WEEK + timedelta(days=2)  # 2026-12-02


def off(school: School, day: date, time: str | None = None) -> TeacherOffView:
    def run(tx: Tx) -> TeacherOffView:
        start, end = school.slots(tx, time) if time else (None, None)
        return absence.teacher_off(tx, "alice", day, start, end, "ill")

    return school.write(run)


def lines(view: TeacherOffView) -> list[tuple[int, str, str, str, str, int, int]]:
    return [
        (x.lesson_id, x.student, x.start, x.was, x.action, x.refunded_cents, x.refunded_minutes)
        for x in view.lessons
    ]


def balance(school: School, student: str = "bob") -> int:
    return school.read(lambda tx: accounts.show_account(tx, student)).balance_cents


def open_hours(school: School, day: date) -> list[str]:
    monday = day - timedelta(days=day.weekday())
    grid = school.read(lambda tx: schedule.show_schedule(tx, "alice", monday))
    return [s.time for s in grid.days[day.weekday()].slots if s.open]


def status(school: School, lesson: int) -> str:
    return school.read(lambda tx: lessons_by_id(tx, [lesson]))[lesson].status


def test_a_day_off_cancels_with_refund_releases_holds_and_closes_the_day(desk: School) -> None:
    desk.student("carl")
    booked = desk.book("10:00-11:00")  # Wednesday: 40.00 from bob's balance
    thursday = desk.book("10:00-11:00", day=3)
    held = desk.reserve("14:00-15:00", student="carl")  # in carl's open session
    assert balance(desk) == 2_000 and held.reservation_id is not None
    view = off(desk, WEDNESDAY)
    assert (view.date, view.hours, view.closed_slots) == ("2026-12-02", "00:00-24:00", 9)
    assert lines(view) == [
        (booked, "bob", "10:00", "booked", "cancelled", 4_000, 0),
        (held.reservation_id, "carl", "14:00", "held", "released", 0, 0),
    ]
    assert balance(desk) == 6_000 and open_hours(desk, WEDNESDAY) == []
    assert status(desk, booked) == LessonStatus.CANCELLED
    assert status(desk, thursday) == LessonStatus.BOOKED  # another day: untouched
    cart = desk.read(lambda tx: sessions.show_session(tx, held.session_id))
    assert cart.status == "open"  # carl's session goes on without the lesson
    assert [(op.status, op.note) for op in cart.operations] == [
        (OperationStatus.ABANDONED, "teacher off: ill")
    ]


def test_some_hours_off_leave_the_rest_of_the_day(desk: School) -> None:
    booked = desk.book("10:00-11:00")
    view = off(desk, WEDNESDAY, "14:00-16:00")
    assert (view.hours, view.closed_slots, view.lessons) == ("14:00-16:00", 2, [])
    assert open_hours(desk, WEDNESDAY) == ["09:00", "10:00", "11:00", "12:00", "13:00", "16:00", "17:00"]  # fmt: skip
    assert status(desk, booked) == LessonStatus.BOOKED and balance(desk) == 6_000


def test_inside_the_notice_the_package_hour_goes_back_to_its_package(desk: School) -> None:
    desk.write(lambda tx: packages.add_purchase(tx, "bob", "alice", "maths", 60, 4_000))
    today = WEEK + timedelta(days=1)  # Tuesday 15:00, six hours from now: inside the notice
    lesson = desk.book("15:00-16:00", day=1, week=WEEK)
    used = desk.read(lambda tx: packages.list_purchases(tx, "bob")).purchases[0]
    assert used.consumed_minutes == 60
    view = off(desk, today)
    assert lines(view) == [(lesson, "bob", "15:00", "booked", "cancelled", 0, 60)]
    back = desk.read(lambda tx: packages.list_purchases(tx, "bob")).purchases[0]
    assert (back.consumed_minutes, back.remaining_minutes) == (0, 60)
    assert balance(desk) == 10_000


def test_a_lesson_already_started_is_kept(desk: School) -> None:
    lesson = desk.book("10:00-11:00")
    desk.advance(days=8, hours=1, minutes=30)  # Wednesday 10:30
    view = off(desk, WEDNESDAY)
    assert lines(view) == [(lesson, "bob", "10:00", "booked", "kept (already started)", 0, 0)]
    assert view.closed_slots == 9 and status(desk, lesson) == LessonStatus.BOOKED
    assert balance(desk) == 6_000


def test_a_session_waiting_for_its_payment_there_stops_it(school: School) -> None:
    school.teacher()
    school.student("bob")  # no balance: a card pays
    school.category()
    held = school.reserve()
    settlement.pay(school.db, held.session_id, PaymentMethod.CARD, SimulatedProvider(None))
    with pytest.raises(RuleError, match=f"session {held.session_id} awaits its payment and holds a lesson of alice that day"):  # fmt: skip
        off(school, WEDNESDAY)
    assert len(open_hours(school, WEDNESDAY)) == 9  # nothing written
    assert held.reservation_id is not None and status(school, held.reservation_id) == "held"

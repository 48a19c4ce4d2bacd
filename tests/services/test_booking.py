"""Booking rules and the shared session primitives, called as services (no CLI)."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from tests.services.conftest import NEXT_WEEK, School
from tutorctl.core.errors import RuleError
from tutorctl.core.status import LessonStatus, OperationStatus, SessionStatus
from tutorctl.core.views import BookingResultView
from tutorctl.db.schema import Operation, Reservation
from tutorctl.db.uow import Tx
from tutorctl.services import accounts, booking, holds, sessions, settlement

WED = 2


def reserve(
    school: School, student: str = "bob", time: str = "10:00-11:00", repeat: int = 1
) -> BookingResultView:
    def run(tx: Tx) -> BookingResultView:
        start, end = school.slots(tx, time)
        return booking.reserve(
            tx, "alice", student, "maths", NEXT_WEEK, WED, start, end, repeat=repeat
        )

    return school.write(run)


def statuses(school: School, ids: list[int]) -> list[str]:
    def run(tx: Tx) -> list[str]:
        rows = tx.orm.exec(select(Reservation).where(col(Reservation.id).in_(ids)))
        return [r.status for r in sorted(rows, key=lambda r: r.id or 0)]

    return school.read(run)


def test_reserve_holds_and_a_clash_is_refused(desk: School) -> None:
    desk.student("carl")
    held = reserve(desk)
    assert held.status == LessonStatus.HELD and held.kind == "reserve"
    assert statuses(desk, held.reservation_ids) == ["held"]
    with pytest.raises(RuleError, match="clashes with lesson"):
        reserve(desk, student="carl", time="10:00-12:00")


def test_a_repeat_is_all_or_nothing(desk: School) -> None:
    desk.student("carl")
    reserve(desk, student="carl")  # next week's Wednesday is taken
    with pytest.raises(RuleError, match="1 of 2 weeks clash"):
        # this week and next: next week clashes, so this week is not held either
        def run(tx: Tx) -> BookingResultView:
            start, end = desk.slots(tx, "10:00-11:00")
            return booking.reserve(
                tx,
                "alice",
                "bob",
                "maths",
                NEXT_WEEK.replace(day=NEXT_WEEK.day - 7),
                WED,
                start,
                end,
                repeat=2,
            )

        desk.write(run)
    count = desk.read(lambda tx: len(list(tx.orm.exec(select(Reservation)))))
    assert count == 1


def test_cancel_outside_the_notice_refunds_to_the_balance(desk: School) -> None:
    held = reserve(desk)
    desk.write(lambda tx: settlement.confirm(tx, held.session_id))  # paid from the balance
    assert desk.read(lambda tx: accounts.show_account(tx, "bob")).balance_cents == 6_000
    lesson = held.reservation_id
    assert lesson is not None
    cancelled = desk.write(lambda tx: booking.cancel(tx, lesson))
    assert cancelled.status == OperationStatus.PENDING
    desk.write(lambda tx: settlement.confirm(tx, cancelled.session_id))
    assert statuses(desk, [lesson]) == ["cancelled"]
    assert desk.read(lambda tx: accounts.show_account(tx, "bob")).balance_cents == 10_000


def test_lock_session_and_release_holds(desk: School) -> None:
    first = reserve(desk)
    second = reserve(desk, time="14:00-15:00")
    assert first.session_id == second.session_id
    sid = first.session_id

    def run(tx: Tx) -> tuple[holds.Touch, int, str]:
        cart = sessions.get_session(tx, sid)
        touch = holds.lock_session(tx, cart)
        operation = tx.orm.get(Operation, first.operation_id)  # an ORM row read before
        assert operation is not None and operation.status == OperationStatus.PENDING
        released = holds.release_holds(tx, sessions=[sid], note="test")
        return touch, released, operation.status  # read again after the Core update

    touch, released, seen = desk.write(run)
    assert released == 2 and seen == OperationStatus.ABANDONED
    assert sorted(touch.lessons) == sorted(first.reservation_ids + second.reservation_ids)
    people = desk.read(lambda tx: sessions.show_session(tx, sid))
    assert len(touch.people) == 2 and people.student_id in touch.people
    assert {week for _person, week in touch.weeks} == {NEXT_WEEK}
    assert statuses(desk, touch.lessons and sorted(touch.lessons)) == ["released", "released"]
    assert [op.note for op in people.operations] == ["test", "test"]


def test_drop_releases_only_its_operation_and_abandon_the_rest(desk: School) -> None:
    first = reserve(desk)
    second = reserve(desk, time="14:00-15:00")
    sid = first.session_id
    view = desk.write(lambda tx: sessions.drop(tx, sid, first.operation_id))
    assert [op.status for op in view.operations] == ["abandoned", "pending"]
    assert statuses(desk, first.reservation_ids + second.reservation_ids) == ["released", "held"]
    view = desk.write(lambda tx: sessions.abandon(tx, sid))
    assert view.status == SessionStatus.ABANDONED
    assert statuses(desk, second.reservation_ids) == ["released"]


def test_touched_counts_pending_operations_unless_asked(desk: School) -> None:
    first = reserve(desk)
    reserve(desk, time="14:00-15:00")
    desk.write(lambda tx: sessions.drop(tx, first.session_id, first.operation_id))

    def run(tx: Tx) -> tuple[int, int]:
        pending = holds.touched(tx, sessions=[first.session_id])
        every = holds.touched(tx, sessions=[first.session_id], pending_only=False)
        return len(pending.lessons), len(every.lessons)

    assert desk.read(run) == (1, 2)

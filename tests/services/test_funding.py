"""Applying a plan (``funding.apply_plan``): a lesson's price taken from packages, then the
balance; a cancel giving each part back where it came from; a move carrying its funding, a
shorter one refunding the difference. Exactly the plan computed, to the minute and the cent."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from tests.services.conftest import NEXT_WEEK, School
from tutorctl.core.events import Confirmed
from tutorctl.core.status import LessonStatus, SessionStatus
from tutorctl.db.schema import Funding, LedgerEntry
from tutorctl.db.uow import Tx
from tutorctl.services import accounts, booking, funding, holds, packages, settlement
from tutorctl.services.lessons import lessons_by_id
from tutorctl.services.operations import pending_operations
from tutorctl.services.resume import compute_plan
from tutorctl.services.sessions import get_session
from tutorctl.services.users import find_user

pytestmark = pytest.mark.usefixtures("invariants")


def fundings(school: School, lesson: int) -> list[tuple[str, int, int]]:
    """(source, minutes, cents) of a lesson's funding, in order."""

    def run(tx: Tx) -> list[tuple[str, int, int]]:
        rows = tx.orm.exec(
            select(Funding).where(Funding.reservation_id == lesson).order_by(col(Funding.id))
        )
        return [(f.source, f.minutes, f.amount_cents) for f in rows]

    return school.read(run)


def ledger(school: School) -> list[tuple[str, int]]:
    """(kind, cents) of every balance change, in order."""
    rows = school.read(lambda tx: list(tx.orm.exec(select(LedgerEntry).order_by(col(LedgerEntry.id)))))  # fmt: skip
    return [(e.kind, e.amount_cents) for e in rows]


def balance(school: School) -> int:
    return school.read(lambda tx: accounts.show_account(tx, "bob")).balance_cents


def consumed(school: School) -> int:
    return school.read(lambda tx: packages.list_purchases(tx, "bob")).purchases[0].consumed_minutes


def test_the_plan_is_applied_as_computed(desk: School) -> None:
    """A 2 h lesson (80.00) with a 1 h package: its hour, then 40.00 from the balance."""
    desk.write(lambda tx: packages.add_purchase(tx, "bob", "alice", "maths", 60, 4_000))
    held = desk.reserve("10:00-12:00")
    lesson = held.reservation_id
    assert lesson is not None

    def apply(tx: Tx) -> list[tuple[str, int, int]]:
        cart = get_session(tx, held.session_id)
        holds.lock_session(tx, cart)
        operations = pending_operations(tx, held.session_id)
        plan = compute_plan(tx, cart, operations)
        assert plan.to_pay_cents == 0 and plan.balance_after_cents == 6_000
        bob = find_user(tx, "bob")
        applied = (Confirmed(tuple(op.id or 0 for op in operations), False, False), [bob.id or 0])
        funding.apply_plan(tx, cart, bob, plan, operations, applied)  # as confirm applies it
        cart.status, cart.closed_at = SessionStatus.APPLIED, tx.now  # as confirm does
        tx.orm.add(cart)
        return [(p.source, p.minutes, p.amount_cents) for p in plan.charges[0].parts]

    planned = desk.write(apply)
    assert planned == [("purchase", 60, 0), ("balance", 60, 4_000)]
    assert fundings(desk, lesson) == planned
    assert (balance(desk), consumed(desk)) == (6_000, 60)
    assert ledger(desk) == [("credit", 10_000), ("lesson", -4_000)]


def test_a_cancel_gives_each_part_back_where_it_came_from(desk: School) -> None:
    desk.write(lambda tx: packages.add_purchase(tx, "bob", "alice", "maths", 60, 4_000))
    lesson = desk.book("10:00-12:00")
    assert (balance(desk), consumed(desk)) == (6_000, 60)
    cancelled = desk.write(lambda tx: booking.cancel(tx, lesson))
    desk.write(lambda tx: settlement.confirm(tx, cancelled.session_id))
    assert (balance(desk), consumed(desk)) == (10_000, 0)
    assert ledger(desk) == [("credit", 10_000), ("lesson", -4_000), ("refund", 4_000)]
    assert fundings(desk, lesson) == [("purchase", 60, 0), ("balance", 60, 4_000)]  # its story


def test_a_late_cancel_keeps_the_money(desk: School) -> None:
    lesson = desk.book("10:00-11:00")  # next Wednesday 10:00
    desk.advance(days=7, hours=2)  # Wednesday 11:00 the day before: inside the 24 h notice
    cancelled = desk.write(lambda tx: booking.cancel(tx, lesson))
    desk.write(lambda tx: settlement.confirm(tx, cancelled.session_id))
    assert balance(desk) == 6_000 and ledger(desk)[-1] == ("lesson", -4_000)


def test_a_move_carries_its_funding_and_a_shorter_one_refunds_the_rest(desk: School) -> None:
    lesson = desk.book("10:00-12:00")  # 80.00 from the balance
    assert balance(desk) == 2_000

    def shorten(tx: Tx) -> int:
        start, end = desk.slots(tx, "14:00-15:00")
        moved = booking.move(tx, lesson, NEXT_WEEK, 3, start, end)  # Thursday, 1 h
        settlement.confirm(tx, moved.session_id)
        assert moved.reservation_id is not None
        return moved.reservation_id

    new = desk.write(shorten)
    assert new != lesson
    assert fundings(desk, lesson) == []
    assert fundings(desk, new) == [("balance", 60, 4_000)]
    assert balance(desk) == 6_000
    assert ledger(desk) == [("credit", 10_000), ("lesson", -8_000), ("move-refund", 4_000)]

    both = desk.read(lambda tx: lessons_by_id(tx, [lesson, new]))
    assert (both[lesson].status, both[new].status) == (LessonStatus.CANCELLED, LessonStatus.BOOKED)

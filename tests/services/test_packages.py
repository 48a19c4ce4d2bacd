"""Packages of prepaid hours as services: buying one (its paid hours' payment recorded with it),
settling the owed hours later to the cent, and the minutes a payment in progress holds."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from tests.services.conftest import School
from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.status import PaymentMethod
from tutorctl.core.views import PurchaseLine
from tutorctl.db.schema import PackagePayment
from tutorctl.db.uow import Tx
from tutorctl.services import accounts, expire, packages, settlement
from tutorctl.services.providers import SimulatedProvider

pytestmark = pytest.mark.usefixtures("invariants")


def buy(school: School, hours: float, price_cents: int, paid_hours: float | None = None) -> int:
    paid = None if paid_hours is None else int(paid_hours * 60)
    line = school.write(
        lambda tx: packages.add_purchase(
            tx, "bob", "alice", "maths", int(hours * 60), price_cents, paid, method="card"
        )
    )
    return line.id


def payments_of(school: School, purchase_id: int) -> list[tuple[int, int, str]]:
    """(minutes, cents, method) of each payment recorded for the package, in order."""

    def run(tx: Tx) -> list[tuple[int, int, str]]:
        rows = tx.orm.exec(
            select(PackagePayment)
            .where(PackagePayment.purchase_id == purchase_id)
            .order_by(col(PackagePayment.id))
        )
        return [(p.minutes, p.amount_cents, p.method) for p in rows]

    return school.read(run)


def settle(school: School, purchase_id: int, minutes: int | None) -> PurchaseLine:
    return school.write(lambda tx: packages.settle_purchase(tx, purchase_id, minutes, "cash"))


def test_a_package_paid_in_thirds_adds_up_to_its_price_to_the_cent(desk: School) -> None:
    package = buy(desk, hours=3, price_cents=10_000, paid_hours=1)  # 100.00 for 3 h, 1 h paid
    line = desk.read(lambda tx: packages.list_purchases(tx, "bob")).purchases[0]
    assert (line.bought_minutes, line.paid_minutes, line.owed_minutes) == (180, 60, 120)
    assert (line.price_cents, line.owed_cents, line.remaining_minutes) == (10_000, 6_667, 180)
    assert payments_of(desk, package) == [(60, 3_333, "card")]  # 33.33, rounded down

    line = settle(desk, package, 60)
    assert (line.paid_minutes, line.owed_minutes, line.owed_cents) == (120, 60, 3_333)
    line = settle(desk, package, None)  # the rest
    assert (line.paid_minutes, line.owed_minutes, line.owed_cents) == (180, 0, 0)
    # 66.67 for two thirds less the 33.33 paid, then the last third: 100.00 in all
    assert payments_of(desk, package) == [(60, 3_333, "card"), (60, 3_334, "cash"), (60, 3_333, "cash")]  # fmt: skip


def test_a_package_paid_in_full_owes_nothing(desk: School) -> None:
    package = buy(desk, hours=10, price_cents=36_000)
    assert payments_of(desk, package) == [(600, 36_000, "card")]
    with pytest.raises(RuleError, match=f"package {package} owes nothing"):
        settle(desk, package, 60)
    assert payments_of(desk, package) == [(600, 36_000, "card")]


def test_a_package_paid_nothing_yet_records_no_payment(desk: School) -> None:
    package = buy(desk, hours=2, price_cents=7_999, paid_hours=0)
    assert payments_of(desk, package) == []
    line = desk.read(lambda tx: packages.list_purchases(tx)).purchases[0]
    assert (line.owed_minutes, line.owed_cents) == (120, 7_999)
    assert settle(desk, package, 45).owed_cents == 7_999 - 3_000  # 45 min: 29.996 → 30.00


def test_what_cannot_be_bought_or_settled(desk: School) -> None:
    with pytest.raises(InputError, match="more than zero hours"):
        buy(desk, hours=0, price_cents=100)
    with pytest.raises(InputError, match="between 0 and the hours bought"):
        buy(desk, hours=1, price_cents=100, paid_hours=2)
    with pytest.raises(InputError, match="bad --method 'bitcoin'"):
        desk.write(lambda tx: packages.add_purchase(tx, "bob", "alice", "maths", 60, 1, None, method="bitcoin"))  # fmt: skip
    package = buy(desk, hours=2, price_cents=8_000, paid_hours=0)
    with pytest.raises(RuleError, match=f"package {package} owes 2 h: cannot settle 3 h"):
        settle(desk, package, 180)
    with pytest.raises(InputError, match="settle more than zero hours"):
        settle(desk, package, 0)
    assert payments_of(desk, package) == []


def held_minutes(school: School, student_id: int, excluding: int | None = None) -> dict[int, int]:
    """The minutes of each of the student's packages that payments in progress hold."""
    stock = school.read(
        lambda tx: packages.package_stock(tx, student_id=student_id, excluding=excluding)
    )
    return {pid: s.held_minutes for pid, s in stock.items() if s.held_minutes}


def test_a_lesson_uses_the_package_and_a_pending_payment_holds_its_minutes(desk: School) -> None:
    desk.student("carl")
    package = buy(desk, hours=1, price_cents=4_000)
    bob = desk.read(lambda tx: accounts.show_account(tx, "bob"))
    assert bob.balance_cents == 10_000 and bob.purchases[0].remaining_minutes == 60
    # a 5 h lesson (200.00): the package's hour, the balance's 100.00 and 60.00 by card; the
    # package hour is held while the card payment is pending
    held = desk.reserve("10:00-15:00")
    waiting = settlement.pay(desk.db, held.session_id, PaymentMethod.CARD, SimulatedProvider(None))
    assert waiting.amount_cents == 6_000
    student_id = bob.student_id
    assert held_minutes(desk, student_id) == {package: 60}
    assert held_minutes(desk, student_id, excluding=waiting.session_id) == {}
    desk.advance(minutes=31)  # the payment had no answer: it fails and the hold goes
    assert expire.expire_all(desk.db).failed_payments == 1
    assert held_minutes(desk, student_id) == {}

    desk.book("16:00-17:00")  # a 1 h lesson now: the package pays it
    line = desk.read(lambda tx: packages.list_purchases(tx, "bob")).purchases[0]
    assert (line.consumed_minutes, line.remaining_minutes, line.owed_cents) == (60, 0, 0)
    assert desk.read(lambda tx: accounts.show_account(tx, "bob")).balance_cents == 10_000

"""The payment resume as a pure function: exact figures and properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tutorctl.core import resume as rs


def lesson(
    lid: int,
    minutes: int = 60,
    price: int = 4000,
    funding: tuple[rs.Part, ...] = (),
    teacher: int = 1,
    category: int = 1,
    date: str = "2026-11-25",
) -> rs.Lesson:
    return rs.Lesson(
        lid, teacher, "alice", category, "maths", minutes, price, date, "10:00", funding
    )


def package(
    pid: int,
    bought: int,
    consumed: int = 0,
    teacher: int = 1,
    category: int = 1,
    on: str = "2026-01-01",
) -> rs.PurchaseState:
    return rs.PurchaseState(
        pid, teacher, "alice", category, "maths", on, 0, bought, bought, consumed
    )


def test_new_lessons_use_oldest_matching_package_then_balance_then_payment() -> None:
    plan = rs.plan(
        1500,
        [
            package(2, 60, on="2026-02-01"),
            package(1, 30, on="2026-01-01"),
            package(3, 600, category=2),
        ],
        [],
        [],
        [rs.New(10, lesson(100, 120, 8000))],
    )
    [charge] = plan.charges
    assert [(p.source, p.purchase_id, p.minutes, p.amount_cents) for p in charge.parts] == [
        ("purchase", 1, 30, 0),
        ("purchase", 2, 60, 0),
        ("balance", None, 23, 1500),
        ("payment", None, 7, 500),
    ]
    assert sum(p.minutes for p in charge.parts) == 120
    assert sum(p.amount_cents for p in charge.parts) == 2000  # 30 min of 8000/2h
    assert plan.to_pay_cents == 500 and plan.balance_after_cents == 0


def test_cancel_refunds_exactly_its_funding_unless_late() -> None:
    funded = lesson(
        5,
        60,
        4000,
        (rs.Part("purchase", 30, 0, purchase_id=1), rs.Part("payment", 30, 2000, payment_id=9)),
    )
    plan = rs.plan(0, [package(1, 60, consumed=30)], [rs.Cancel(1, funded, late=False)], [], [])
    assert plan.balance_between_cents == 2000
    assert plan.purchases_between[0].remaining_minutes == 60
    late = rs.plan(0, [package(1, 60, consumed=30)], [rs.Cancel(1, funded, late=True)], [], [])
    assert late.balance_between_cents == 0 and late.refunds[0].late


def test_refund_pays_for_new_lessons_in_the_same_session() -> None:
    funded = lesson(5, 60, 4000, (rs.Part("balance", 60, 4000),))
    plan = rs.plan(0, [], [rs.Cancel(1, funded, False)], [], [rs.New(2, lesson(6))])
    assert plan.to_pay_cents == 0 and plan.balance_after_cents == 0


def test_moves_carry_funding_and_pay_or_refund_the_difference() -> None:
    old = lesson(5, 60, 4000, (rs.Part("purchase", 60, 0, purchase_id=1),))
    longer = rs.plan(
        0, [package(1, 60, consumed=60)], [], [rs.Move(1, old, lesson(6, 120, 8000))], []
    )
    assert longer.carries[0].parts == old.funding and longer.to_pay_cents == 4000
    money = lesson(
        7, 120, 8000, (rs.Part("purchase", 60, 0, purchase_id=1), rs.Part("balance", 60, 4000))
    )
    shorter = rs.plan(
        0, [package(1, 60, consumed=60)], [], [rs.Move(1, money, lesson(8, 60, 4000))], []
    )
    assert shorter.refunds[0].to_balance_cents == 4000  # money goes back first
    assert shorter.carries[0].parts == (rs.Part("purchase", 60, 0, purchase_id=1),)


@given(
    balance=st.integers(0, 20000),
    bought=st.lists(st.integers(0, 300), max_size=3),
    lessons=st.lists(
        st.tuples(st.sampled_from([15, 30, 60, 90, 120]), st.integers(0, 9000)), max_size=5
    ),
)
def test_every_new_lesson_is_fully_covered_and_money_adds_up(
    balance: int, bought: list[int], lessons: list[tuple[int, int]]
) -> None:
    packages = [package(i + 1, b) for i, b in enumerate(bought)]
    news = [rs.New(i + 1, lesson(100 + i, m, p)) for i, (m, p) in enumerate(lessons)]
    plan = rs.plan(balance, packages, [], [], news)
    spent = 0
    for charge in plan.charges:
        assert sum(p.minutes for p in charge.parts) == charge.minutes
        money = sum(p.amount_cents for p in charge.parts)
        from_packages = sum(p.minutes for p in charge.parts if p.source == "purchase")
        assert money == rs.share(charge.price_cents, charge.minutes - from_packages, charge.minutes)
        spent += sum(p.amount_cents for p in charge.parts if p.source == "balance")
    assert plan.balance_after_cents == balance - spent >= 0
    assert plan.to_pay_cents == sum(c.external_cents for c in plan.charges)
    assert all(p.remaining_minutes >= 0 for p in plan.purchases_after)
    assert (
        rs.plan(balance, list(reversed(packages)), [], [], list(reversed(news))) == plan
    )  # deterministic

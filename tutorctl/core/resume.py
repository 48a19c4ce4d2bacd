"""The payment resume (SPEC §8): a pure, deterministic plan of what a session costs.

Inputs are plain facts (balance, purchases, the session's lessons and their funding); the
output says, in order: now → cancellations → after → new lessons → to pay, and for every lesson
exactly which purchase minutes, balance money and external money fund or are refunded. ``pay``
and ``confirm`` recompute it under the lock and apply exactly this plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from tutorctl.core.money import pro_rata
from tutorctl.core.status import FundingSource
from tutorctl.core.views.lessons import FundingPartView

Part = FundingPartView  # one piece of a lesson's funding, as `lesson show` lists it


@dataclass(frozen=True)
class Lesson:
    id: int
    teacher_id: int
    teacher: str
    category_id: int
    category: str
    minutes: int
    price_cents: int
    date: str
    time: str
    funding: tuple[Part, ...] = ()


@dataclass(frozen=True)
class PurchaseState:
    id: int
    teacher_id: int
    teacher: str
    category_id: int
    category: str
    purchased_on: str
    price_cents: int
    bought_minutes: int
    paid_minutes: int
    consumed_minutes: int

    @property
    def remaining_minutes(self) -> int:
        return self.bought_minutes - self.consumed_minutes

    @property
    def owed_minutes(self) -> int:
        return self.bought_minutes - self.paid_minutes


@dataclass(frozen=True)
class Cancel:
    operation_id: int
    lesson: Lesson
    late: bool


@dataclass(frozen=True)
class Move:
    operation_id: int
    old: Lesson
    new: Lesson


@dataclass(frozen=True)
class New:
    operation_id: int
    lesson: Lesson


@dataclass(frozen=True)
class Refund:
    """What a cancellation (or the cut part of a shortened move) gives back."""

    operation_id: int
    lesson: Lesson
    minutes: int
    to_purchases: tuple[Part, ...]  # minutes back to each purchase
    to_balance_cents: int
    late: bool
    kind: str  # cancel | shortened move


@dataclass(frozen=True)
class Charge:
    """How a new lesson (or the extra part of a lengthened move) is paid."""

    operation_id: int
    lesson: Lesson
    minutes: int
    price_cents: int
    parts: tuple[Part, ...]
    kind: str  # reserve | lengthened move

    @property
    def external_cents(self) -> int:
        return sum(p.amount_cents for p in self.parts if p.source == FundingSource.PAYMENT)


@dataclass(frozen=True)
class Carry:
    """A move keeps (part of) its old funding on the new lesson."""

    operation_id: int
    old: Lesson
    new: Lesson
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Plan:
    balance_before_cents: int
    purchases_before: tuple[PurchaseState, ...]
    refunds: tuple[Refund, ...]
    balance_between_cents: int
    purchases_between: tuple[PurchaseState, ...]
    charges: tuple[Charge, ...]
    carries: tuple[Carry, ...]
    to_pay_cents: int
    balance_after_cents: int
    purchases_after: tuple[PurchaseState, ...] = field(default=())


def share(amount: int, part: int, whole: int) -> int:
    """``amount × part / whole`` rounded half up, in integers (the one pro-rata formula)."""
    return pro_rata(amount, part, whole)


def _take_back(parts: tuple[Part, ...], minutes: int) -> tuple[tuple[Part, ...], tuple[Part, ...]]:
    """Split ``minutes`` off a funding, money first (latest first), then purchase minutes.

    Returns (what is given back, what stays).
    """
    ordered = sorted(
        range(len(parts)), key=lambda i: (parts[i].source == FundingSource.PURCHASE, -i)
    )
    back: list[Part] = []
    keep = list(parts)
    left = minutes
    for index in ordered:
        if left == 0:
            break
        part = keep[index]
        take = min(left, part.minutes)
        if take == 0:
            continue
        amount = (
            part.amount_cents
            if take == part.minutes
            else share(part.amount_cents, take, part.minutes)
        )
        back.append(replace(part, minutes=take, amount_cents=amount))
        keep[index] = replace(
            part, minutes=part.minutes - take, amount_cents=part.amount_cents - amount
        )
        left -= take
    return tuple(back), tuple(p for p in keep if p.minutes > 0 or p.amount_cents > 0)


def plan(
    balance_cents: int,
    purchases: list[PurchaseState],
    cancels: list[Cancel],
    moves: list[Move],
    news: list[New],
) -> Plan:
    """Compute the resume. Deterministic: inputs are sorted here, not trusted to be."""
    stock = {p.id: p for p in sorted(purchases, key=lambda p: (p.purchased_on, p.id))}
    balance = balance_cents
    before = tuple(p for p in stock.values() if p.remaining_minutes > 0)

    refunds: list[Refund] = []
    carries: list[Carry] = []
    extras: list[tuple[int, Lesson, int, int, str]] = []  # (op, lesson, minutes, price, kind)

    def give_back(
        op: int, lesson: Lesson, parts: tuple[Part, ...], minutes: int, late: bool, kind: str
    ) -> None:
        nonlocal balance
        to_purchases = (
            tuple(p for p in parts if p.source == FundingSource.PURCHASE) if not late else ()
        )
        money = (
            sum(p.amount_cents for p in parts if p.source != FundingSource.PURCHASE)
            if not late
            else 0
        )
        for part in to_purchases:
            if part.purchase_id in stock:
                current = stock[part.purchase_id]
                stock[part.purchase_id] = replace(
                    current, consumed_minutes=current.consumed_minutes - part.minutes
                )
        balance += money
        refunds.append(Refund(op, lesson, minutes, to_purchases, money, late, kind))

    for cancel in sorted(cancels, key=lambda c: c.operation_id):
        lesson = cancel.lesson
        give_back(
            cancel.operation_id, lesson, lesson.funding, lesson.minutes, cancel.late, "cancel"
        )

    for item in sorted(moves, key=lambda m: m.operation_id):
        old, new = item.old, item.new
        if new.minutes < old.minutes:
            back, keep = _take_back(old.funding, old.minutes - new.minutes)
            give_back(
                item.operation_id, old, back, old.minutes - new.minutes, False, "shortened move"
            )
            carries.append(Carry(item.operation_id, old, new, keep))
        else:
            carries.append(Carry(item.operation_id, old, new, old.funding))
            if new.minutes > old.minutes:
                extra_price = max(0, new.price_cents - old.price_cents)
                extras.append(
                    (
                        item.operation_id,
                        new,
                        new.minutes - old.minutes,
                        extra_price,
                        "lengthened move",
                    )
                )

    between_balance = balance
    between = tuple(p for p in stock.values() if p.remaining_minutes > 0)

    wanted = [
        (n.operation_id, n.lesson, n.lesson.minutes, n.lesson.price_cents, "reserve") for n in news
    ]
    wanted += extras
    charges: list[Charge] = []
    to_pay = 0
    for op, lesson, minutes, price, kind in sorted(
        wanted, key=lambda w: (w[1].date, w[1].time, w[0])
    ):
        parts: list[Part] = []
        left = minutes
        for pid, purchase in stock.items():
            if left == 0:
                break
            if (purchase.teacher_id, purchase.category_id) != (
                lesson.teacher_id,
                lesson.category_id,
            ):
                continue
            take = min(left, purchase.remaining_minutes)
            if take > 0:
                parts.append(Part(FundingSource.PURCHASE, take, 0, purchase_id=pid))
                stock[pid] = replace(purchase, consumed_minutes=purchase.consumed_minutes + take)
                left -= take
        money = share(price, left, minutes) if left else 0
        from_balance = min(balance, money)
        if from_balance:
            balance -= from_balance
            parts.append(
                Part(FundingSource.BALANCE, share(left, from_balance, money), from_balance)
            )
        external = money - from_balance
        if external:
            covered = left - sum(p.minutes for p in parts if p.source == FundingSource.BALANCE)
            parts.append(Part(FundingSource.PAYMENT, covered, external))
            to_pay += external
        elif left and not from_balance:
            # a free lesson: minutes covered, no money
            parts.append(Part(FundingSource.BALANCE, left, 0))
        charges.append(Charge(op, lesson, minutes, price, tuple(_fix_minutes(parts, left)), kind))

    return Plan(
        balance_before_cents=balance_cents,
        purchases_before=before,
        refunds=tuple(refunds),
        balance_between_cents=between_balance,
        purchases_between=between,
        charges=tuple(charges),
        carries=tuple(carries),
        to_pay_cents=to_pay,
        balance_after_cents=balance,
        purchases_after=tuple(p for p in stock.values() if p.remaining_minutes > 0),
    )


def on_credit(plan: Plan) -> dict[tuple[int, int], int]:
    """Of each charge's package minutes (by ``id`` of the charge and purchase id), those of
    owed hours: a package's minutes beyond its paid ones fund lessons on credit."""
    consumed = {p.id: p.consumed_minutes for p in plan.purchases_between}
    paid = {p.id: p.paid_minutes for p in plan.purchases_between}
    credit: dict[tuple[int, int], int] = {}
    for charge in plan.charges:  # in the order the plan took the package hours
        for part in charge.parts:
            if part.source != FundingSource.PURCHASE or part.purchase_id not in consumed:
                continue
            used = consumed[part.purchase_id]
            after = used + part.minutes
            owed = after - max(used, paid[part.purchase_id])
            key = (id(charge), part.purchase_id)
            credit[key] = credit.get(key, 0) + max(0, owed)
            consumed[part.purchase_id] = after
    return credit


def package_hours(
    parts: Iterable[Part],
    charges: Iterable[Charge] = (),
    credit: dict[tuple[int, int], int] | None = None,
) -> list[tuple[int, int, int]]:
    """(purchase id, minutes, of them on credit) of these package parts, per package in id
    order. The minutes on credit are ``credit``'s (``on_credit``) for ``charges``, the charges
    the parts are of (none: refunds give back, nothing is on credit)."""
    minutes: dict[int, int] = {}
    for part in parts:
        if part.source == FundingSource.PURCHASE and part.purchase_id is not None:
            minutes[part.purchase_id] = minutes.get(part.purchase_id, 0) + part.minutes
    ours = {id(charge) for charge in charges}
    owed: dict[int, int] = {}
    for (charge, purchase), value in (credit or {}).items():
        if charge in ours:
            owed[purchase] = owed.get(purchase, 0) + value
    return [(pid, minutes[pid], owed.get(pid, 0)) for pid in sorted(minutes)]


def _fix_minutes(parts: list[Part], money_minutes: int) -> list[Part]:
    """Make the money parts' minutes add up exactly to the minutes paid with money."""
    money = [i for i, p in enumerate(parts) if p.source != FundingSource.PURCHASE]
    if not money:
        return parts
    covered = sum(parts[i].minutes for i in money)
    last = money[-1]
    parts[last] = replace(parts[last], minutes=parts[last].minutes + money_minutes - covered)
    return parts

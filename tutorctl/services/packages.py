"""Packages of prepaid hours: buying one, settling its owed hours later, listing them, and
the minutes a payment in progress holds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from sqlalchemy import and_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import col, func

from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.events import PackageBought, PackageSettled
from tutorctl.core.money import paid_price
from tutorctl.core.status import PaymentMethod, Role, SessionStatus
from tutorctl.core.views import PurchaseLine, PurchaseListView
from tutorctl.db.schema import Category, PackagePayment, Purchase, User
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import package_holds as PH
from tutorctl.db.tables import purchases as P
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_get, must_id
from tutorctl.services.users import find_category, find_user


def payment_method(method: str) -> PaymentMethod:
    """The method named (``card``, ``wechat``, ``cash``, ``transfer``), or an input error."""
    try:
        return PaymentMethod(method)
    except ValueError:
        names = ", ".join(PaymentMethod)
        raise InputError(f"bad --method {method!r}: use {names}") from None


def add_purchase(
    tx: Tx,
    student_ref: str,
    teacher_ref: str,
    category_ref: str,
    bought_minutes: int,
    price_cents: int,
    paid_minutes: int | None = None,
    purchased_on: date | None = None,
    method: str = PaymentMethod.CASH,
    reference: str | None = None,
) -> PurchaseLine:
    """Record a package; the payment of its paid hours is recorded with it (``method``)."""
    paid_by = payment_method(method)
    student = find_user(tx, student_ref, role=Role.STUDENT)
    teacher = find_user(tx, teacher_ref, role=Role.TEACHER)
    category = find_category(tx, category_ref)
    if bought_minutes <= 0:
        raise InputError("bad --hours: a package has more than zero hours")
    paid = bought_minutes if paid_minutes is None else paid_minutes
    if not 0 <= paid <= bought_minutes:
        raise InputError("bad --paid-hours: between 0 and the hours bought")
    tx.lock(accounts=[must_id(student)])
    purchase = Purchase(
        student_id=must_id(student),
        teacher_id=must_id(teacher),
        category_id=must_id(category),
        bought_minutes=bought_minutes,
        paid_minutes=paid,
        consumed_minutes=0,
        price_cents=price_cents,
        purchased_on=purchased_on or tx.today,
        created_at=tx.now,
    )
    tx.orm.add(purchase)
    tx.orm.flush()
    amount = _pay_package(tx, purchase, 0, paid, paid_by, reference)
    tx.record(
        PackageBought(
            must_id(purchase),
            must_id(student),
            student.handle,
            must_id(teacher),
            category.name,
            bought_minutes,
            paid,
            price_cents,
            amount,
            paid_by,
        )
    )
    return purchase_lines(tx, student.id, [must_id(purchase)])[0]


def _pay_package(
    tx: Tx,
    purchase: Purchase,
    paid_before: int,
    paid_after: int,
    method: PaymentMethod,
    ref: str | None,
) -> int:
    """Record the payment that takes a package from ``paid_before`` to ``paid_after`` paid
    minutes: the difference of their prices, so its payments always add up to the price of its
    paid hours, to the cent. Returns the amount."""
    minutes = paid_after - paid_before
    if minutes == 0:
        return 0
    amount = paid_price(purchase.price_cents, paid_after, purchase.bought_minutes) - paid_price(
        purchase.price_cents, paid_before, purchase.bought_minutes
    )
    tx.orm.add(
        PackagePayment(
            purchase_id=must_id(purchase),
            method=method,
            minutes=minutes,
            amount_cents=amount,
            reference=ref,
            actor=tx.actor,
            at=tx.now,
        )
    )
    return amount


def settle_purchase(
    tx: Tx, purchase_id: int, minutes: int | None, method: str, reference: str | None = None
) -> PurchaseLine:
    """Record a later payment of a package's owed hours (all of them unless ``minutes``): the
    price of those hours pro rata, to the cent."""
    paid_by = payment_method(method)
    missing = f"no package {purchase_id}: see `tutorctl purchase list`"
    found = must_get(tx, Purchase, purchase_id, missing)
    tx.lock(accounts=[found.student_id])
    owed = found.bought_minutes - found.paid_minutes
    if owed == 0:
        raise RuleError(f"package {purchase_id} owes nothing: all its hours are paid")
    settling = owed if minutes is None else minutes
    if settling <= 0:
        raise InputError("bad --hours: settle more than zero hours")
    if settling > owed:
        raise RuleError(
            f"package {purchase_id} owes {owed / 60:g} h: cannot settle {settling / 60:g} h"
        )
    amount = _pay_package(
        tx, found, found.paid_minutes, found.paid_minutes + settling, paid_by, reference
    )
    found.paid_minutes += settling
    tx.orm.add(found)
    tx.record(
        PackageSettled(purchase_id, found.student_id, found.teacher_id, settling, amount, paid_by)
    )
    tx.flush()
    return purchase_lines(tx, found.student_id, [purchase_id])[0]


def purchase_lines(
    tx: Tx, student_id: int | None = None, ids: list[int] | None = None
) -> list[PurchaseLine]:
    teacher, student = aliased(User), aliased(User)
    query = (
        sa_select(Purchase, col(teacher.handle), col(student.handle), col(Category.name))
        .join(teacher, col(teacher.id) == Purchase.teacher_id)
        .join(student, col(student.id) == Purchase.student_id)
        .join(Category, col(Category.id) == Purchase.category_id)
        .order_by(col(Purchase.purchased_on), col(Purchase.id))
    )
    if student_id is not None:
        query = query.where(col(Purchase.student_id) == student_id)
    if ids is not None:
        query = query.where(col(Purchase.id).in_(ids))
    return [
        PurchaseLine(
            id=must_id(p),
            student=s,
            teacher=t,
            category=c,
            date=p.purchased_on.isoformat(),
            price_cents=p.price_cents,
            bought_minutes=p.bought_minutes,
            paid_minutes=p.paid_minutes,
            consumed_minutes=p.consumed_minutes,
            remaining_minutes=p.bought_minutes - p.consumed_minutes,
            owed_minutes=p.bought_minutes - p.paid_minutes,
            owed_cents=p.price_cents - paid_price(p.price_cents, p.paid_minutes, p.bought_minutes),
        )
        for p, t, s, c in tx.orm.execute(query)
    ]


def list_purchases(tx: Tx, student_ref: str | None = None) -> PurchaseListView:
    student_id = find_user(tx, student_ref, role=Role.STUDENT).id if student_ref else None
    return PurchaseListView(currency=tx.settings.currency, purchases=purchase_lines(tx, student_id))


class PackageStock(NamedTuple):
    """A package's minutes now: bought, consumed by its live lessons, and held by payments in
    progress (net of what those sessions' own cancels give back to it)."""

    bought_minutes: int
    consumed_minutes: int
    held_minutes: int

    @property
    def available_minutes(self) -> int:
        """What a writer may spend now: neither consumed nor held for a payment (SPEC §4)."""
        return self.bought_minutes - self.consumed_minutes - self.held_minutes


def package_stock(
    tx: Tx,
    *,
    purchase_ids: Iterable[int] | None = None,
    student_id: int | None = None,
    excluding: int | None = None,
) -> dict[int, PackageStock]:
    """The stock of these packages (or of this student's), by purchase id: the one answer to
    "how many minutes of package P may be spent now", for every writer of package consumption
    (an import, a session's plan at reserve, pay and confirm, a teacher's day off). Minutes
    held by the session ``excluding`` (the one being planned) are not counted against it."""
    awaiting = and_(S.c.id == PH.c.session_id, S.c.status == SessionStatus.AWAITING_PAYMENT)
    held_query = sa_select(PH.c.purchase_id, func.sum(PH.c.minutes).label("minutes")).select_from(
        PH.join(S, awaiting)
    )
    if excluding is not None:
        held_query = held_query.where(S.c.id != excluding)
    held = held_query.group_by(PH.c.purchase_id).subquery()
    query = sa_select(
        P.c.id, P.c.bought_minutes, P.c.consumed_minutes, func.coalesce(held.c.minutes, 0)
    ).select_from(P.outerjoin(held, held.c.purchase_id == P.c.id))
    if purchase_ids is not None:
        query = query.where(tx.one_of(P.c.id, sorted(set(purchase_ids))))
    if student_id is not None:
        query = query.where(P.c.student_id == student_id)
    return {
        pid: PackageStock(int(bought), int(consumed), int(minutes))
        for pid, bought, consumed, minutes in tx.run(query)
    }

"""The events of an applied session (SPEC §11): what was booked, moved and cancelled, with the
money — built from the plan just applied, so the receipt says exactly what was done."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlmodel import col

from tutorctl.core import resume as rs
from tutorctl.core.events import (
    Cause,
    LessonBooked,
    LessonCancelled,
    LessonChange,
    LessonFact,
    LessonMoved,
    NotApplied,
    PackageUse,
    PaidFor,
    SessionApplied,
    SessionMoney,
)
from tutorctl.core.status import FundingSource
from tutorctl.db.schema import Category, Operation, Reservation
from tutorctl.db.uow import Tx


def _fact(tx: Tx, lesson: rs.Lesson) -> LessonFact:
    row = tx.orm.get(Reservation, lesson.id)  # loaded by apply_plan: no query
    assert row is not None
    return _row_fact(row, lesson.category)


def _row_fact(row: Reservation, category: str) -> LessonFact:
    assert row.id is not None
    return LessonFact(
        id=row.id,
        lineage=row.lineage_id or row.id,
        revision=row.revision,
        teacher_id=row.teacher_id,
        student_id=row.student_id,
        category=category,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        price_cents=row.price_cents,
    )


def _packages(charge: rs.Charge, credit: dict[tuple[int, int], int]) -> tuple[PackageUse, ...]:
    """The package hours of one charge, per package in id order, with those on credit."""
    return tuple(PackageUse(*use) for use in rs.package_hours(charge.parts, [charge], credit))


def not_applied(tx: Tx, dropped: Sequence[tuple[Operation, str]]) -> tuple[NotApplied, ...]:
    """The operations left out as a session was paid for, each with its lesson and why: a
    reserve's new lesson, the lesson a cancel or a move targeted. One query."""
    ids = {op.new_id if op.kind == "reserve" else op.target_id for op, _why in dropped}
    rows = tx.orm.execute(  # ORM rows: Session.execute
        select(Reservation, col(Category.name))
        .join(Category, col(Category.id) == Reservation.category_id)
        .where(col(Reservation.id).in_(sorted(i for i in ids if i is not None)))
    )
    facts = {row.id: _row_fact(row, category) for row, category in rows}
    return tuple(
        NotApplied(op.kind, facts[lesson_id], why)
        for op, why in dropped
        if (lesson_id := op.new_id if op.kind == "reserve" else op.target_id) in facts
    )


def applied_event(
    tx: Tx,
    session_id: int,
    student_id: int,
    plan: rs.Plan,
    applied: tuple[Cause, Iterable[int]],
    reason: str | None,
    balance_after_cents: int,
    dropped: tuple[NotApplied, ...] = (),
) -> SessionApplied:
    """What ``plan`` did, with what applied it and the people of its history row.
    ``balance_after_cents`` is the ledger's, once all of the session's money moved (a
    payment's surplus too); ``dropped``, what was left out as it was paid for."""
    refunds = {r.lesson.id: r for r in plan.refunds}
    credit = rs.on_credit(plan)
    extra = {c.lesson.id: c for c in plan.charges if c.kind != "reserve"}
    changes: list[LessonChange] = []
    for refund in plan.refunds:
        if refund.kind == "cancel":
            minutes = sum(p.minutes for p in refund.to_purchases)
            changes.append(
                LessonCancelled(
                    _fact(tx, refund.lesson), refund.to_balance_cents, minutes, refund.late
                )
            )
    for carry in plan.carries:
        shortened = refunds.get(carry.old.id)
        longer = extra.get(carry.new.id)
        changes.append(
            LessonMoved(
                _fact(tx, carry.old),
                _fact(tx, carry.new),
                refund_cents=shortened.to_balance_cents if shortened else 0,
                extra_cents=longer.price_cents if longer else 0,
                packages=_packages(longer, credit) if longer else (),
            )
        )
    for charge in plan.charges:
        if charge.kind == "reserve":
            changes.append(LessonBooked(_fact(tx, charge.lesson), _packages(charge, credit)))
    parts = [part for charge in plan.charges for part in charge.parts]
    cause, people = applied
    # all the provider took: what the plan asked, and the surplus the balance got
    taken = cause.amount_cents if isinstance(cause, PaidFor) else plan.to_pay_cents
    money = SessionMoney(
        package_minutes=sum(p.minutes for p in parts if p.source == FundingSource.PURCHASE),
        balance_cents=sum(p.amount_cents for p in parts if p.source == FundingSource.BALANCE),
        payment_cents=taken,
        refund_cents=sum(r.to_balance_cents for r in plan.refunds),
        refund_minutes=sum(p.minutes for r in plan.refunds for p in r.to_purchases),
        balance_after_cents=balance_after_cents,
        surplus_cents=taken - plan.to_pay_cents,
    )
    return SessionApplied(
        session_id, student_id, tuple(changes), money, cause, tuple(people), reason, dropped
    )

"""The events of an applied session (SPEC §11): what was booked, moved and cancelled, with the
money — built from the plan just applied, so the receipt says exactly what was done."""

from __future__ import annotations

from collections.abc import Iterable

from tutorctl.core import resume as rs
from tutorctl.core.events import (
    Cause,
    LessonBooked,
    LessonCancelled,
    LessonChange,
    LessonFact,
    LessonMoved,
    PackageUse,
    SessionApplied,
    SessionMoney,
)
from tutorctl.core.status import FundingSource
from tutorctl.db.schema import Reservation
from tutorctl.db.uow import Tx


def _fact(tx: Tx, lesson: rs.Lesson) -> LessonFact:
    row = tx.orm.get(Reservation, lesson.id)  # loaded by apply_plan: no query
    assert row is not None and row.id is not None
    return LessonFact(
        id=row.id,
        lineage=row.lineage_id or row.id,
        revision=row.revision,
        teacher_id=row.teacher_id,
        student_id=row.student_id,
        category=lesson.category,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        price_cents=row.price_cents,
    )


def _packages(charge: rs.Charge, credit: dict[tuple[int, int], int]) -> tuple[PackageUse, ...]:
    """The package hours of one charge, per package in id order, with those on credit."""
    minutes: dict[int, int] = {}
    for part in charge.parts:
        if part.source == FundingSource.PURCHASE and part.purchase_id is not None:
            minutes[part.purchase_id] = minutes.get(part.purchase_id, 0) + part.minutes
    return tuple(
        PackageUse(pid, minutes[pid], credit.get((id(charge), pid), 0)) for pid in sorted(minutes)
    )


def applied_event(
    tx: Tx,
    session_id: int,
    student_id: int,
    plan: rs.Plan,
    applied: tuple[Cause, Iterable[int]],
    reason: str | None,
) -> SessionApplied:
    """What ``plan`` did, with what applied it and the people of its history row."""
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
    money = SessionMoney(
        package_minutes=sum(p.minutes for p in parts if p.source == FundingSource.PURCHASE),
        balance_cents=sum(p.amount_cents for p in parts if p.source == FundingSource.BALANCE),
        payment_cents=plan.to_pay_cents,
        refund_cents=sum(r.to_balance_cents for r in plan.refunds),
        refund_minutes=sum(p.minutes for r in plan.refunds for p in r.to_purchases),
        balance_after_cents=plan.balance_after_cents,
    )
    cause, people = applied
    return SessionApplied(
        session_id, student_id, tuple(changes), money, cause, tuple(people), reason
    )

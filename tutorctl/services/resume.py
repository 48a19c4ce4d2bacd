"""The payment resume of a session: its plan computed from the database (``core.resume`` is
the pure planner) and the read model the desk sees before paying."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlmodel import col, select

from tutorctl.core import resume as rs
from tutorctl.core.money import paid_price, plain_amount
from tutorctl.core.status import FundingSource, OperationKind, SessionStatus
from tutorctl.core.views import (
    CancelGroupView,
    CancelTotalsView,
    MoveLineView,
    NewGroupView,
    NewTotalsView,
    PackageHoursView,
    PurchaseLine,
    ResumeView,
)
from tutorctl.db.schema import (
    BookingSession,
    Category,
    Funding,
    Operation,
    Purchase,
    Reservation,
    User,
)
from tutorctl.db.uow import Tx
from tutorctl.services.accounts import account_of, available_cents
from tutorctl.services.ids import must_id
from tutorctl.services.operations import partition_stale, pending_operations
from tutorctl.services.packages import package_stock, purchase_lines
from tutorctl.services.placement import late_by_notice
from tutorctl.services.sessions import get_session


def _lesson_facts(tx: Tx, ids: set[int]) -> tuple[dict[int, rs.Lesson], dict[int, datetime]]:
    """The lessons as the planner reads them (with their funding), and when each starts."""
    if not ids:
        return {}, {}
    grid = tx.settings.grid
    funding: dict[int, list[rs.Part]] = defaultdict(list)
    for f in tx.orm.exec(
        select(Funding)
        .where(col(Funding.reservation_id).in_(sorted(ids)))
        .order_by(col(Funding.id))
    ):
        funding[f.reservation_id].append(
            rs.Part(f.source, f.minutes, f.amount_cents, f.purchase_id, f.payment_id)
        )
    rows = tx.orm.execute(  # ORM rows: Session.execute
        sa_select(Reservation, col(User.handle), col(Category.name))
        .join(User, col(User.id) == Reservation.teacher_id)
        .join(Category, col(Category.id) == Reservation.category_id)
        .where(col(Reservation.id).in_(sorted(ids)))
    )
    facts, starts = {}, {}
    for r, teacher, category in rows:
        lesson_id = must_id(r)
        starts[lesson_id] = r.starts_at
        facts[lesson_id] = rs.Lesson(
            id=lesson_id,
            teacher_id=r.teacher_id,
            teacher=teacher,
            category_id=r.category_id,
            category=category,
            minutes=grid.minutes(r.start_slot, r.end_slot),
            price_cents=r.price_cents,
            date=(r.week + timedelta(days=r.day)).isoformat(),
            time=grid.format_slot(r.start_slot),
            funding=tuple(funding[lesson_id]),
        )
    return facts, starts


def _purchases_for_plan(
    tx: Tx, student_id: int, excluding: int | None = None
) -> list[rs.PurchaseState]:
    """The student's packages as a plan sees them: minutes held by another session awaiting
    its payment count as used (``package_stock``, what every writer may spend)."""
    rows = tx.orm.exec(select(Purchase).where(Purchase.student_id == student_id))
    names = {line.id: line for line in purchase_lines(tx, student_id)}
    stock = package_stock(tx, student_id=student_id, excluding=excluding)
    return [
        rs.PurchaseState(
            id=must_id(p),
            teacher_id=p.teacher_id,
            teacher=names[must_id(p)].teacher,
            category_id=p.category_id,
            category=names[must_id(p)].category,
            purchased_on=p.purchased_on.isoformat(),
            price_cents=p.price_cents,
            bought_minutes=p.bought_minutes,
            paid_minutes=p.paid_minutes,
            consumed_minutes=p.bought_minutes - stock[must_id(p)].available_minutes,
        )
        for p in rows
    ]


def _inputs(
    tx: Tx, operations: list[Operation]
) -> tuple[list[rs.Cancel], list[rs.Move], list[rs.New]]:
    ids = {i for op in operations for i in (op.new_id, op.target_id) if i is not None}
    facts, starts = _lesson_facts(tx, ids)
    cancels, moves, news = [], [], []
    for op in operations:
        if op.kind == OperationKind.CANCEL and op.target_id:
            late = late_by_notice(tx, starts[op.target_id]) and not op.waive_notice
            cancels.append(rs.Cancel(must_id(op), facts[op.target_id], late))
        elif op.kind == OperationKind.MOVE and op.target_id and op.new_id:
            moves.append(rs.Move(must_id(op), facts[op.target_id], facts[op.new_id]))
        elif op.kind == OperationKind.RESERVE and op.new_id:
            news.append(rs.New(must_id(op), facts[op.new_id]))
    return cancels, moves, news


def compute_plan(
    tx: Tx,
    booking: BookingSession,
    operations: list[Operation] | None = None,
    *,
    balance_cap: int | None = None,
) -> rs.Plan:
    """The session's plan over what the student has now; ``balance_cap``: spend at most that
    much of the balance (a settling payment's plan: what the payment was taken for)."""
    ops = pending_operations(tx, must_id(booking)) if operations is None else operations
    student = tx.orm.get(User, booking.student_id)
    assert student is not None
    cancels, moves, news = _inputs(tx, ops)
    balance = available_cents(tx, account_of(tx, student), excluding=booking.id)
    if balance_cap is not None:
        balance = min(balance, balance_cap)
    purchases = _purchases_for_plan(tx, booking.student_id, excluding=booking.id)
    return rs.plan(balance, purchases, cancels, moves, news)


def _line(p: rs.PurchaseState, student: str) -> PurchaseLine:
    return PurchaseLine(
        id=p.id,
        student=student,
        teacher=p.teacher,
        category=p.category,
        date=p.purchased_on,
        price_cents=p.price_cents,
        bought_minutes=p.bought_minutes,
        paid_minutes=p.paid_minutes,
        consumed_minutes=p.consumed_minutes,
        remaining_minutes=p.remaining_minutes,
        owed_minutes=p.owed_minutes,
        owed_cents=p.price_cents - paid_price(p.price_cents, p.paid_minutes, p.bought_minutes),
    )


def _package_hours(uses: list[tuple[int, int, int]]) -> list[PackageHoursView]:
    return [PackageHoursView(*use) for use in uses]


def _cancel_group(teacher: str, category: str, items: list[rs.Refund]) -> CancelGroupView:
    return CancelGroupView(
        teacher=teacher,
        category=category,
        lessons=len({r.lesson.id for r in items}),
        minutes=sum(r.minutes for r in items),
        refunded_minutes_to_purchases=sum(p.minutes for r in items for p in r.to_purchases),
        refunded_cents_to_balance=sum(r.to_balance_cents for r in items),
        late_lessons=sum(1 for r in items if r.late),
        lesson_ids=[r.lesson.id for r in items],
        to_purchases=_package_hours(rs.package_hours(p for r in items for p in r.to_purchases)),
    )


def _new_group(
    teacher: str, category: str, items: list[rs.Charge], on_credit: dict[tuple[int, int], int]
) -> NewGroupView:
    uses = rs.package_hours((p for c in items for p in c.parts), items, on_credit)
    return NewGroupView(
        teacher=teacher,
        category=category,
        lessons=len({c.lesson.id for c in items}),
        minutes=sum(c.minutes for c in items),
        price_cents=sum(c.price_cents for c in items),
        from_purchases_minutes=sum(
            p.minutes for c in items for p in c.parts if p.source == FundingSource.PURCHASE
        ),
        from_balance_cents=sum(
            p.amount_cents for c in items for p in c.parts if p.source == FundingSource.BALANCE
        ),
        external_cents=sum(c.external_cents for c in items),
        lesson_ids=[c.lesson.id for c in items],
        on_credit_minutes=sum(owed for _pid, _minutes, owed in uses),
        from_purchases=_package_hours(uses),
    )


def _span(start: str, minutes: int) -> str:
    """``10:00`` and 90 minutes → ``10:00-11:30`` (wall clock; 24:00 ends a day)."""
    hour, minute = map(int, start.split(":"))
    end = hour * 60 + minute + minutes
    return f"{start}-{end // 60:02d}:{end % 60:02d}"


def _move_line(carry: rs.Carry) -> MoveLineView:
    old, new = carry.old, carry.new
    change = (
        "same length"
        if new.minutes == old.minutes
        else ("longer" if new.minutes > old.minutes else "shorter")
    )
    return MoveLineView(
        operation_id=carry.operation_id,
        lesson_id=old.id,
        new_lesson_id=new.id,
        teacher=old.teacher,
        category=old.category,
        from_date=old.date,
        from_time=_span(old.time, old.minutes),
        to_date=new.date,
        to_time=_span(new.time, new.minutes),
        old_minutes=old.minutes,
        new_minutes=new.minutes,
        change=change,
        kept_purchase_minutes=sum(
            p.minutes for p in carry.parts if p.source == FundingSource.PURCHASE
        ),
        kept_cents=sum(p.amount_cents for p in carry.parts if p.source != FundingSource.PURCHASE),
    )


def resume_view(tx: Tx, booking: BookingSession, plan: rs.Plan) -> ResumeView:
    student = tx.orm.get(User, booking.student_id)
    assert student is not None
    currency = tx.settings.currency
    cancel_groups: dict[tuple[str, str], list[rs.Refund]] = defaultdict(list)
    for refund in plan.refunds:
        cancel_groups[(refund.lesson.teacher, refund.lesson.category)].append(refund)
    on_credit = rs.on_credit(plan)
    new_groups: dict[tuple[str, str], list[rs.Charge]] = defaultdict(list)
    for charge in plan.charges:
        new_groups[(charge.lesson.teacher, charge.lesson.category)].append(charge)
    notes = []
    for refund in plan.refunds:
        if refund.late:
            notes.append(
                f"lesson {refund.lesson.id} on {refund.lesson.date} {refund.lesson.time} is cancelled less than "
                f"{tx.settings.cancel_notice_hours} h before it starts: a late cancel, not refunded"
            )
    if plan.to_pay_cents:
        notes.append(
            f"next: tutorctl session pay {booking.id} --method card|wechat|cash|transfer "
            f"--expect-total {plain_amount(plan.to_pay_cents)}"
        )
    elif plan.charges or plan.refunds or plan.carries:
        notes.append(f"nothing to pay — next: tutorctl session confirm {booking.id}")
    cancellations = [_cancel_group(t, c, items) for (t, c), items in sorted(cancel_groups.items())]
    new_lessons = [
        _new_group(t, c, items, on_credit) for (t, c), items in sorted(new_groups.items())
    ]
    return ResumeView(
        session_id=must_id(booking),
        student=student.handle,
        status=booking.status,
        currency=currency,
        balance_before_cents=plan.balance_before_cents,
        purchases_before=[_line(p, student.handle) for p in plan.purchases_before],
        cancellations=cancellations,
        balance_between_cents=plan.balance_between_cents,
        purchases_between=[_line(p, student.handle) for p in plan.purchases_between],
        new_lessons=new_lessons,
        to_pay_cents=plan.to_pay_cents,
        balance_after_cents=plan.balance_after_cents,
        notes=notes,
        moves=[_move_line(c) for c in sorted(plan.carries, key=lambda c: c.operation_id)],
        cancellation_totals=CancelTotalsView(
            lessons=len({r.lesson.id for r in plan.refunds}),
            minutes=sum(g.minutes for g in cancellations),
            refunded_minutes_to_purchases=sum(
                g.refunded_minutes_to_purchases for g in cancellations
            ),
            refunded_cents_to_balance=sum(g.refunded_cents_to_balance for g in cancellations),
            late_lessons=sum(g.late_lessons for g in cancellations),
        ),
        new_lesson_totals=NewTotalsView(
            lessons=len({c.lesson.id for c in plan.charges}),
            minutes=sum(g.minutes for g in new_lessons),
            price_cents=sum(g.price_cents for g in new_lessons),
            from_purchases_minutes=sum(g.from_purchases_minutes for g in new_lessons),
            on_credit_minutes=sum(g.on_credit_minutes for g in new_lessons),
            from_balance_cents=sum(g.from_balance_cents for g in new_lessons),
            external_cents=sum(g.external_cents for g in new_lessons),
        ),
    )


def show_resume(tx: Tx, session_id: int) -> ResumeView:
    booking = get_session(tx, session_id)
    operations = pending_operations(tx, session_id)
    if booking.status not in (SessionStatus.OPEN, SessionStatus.AWAITING_PAYMENT):
        return resume_view(tx, booking, compute_plan(tx, booking, operations))
    viable, stale = partition_stale(tx, operations)
    view = resume_view(tx, booking, compute_plan(tx, booking, viable))
    notes = [f"operation {op.id} ({op.kind}) will be abandoned: {why}" for op, why in stale]
    return replace(view, notes=notes + view.notes) if notes else view

"""Money: accounts and their ledger, hour packages, the payment resume, pay and confirm.

Every function that moves money locks the student's account first, then the calendar weeks
of every lesson the session holds or targets (``Tx.lock``), recomputes the resume there and
applies exactly that plan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

from sqlmodel import col, func, select

from tutorctl.core import resume as rs
from tutorctl.core.errors import InputError, NotFoundError, RuleError
from tutorctl.core.money import METHODS, format_amount, paid_price
from tutorctl.core.views import (
    AccountView,
    CancelGroupView,
    CancelTotalsView,
    LedgerLineView,
    LedgerView,
    MoveLineView,
    NewGroupView,
    NewTotalsView,
    PackageHoursView,
    PayResultView,
    PurchaseLine,
    PurchaseListView,
    ResumeView,
)
from tutorctl.db.schema import (
    Account,
    BookingSession,
    Category,
    Funding,
    LedgerEntry,
    Operation,
    PackageHold,
    PackagePayment,
    Payment,
    Purchase,
    Reservation,
    User,
)
from tutorctl.db.uow import Tx
from tutorctl.services.booking import (
    check_place,
    get_session,
    late_by_notice,
    pending_operations,
    release,
    require_status,
)
from tutorctl.services.users import find_category, find_user

# -- accounts and purchases --------------------------------------------------------------------


def account_of(tx: Tx, student: User) -> Account:
    account = (
        tx.accounts().get(student.id or 0)
        or tx.session.exec(select(Account).where(Account.student_id == student.id)).first()
    )
    if account is None:
        raise NotFoundError(f"{student.handle} has no account (not a student?)")
    return account


def post(tx: Tx, account: Account, amount: int, kind: str, reason: str, **refs: int | None) -> None:
    """Append a ledger entry and move the cached balance with it (never below zero)."""
    if account.balance_cents + amount < 0:
        raise RuleError(
            f"insufficient funds: the balance is {format_amount(account.balance_cents, tx.settings.currency)}"
        )
    account.balance_cents += amount
    tx.session.add(account)
    tx.session.add(
        LedgerEntry(
            account_id=account.id or 0,
            amount_cents=amount,
            kind=kind,
            reason=reason[:200],
            actor=tx.actor,
            at=tx.now,
            **refs,
        )
    )


def credit(tx: Tx, student_ref: str, amount_cents: int, reason: str | None = None) -> AccountView:
    student = find_user(tx, student_ref, role="student")
    tx.lock(accounts=[student.id or 0])
    account = account_of(tx, student)
    post(tx, account, amount_cents, "credit", reason or "credit")
    tx.audit(
        f"credit {student.handle}",
        users=[student.id or 0],
        amount_cents=amount_cents,
        reason=reason or "credit",
    )
    return show_account(tx, student_ref)


def debit(tx: Tx, student_ref: str, amount_cents: int, reason: str) -> AccountView:
    """Pay money out of a student's balance (back to the family, or a correction): never below
    zero, never money a pending payment has reserved."""
    student = find_user(tx, student_ref, role="student")
    tx.lock(accounts=[student.id or 0])
    account = account_of(tx, student)
    reserved = reserved_cents(tx, student.id or 0)
    available = account.balance_cents - reserved
    if amount_cents > available:
        currency = tx.settings.currency
        held = f" ({format_amount(reserved, currency)} reserved for a payment in progress)"
        raise RuleError(
            f"insufficient funds: {student.handle} has {format_amount(available, currency)} "
            f"available{held if reserved else ''}, not {format_amount(amount_cents, currency)}"
        )
    post(tx, account, -amount_cents, "debit", reason)
    tx.audit(
        f"debit {student.handle}", users=[student.id or 0], amount_cents=amount_cents, reason=reason
    )
    return show_account(tx, student_ref)


def show_account(tx: Tx, student_ref: str) -> AccountView:
    student = find_user(tx, student_ref, role="student")
    account = account_of(tx, student)
    return AccountView(
        student=student.handle,
        student_id=student.id or 0,
        balance_cents=account.balance_cents,
        reserved_cents=reserved_cents(tx, student.id or 0),
        currency=tx.settings.currency,
        purchases=[line for line in purchase_lines(tx, student.id) if line.remaining_minutes > 0],
    )


def reserved_cents(tx: Tx, student_id: int, excluding: int | None = None) -> int:
    """Balance money reserved by the student's sessions awaiting their payment (SPEC §4): no
    other session may spend it until that payment is settled."""
    query = select(func.coalesce(func.sum(BookingSession.reserved_cents), 0)).where(
        BookingSession.student_id == student_id, BookingSession.status == "awaiting_payment"
    )
    if excluding is not None:
        query = query.where(BookingSession.id != excluding)
    return int(tx.session.exec(query).one())


def account_history(tx: Tx, student_ref: str) -> LedgerView:
    student = find_user(tx, student_ref, role="student")
    account = account_of(tx, student)
    rows = tx.session.exec(
        select(LedgerEntry)
        .where(LedgerEntry.account_id == account.id)
        .order_by(col(LedgerEntry.id))
    )
    zone = tx.settings.zone
    return LedgerView(
        student=student.handle,
        currency=tx.settings.currency,
        balance_cents=account.balance_cents,
        entries=[
            LedgerLineView(
                id=e.id or 0,
                at=e.at.astimezone(zone).isoformat(),
                amount_cents=e.amount_cents,
                reason=e.reason,
                session_id=e.session_id,
                reservation_id=e.reservation_id,
                payment_id=e.payment_id,
                actor=e.actor,
            )
            for e in rows
        ],
    )


def parse_hours(text: str, what: str = "hours") -> int:
    """``"10"`` or ``"1.5"`` hours (at most 10,000, SPEC §6 input limits) → whole minutes."""
    from tutorctl.core import money

    return money.parse_hours(text, what)


def add_purchase(
    tx: Tx,
    student_ref: str,
    teacher_ref: str,
    category_ref: str,
    bought_minutes: int,
    price_cents: int,
    paid_minutes: int | None = None,
    purchased_on: date | None = None,
    method: str = "cash",
    reference: str | None = None,
) -> PurchaseLine:
    """Record a package; the payment of its paid hours is recorded with it (``method``)."""
    _check_method(method)
    student = find_user(tx, student_ref, role="student")
    teacher = find_user(tx, teacher_ref, role="teacher")
    category = find_category(tx, category_ref)
    if bought_minutes <= 0:
        raise InputError("bad --hours: a package has more than zero hours")
    paid = bought_minutes if paid_minutes is None else paid_minutes
    if not 0 <= paid <= bought_minutes:
        raise InputError("bad --paid-hours: between 0 and the hours bought")
    tx.lock(accounts=[student.id or 0])
    purchase = Purchase(
        student_id=student.id or 0,
        teacher_id=teacher.id or 0,
        category_id=category.id or 0,
        bought_minutes=bought_minutes,
        paid_minutes=paid,
        consumed_minutes=0,
        price_cents=price_cents,
        purchased_on=purchased_on or tx.today,
        created_at=tx.now,
    )
    tx.session.add(purchase)
    tx.session.flush()
    amount = _pay_package(tx, purchase, 0, paid, method, reference)
    tx.audit(
        f"purchase {student.handle}",
        users=[student.id or 0, teacher.id or 0],
        purchase=purchase.id,
        bought_minutes=bought_minutes,
        paid_minutes=paid,
        price_cents=price_cents,
        paid_cents=amount,
        method=method,
        category=category.name,
    )
    return purchase_lines(tx, student.id, [purchase.id or 0])[0]


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise InputError(f"bad --method {method!r}: use {', '.join(METHODS)}")


def _pay_package(
    tx: Tx, purchase: Purchase, paid_before: int, paid_after: int, method: str, ref: str | None
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
    tx.session.add(
        PackagePayment(
            purchase_id=purchase.id or 0,
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
    _check_method(method)
    found = tx.session.get(Purchase, purchase_id)
    if found is None:
        raise NotFoundError(f"no package {purchase_id}: see `tutorctl purchase list`")
    tx.lock(accounts=[found.student_id])
    tx.session.refresh(found)  # read under the lock
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
        tx, found, found.paid_minutes, found.paid_minutes + settling, method, reference
    )
    found.paid_minutes += settling
    tx.session.add(found)
    tx.audit(
        f"settle package {purchase_id}",
        users=[found.student_id, found.teacher_id],
        purchase=purchase_id,
        minutes=settling,
        amount_cents=amount,
        method=method,
    )
    tx.flush()
    return purchase_lines(tx, found.student_id, [purchase_id])[0]


def purchase_lines(
    tx: Tx, student_id: int | None = None, ids: list[int] | None = None
) -> list[PurchaseLine]:
    from sqlalchemy import select as sa_select
    from sqlalchemy.orm import aliased

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
            id=p.id or 0,
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
        for p, t, s, c in tx.session.execute(query)
    ]


def list_purchases(tx: Tx, student_ref: str | None = None) -> PurchaseListView:
    student_id = find_user(tx, student_ref, role="student").id if student_ref else None
    return PurchaseListView(currency=tx.settings.currency, purchases=purchase_lines(tx, student_id))


# -- the resume -----------------------------------------------------------------------------------


def _lesson_facts(tx: Tx, ids: set[int]) -> dict[int, rs.Lesson]:
    if not ids:
        return {}
    from sqlalchemy import select as sa_select

    grid = tx.settings.grid
    funding: dict[int, list[rs.Part]] = defaultdict(list)
    for f in tx.session.exec(
        select(Funding)
        .where(col(Funding.reservation_id).in_(sorted(ids)))
        .order_by(col(Funding.id))
    ):
        funding[f.reservation_id].append(
            rs.Part(f.source, f.minutes, f.amount_cents, f.purchase_id, f.payment_id)
        )
    rows = tx.session.execute(
        sa_select(Reservation, col(User.handle), col(Category.name))
        .join(User, col(User.id) == Reservation.teacher_id)
        .join(Category, col(Category.id) == Reservation.category_id)
        .where(col(Reservation.id).in_(sorted(ids)))
    )
    facts = {}
    for r, teacher, category in rows:
        facts[r.id] = rs.Lesson(
            id=r.id,
            teacher_id=r.teacher_id,
            teacher=teacher,
            category_id=r.category_id,
            category=category,
            minutes=grid.minutes(r.start_slot, r.end_slot),
            price_cents=r.price_cents,
            date=(r.week + timedelta(days=r.day)).isoformat(),
            time=grid.format_slot(r.start_slot),
            funding=tuple(funding[r.id]),
        )
    return facts


def held_minutes(tx: Tx, student_id: int, excluding: int | None = None) -> dict[int, int]:
    """Package minutes (by purchase) held by the student's sessions awaiting their payment."""
    query = (
        select(PackageHold.purchase_id, func.sum(PackageHold.minutes))
        .join(BookingSession, col(BookingSession.id) == PackageHold.session_id)
        .where(
            BookingSession.student_id == student_id,
            BookingSession.status == "awaiting_payment",
        )
        .group_by(col(PackageHold.purchase_id))
    )
    if excluding is not None:
        query = query.where(BookingSession.id != excluding)
    return {purchase: int(minutes) for purchase, minutes in tx.session.exec(query)}


def _purchases_for_plan(
    tx: Tx, student_id: int, excluding: int | None = None
) -> list[rs.PurchaseState]:
    """The student's packages as a plan sees them: minutes held by another session awaiting
    its payment count as used."""
    rows = tx.session.exec(select(Purchase).where(Purchase.student_id == student_id))
    names = {line.id: line for line in purchase_lines(tx, student_id)}
    held = held_minutes(tx, student_id, excluding)
    return [
        rs.PurchaseState(
            id=p.id or 0,
            teacher_id=p.teacher_id,
            teacher=names[p.id or 0].teacher,
            category_id=p.category_id,
            category=names[p.id or 0].category,
            purchased_on=p.purchased_on.isoformat(),
            price_cents=p.price_cents,
            bought_minutes=p.bought_minutes,
            paid_minutes=p.paid_minutes,
            consumed_minutes=p.consumed_minutes + held.get(p.id or 0, 0),
        )
        for p in rows
    ]


def _inputs(
    tx: Tx, session: BookingSession, operations: list[Operation]
) -> tuple[list[rs.Cancel], list[rs.Move], list[rs.New]]:
    ids = {i for op in operations for i in (op.new_id, op.target_id) if i is not None}
    facts = _lesson_facts(tx, ids)
    starts = (
        {
            r.id: r.starts_at
            for r in tx.session.exec(
                select(Reservation).where(col(Reservation.id).in_(sorted(ids)))
            )
        }
        if ids
        else {}
    )
    cancels, moves, news = [], [], []
    for op in operations:
        if op.kind == "cancel" and op.target_id:
            late = late_by_notice(tx, starts[op.target_id]) and not op.waive_notice
            cancels.append(rs.Cancel(op.id or 0, facts[op.target_id], late))
        elif op.kind == "move" and op.target_id and op.new_id:
            moves.append(rs.Move(op.id or 0, facts[op.target_id], facts[op.new_id]))
        elif op.kind == "reserve" and op.new_id:
            news.append(rs.New(op.id or 0, facts[op.new_id]))
    return cancels, moves, news


def compute_plan(
    tx: Tx, session: BookingSession, operations: list[Operation] | None = None
) -> rs.Plan:
    ops = pending_operations(tx, session.id or 0) if operations is None else operations
    student = tx.session.get(User, session.student_id)
    assert student is not None
    cancels, moves, news = _inputs(tx, session, ops)
    balance = account_of(tx, student).balance_cents - reserved_cents(
        tx, session.student_id, excluding=session.id
    )
    purchases = _purchases_for_plan(tx, session.student_id, excluding=session.id)
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


def _on_credit(plan: rs.Plan) -> dict[tuple[int, int], int]:
    """Of each charge's package minutes (by ``id`` of the charge and purchase id), those of
    owed hours: a package's minutes beyond its paid ones fund lessons on credit."""
    consumed = {p.id: p.consumed_minutes for p in plan.purchases_between}
    paid = {p.id: p.paid_minutes for p in plan.purchases_between}
    credit: dict[tuple[int, int], int] = {}
    for charge in plan.charges:  # in the order the plan took the package hours
        for part in charge.parts:
            if part.source != "purchase" or part.purchase_id not in consumed:
                continue
            used = consumed[part.purchase_id]
            after = used + part.minutes
            owed = after - max(used, paid[part.purchase_id])
            key = (id(charge), part.purchase_id)
            credit[key] = credit.get(key, 0) + max(0, owed)
            consumed[part.purchase_id] = after
    return credit


def _package_hours(
    parts: list[tuple[rs.Part, int]],
) -> list[PackageHoursView]:
    """Package parts (with their minutes on credit) added up per package, in id order."""
    minutes: dict[int, int] = defaultdict(int)
    credit: dict[int, int] = defaultdict(int)
    for part, on_credit in parts:
        if part.source == "purchase" and part.purchase_id is not None:
            minutes[part.purchase_id] += part.minutes
            credit[part.purchase_id] += on_credit
    return [PackageHoursView(pid, minutes[pid], credit[pid]) for pid in sorted(minutes)]


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
        to_purchases=_package_hours([(p, 0) for r in items for p in r.to_purchases]),
    )


def _new_group(
    teacher: str, category: str, items: list[rs.Charge], on_credit: dict[tuple[int, int], int]
) -> NewGroupView:
    return NewGroupView(
        teacher=teacher,
        category=category,
        lessons=len({c.lesson.id for c in items}),
        minutes=sum(c.minutes for c in items),
        price_cents=sum(c.price_cents for c in items),
        from_purchases_minutes=sum(
            p.minutes for c in items for p in c.parts if p.source == "purchase"
        ),
        from_balance_cents=sum(
            p.amount_cents for c in items for p in c.parts if p.source == "balance"
        ),
        external_cents=sum(c.external_cents for c in items),
        lesson_ids=[c.lesson.id for c in items],
        on_credit_minutes=sum(
            v for (cid, _), v in on_credit.items() if cid in {id(c) for c in items}
        ),
        from_purchases=_package_hours(
            [(p, on_credit.get((id(c), p.purchase_id or 0), 0)) for c in items for p in c.parts]
        ),
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
        kept_purchase_minutes=sum(p.minutes for p in carry.parts if p.source == "purchase"),
        kept_cents=sum(p.amount_cents for p in carry.parts if p.source != "purchase"),
    )


def resume_view(tx: Tx, session: BookingSession, plan: rs.Plan) -> ResumeView:
    student = tx.session.get(User, session.student_id)
    assert student is not None
    currency = tx.settings.currency
    cancel_groups: dict[tuple[str, str], list[rs.Refund]] = defaultdict(list)
    for refund in plan.refunds:
        cancel_groups[(refund.lesson.teacher, refund.lesson.category)].append(refund)
    on_credit = _on_credit(plan)
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
            f"next: tutorctl session pay {session.id} --method card|wechat|cash|transfer "
            f"--expect-total {format_amount(plan.to_pay_cents, '').strip()}"
        )
    elif plan.charges or plan.refunds or plan.carries:
        notes.append(f"nothing to pay — next: tutorctl session confirm {session.id}")
    cancellations = [_cancel_group(t, c, items) for (t, c), items in sorted(cancel_groups.items())]
    new_lessons = [
        _new_group(t, c, items, on_credit) for (t, c), items in sorted(new_groups.items())
    ]
    return ResumeView(
        session_id=session.id or 0,
        student=student.handle,
        status=session.status,
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
    session = get_session(tx, session_id)
    operations = pending_operations(tx, session_id)
    if session.status not in ("open", "awaiting_payment"):
        return resume_view(tx, session, compute_plan(tx, session, operations))
    viable, stale = partition_stale(tx, operations)
    view = resume_view(tx, session, compute_plan(tx, session, viable))
    notes = [f"operation {op.id} ({op.kind}) will be abandoned: {why}" for op, why in stale]
    return replace(view, notes=notes + view.notes) if notes else view


# -- time passes between choosing and paying (SPEC §5) ----------------------------------------


def stale_reason(tx: Tx, operation: Operation) -> str | None:
    """Why a pending operation no longer makes sense now, or None: a held lesson only while it
    has not started; a cancel or move only while its target is booked and has not started (a
    move inside the cancellation notice only if staff waived it)."""
    now = tx.now
    new = tx.session.get(Reservation, operation.new_id) if operation.new_id else None
    if new is not None and new.starts_at <= now:
        return f"lesson {new.id} had already started"
    if new is not None:  # a lesson is only booked with an active teacher, student and category
        for user_id in (new.teacher_id, new.student_id):
            user = tx.session.get(User, user_id)
            if user is not None and not user.active:
                return f"{user.role} {user.handle!r} is inactive"
        category = tx.session.get(Category, new.category_id)
        if category is not None and not category.active:
            return f"category {category.name!r} is inactive"
    if operation.target_id is None:
        return None
    target = tx.session.get(Reservation, operation.target_id)
    assert target is not None
    if target.status != "booked":
        return f"lesson {target.id} is {target.status}, no longer booked"
    if target.starts_at <= now:
        return f"lesson {target.id} had already started"
    if operation.kind == "move" and late_by_notice(tx, target.starts_at):
        if not operation.waive_notice:
            return (
                f"lesson {target.id} now starts in less than the "
                f"{tx.settings.cancel_notice_hours} h notice: a late move (not waived)"
            )
    return None


def partition_stale(
    tx: Tx, operations: list[Operation]
) -> tuple[list[Operation], list[tuple[Operation, str]]]:
    viable, stale = [], []
    for operation in operations:
        why = stale_reason(tx, operation)
        if why is None:
            viable.append(operation)
        else:
            stale.append((operation, why))
    return viable, stale


def abandon_stale(tx: Tx, session: BookingSession, operations: list[Operation]) -> list[Operation]:
    """Abandon (with the reason, holds released) the operations time has overtaken; the rest,
    which go on. Called under the session's locks by whatever applies operations."""
    viable, stale = partition_stale(tx, operations)
    for operation, why in stale:
        operation.note = why[:200]
        held = tx.session.get(Reservation, operation.new_id) if operation.new_id else None
        release(tx, operation, {held.id or 0: held} if held is not None else {})
    if stale:
        tx.audit(
            f"abandon {len(stale)} operation(s) of session {session.id}: time passed",
            users=[session.student_id],
            session_id=session.id,
            operations={str(op.id): why for op, why in stale},
        )
    return viable


# -- applying a plan -------------------------------------------------------------------------------


def _lock_session(tx: Tx, session_id: int) -> tuple[BookingSession, User]:
    """Lock the student's account (which serialises their sessions), then the weeks of every
    lesson the session holds or targets, read under that lock."""
    session = get_session(tx, session_id)
    tx.lock(accounts=[session.student_id])
    operations = list(tx.session.exec(select(Operation).where(Operation.session_id == session_id)))
    ids = sorted({i for op in operations for i in (op.new_id, op.target_id) if i is not None})
    lessons = (
        list(tx.session.exec(select(Reservation).where(col(Reservation.id).in_(ids))))
        if ids
        else []
    )
    tx.lock(weeks={k for r in lessons for k in ((r.teacher_id, r.week), (r.student_id, r.week))})
    tx.session.refresh(session)
    student = tx.session.get(User, session.student_id)
    assert student is not None
    return session, student


def _fund(
    tx: Tx,
    lesson_id: int,
    parts: tuple[rs.Part, ...],
    account: Account,
    session_id: int,
    payment_id: int | None,
) -> None:
    for part in parts:
        if part.source == "purchase" and part.purchase_id is not None:
            purchase = tx.session.get(Purchase, part.purchase_id)
            assert purchase is not None
            purchase.consumed_minutes += part.minutes
            tx.session.add(purchase)
        elif part.source == "balance" and part.amount_cents:
            post(
                tx,
                account,
                -part.amount_cents,
                "lesson",
                f"lesson {lesson_id}",
                session_id=session_id,
                reservation_id=lesson_id,
            )
        tx.session.add(
            Funding(
                reservation_id=lesson_id,
                source=part.source,
                purchase_id=part.purchase_id,
                payment_id=payment_id if part.source == "payment" else part.payment_id,
                minutes=part.minutes,
                amount_cents=part.amount_cents,
            )
        )


def apply_plan(
    tx: Tx,
    session: BookingSession,
    student: User,
    plan: rs.Plan,
    operations: list[Operation],
    payment_id: int | None = None,
) -> None:
    """Apply exactly ``plan``: refunds, carried funding, charges; lessons and operations move on."""
    account = account_of(tx, student)
    sid = session.id or 0
    for refund in plan.refunds:
        lesson = tx.session.get(Reservation, refund.lesson.id)
        assert lesson is not None
        if refund.kind == "cancel":
            lesson.status = "cancelled"
            lesson.late_cancel = refund.late
            tx.session.add(lesson)
        for part in refund.to_purchases:
            purchase = tx.session.get(Purchase, part.purchase_id)
            assert purchase is not None
            purchase.consumed_minutes -= part.minutes
            tx.session.add(purchase)
    for carry in plan.carries:
        old = tx.session.get(Reservation, carry.old.id)
        new = tx.session.get(Reservation, carry.new.id)
        assert old is not None and new is not None
        for row in tx.session.exec(select(Funding).where(Funding.reservation_id == old.id)):
            tx.session.delete(row)
        old.status, new.status = "cancelled", "booked"
        new.unfunded = old.unfunded  # an unfunded imported lesson stays unfunded (SPEC §4)
        tx.session.add_all([old, new])
        tx.session.flush()
        for part in carry.parts:
            tx.session.add(
                Funding(
                    reservation_id=new.id or 0,
                    source=part.source,
                    purchase_id=part.purchase_id,
                    payment_id=part.payment_id,
                    minutes=part.minutes,
                    amount_cents=part.amount_cents,
                )
            )
    for (
        refund
    ) in plan.refunds:  # money back after carries so a shortened move refunds onto its new lesson
        if refund.to_balance_cents:
            target = refund.lesson.id
            if refund.kind == "shortened move":
                target = next(c.new.id for c in plan.carries if c.old.id == refund.lesson.id)
            post(
                tx,
                account,
                refund.to_balance_cents,
                "move-refund" if refund.kind == "shortened move" else "refund",
                f"refund lesson {refund.lesson.id}",
                session_id=sid,
                reservation_id=target,
            )
    for charge in plan.charges:
        lesson = tx.session.get(Reservation, charge.lesson.id)
        assert lesson is not None
        lesson.status = "booked"
        tx.session.add(lesson)
        _fund(tx, lesson.id or 0, charge.parts, account, sid, payment_id)
    for operation in operations:
        operation.status = "applied"
        operation.applied_at = tx.now
        tx.session.add(operation)


# -- pay and confirm -------------------------------------------------------------------------------


def _pay_view(
    tx: Tx, session: BookingSession, payment: Payment | None, message: str
) -> PayResultView:
    return PayResultView(
        session_id=session.id or 0,
        status=session.status,
        payment_id=payment.id if payment else None,
        payment_status=payment.status if payment else None,
        method=payment.method if payment else None,
        amount_cents=payment.amount_cents if payment else 0,
        currency=tx.settings.currency,
        message=message,
    )


def _succeeded(tx: Tx, session_id: int) -> Payment | None:
    return tx.session.exec(
        select(Payment).where(Payment.session_id == session_id, Payment.status == "succeeded")
    ).first()


def start_payment(
    tx: Tx, session_id: int, method: str, reference: str | None, expect_total: int | None
) -> PayResultView:
    """Open → awaiting_payment with one pending payment of exactly what the resume asks."""
    _check_method(method)
    session, _student = _lock_session(tx, session_id)
    if session.status in ("paid", "applied"):
        done = _succeeded(tx, session_id)
        return _pay_view(
            tx,
            session,
            done,
            f"session {session_id} is already {session.status}: nothing was taken again",
        )
    if session.status == "awaiting_payment":
        pending = tx.session.exec(
            select(Payment).where(Payment.session_id == session_id, Payment.status == "pending")
        ).first()
        if pending is not None:
            _expect(tx, pending.amount_cents, expect_total)
            return _pay_view(tx, session, pending, "a payment is already pending for this session")
    require_status(session, "open", doing="be paid")
    plan = compute_plan(tx, session, abandon_stale(tx, session, pending_operations(tx, session_id)))
    _expect(tx, plan.to_pay_cents, expect_total)
    if plan.to_pay_cents == 0:
        raise RuleError(
            f"session {session_id} has nothing to pay: run `tutorctl session confirm {session_id}`"
        )
    payment = Payment(
        session_id=session_id,
        method=method,
        amount_cents=plan.to_pay_cents,
        reference=reference,
        status="pending",
        created_at=tx.now,
    )
    tx.session.add(payment)
    session.status = "awaiting_payment"
    session.reserved_cents = max(0, plan.balance_before_cents - plan.balance_after_cents)
    planned: dict[int, int] = defaultdict(int)
    for charge in plan.charges:
        for part in charge.parts:
            if part.source == "purchase" and part.purchase_id is not None:
                planned[part.purchase_id] += part.minutes
    tx.session.add_all(
        PackageHold(session_id=session_id, purchase_id=purchase, minutes=minutes)
        for purchase, minutes in sorted(planned.items())
    )
    session.payment_started_at = session.touched_at = tx.now
    tx.session.add(session)
    tx.session.flush()
    tx.audit(
        f"payment start session {session_id}",
        users=[session.student_id],
        session_id=session_id,
        payment=payment.id,
        amount_cents=payment.amount_cents,
        method=method,
    )
    return _pay_view(tx, session, payment, "payment started")


def _expect(tx: Tx, to_pay: int, expected: int | None) -> None:
    if expected is not None and expected != to_pay:
        currency = tx.settings.currency
        raise RuleError(
            f"the resume changed: it asks {format_amount(to_pay, currency)}, you expected "
            f"{format_amount(expected, currency)}; show the resume again"
        )


def release_holds(tx: Tx, operations: list[Operation], why: str) -> None:
    """Payment failed: every new place's hold is released; reserves are abandoned (``why``),
    cancels and moves wait for confirm (a move re-checks its place then)."""
    for operation in operations:
        if operation.new_id is not None:
            held = tx.session.get(Reservation, operation.new_id)
            if held is not None and held.status == "held":
                held.status = "released"
                tx.session.add(held)
        if operation.kind == "reserve":
            operation.status = "abandoned"
            operation.note = why
            operation.applied_at = tx.now
            tx.session.add(operation)


def finish_payment(tx: Tx, session_id: int, payment_id: int, succeeded: bool) -> PayResultView:
    """Record the provider's answer. Success applies the session at once (status ``paid``)."""
    session, student = _lock_session(tx, session_id)
    payment = tx.session.get(Payment, payment_id)
    if payment is None or payment.session_id != session_id:
        raise NotFoundError(f"session {session_id} has no payment {payment_id}")
    if payment.status != "pending" or session.status != "awaiting_payment":
        return _pay_view(
            tx, session, payment, f"payment {payment_id} was already settled ({payment.status})"
        )
    operations = pending_operations(tx, session_id)
    payment.settled_at = session.touched_at = tx.now
    account = account_of(tx, student)
    if not succeeded:
        payment.status = "failed"
        session.status = "payment_failed"
        release_holds(tx, operations, f"payment {payment_id} failed")
        tx.session.add_all([payment, session])
        tx.audit(
            f"payment failed session {session_id}",
            users=[student.id or 0],
            session_id=session_id,
            payment=payment_id,
        )
        return _pay_view(
            tx,
            session,
            payment,
            "payment refused: the new lessons were released; "
            f"cancels and moves wait for `tutorctl session confirm {session_id}`",
        )
    payment.status = "succeeded"
    tx.session.add(payment)
    operations = abandon_stale(tx, session, operations)
    plan = compute_plan(tx, session, operations)
    if plan.to_pay_cents > payment.amount_cents:
        post(
            tx,
            account,
            payment.amount_cents,
            "payment",
            f"payment {payment_id} (the resume changed)",
            session_id=session_id,
            payment_id=payment_id,
        )
        session.status = "payment_failed"
        release_holds(
            tx,
            operations,
            f"payment {payment_id} no longer covered the resume: it went to the balance",
        )
        tx.session.add(session)
        tx.audit(
            f"payment short session {session_id}",
            users=[student.id or 0],
            session_id=session_id,
            payment=payment_id,
        )
        return _pay_view(
            tx,
            session,
            payment,
            "the resume changed while paying: the payment went to the balance; "
            "the new lessons were released",
        )
    apply_plan(tx, session, student, plan, operations, payment_id)
    surplus = payment.amount_cents - plan.to_pay_cents
    if surplus:
        post(
            tx,
            account,
            surplus,
            "payment",
            f"payment {payment_id} surplus",
            session_id=session_id,
            payment_id=payment_id,
        )
    session.status = "paid"
    tx.session.add(session)
    tx.audit(
        f"payment succeeded session {session_id}",
        users=_users_of(tx, operations, student),
        session_id=session_id,
        payment=payment_id,
        amount_cents=payment.amount_cents,
    )
    return _pay_view(tx, session, payment, "payment accepted: the session is applied")


def _users_of(tx: Tx, operations: list[Operation], student: User) -> list[int]:
    ids = {i for op in operations for i in (op.new_id, op.target_id) if i is not None}
    users = {student.id or 0}
    for r in (
        tx.session.exec(select(Reservation).where(col(Reservation.id).in_(sorted(ids))))
        if ids
        else []
    ):
        users.update((r.teacher_id, r.student_id))
    return sorted(users)


def confirm(
    tx: Tx, session_id: int, *, cancels: bool = False, moves: bool = False
) -> PayResultView:
    session, student = _lock_session(tx, session_id)
    operations = pending_operations(tx, session_id)
    if session.status == "paid":
        session.status = "applied"
        session.closed_at = session.touched_at = tx.now
        tx.session.add(session)
        tx.audit(f"confirm session {session_id}", users=[student.id or 0], session_id=session_id)
        return _pay_view(tx, session, _succeeded(tx, session_id), "confirmed")
    if session.status == "open":
        operations = abandon_stale(tx, session, operations)
        plan = compute_plan(tx, session, operations)
        if plan.to_pay_cents:
            raise RuleError(
                f"session {session_id} has {format_amount(plan.to_pay_cents, tx.settings.currency)} to pay: "
                f"run `tutorctl session pay {session_id} --method …` first"
            )
        apply_plan(tx, session, student, plan, operations)
        message = "applied (nothing to pay)"
    elif session.status == "payment_failed":
        chosen = abandon_stale(
            tx,
            session,
            [
                op
                for op in operations
                if (op.kind == "cancel" and cancels) or (op.kind == "move" and moves)
            ],
        )
        for op in chosen:
            if op.kind == "move":
                _rehold(tx, op)
        plan = compute_plan(tx, session, chosen)
        if plan.to_pay_cents:
            needy = [c.operation_id for c in plan.charges if c.external_cents]
            raise RuleError(
                f"the move(s) of operation {', '.join(map(str, needy))} need "
                f"{format_amount(plan.to_pay_cents, tx.settings.currency)} more: confirm with --no-moves"
            )
        apply_plan(tx, session, student, plan, chosen)
        for op in operations:
            if op not in chosen and op.status == "pending":
                op.status = "abandoned"
                op.note = f"not chosen at confirm (--{op.kind}s was not given)"
                op.applied_at = tx.now
                tx.session.add(op)
        message = (
            f"applied {len(chosen)} of {len(operations)} waiting operation(s); the rest abandoned"
        )
    else:
        raise RuleError(
            f"session {session_id} is {session.status}: only an open, paid or payment_failed session can be confirmed"
        )
    session.status = "applied"
    session.closed_at = session.touched_at = tx.now
    tx.session.add(session)
    tx.audit(
        f"confirm session {session_id}",
        users=_users_of(tx, operations, student),
        session_id=session_id,
        operations=[op.id for op in operations],
        cancels=cancels,
        moves=moves,
    )
    return _pay_view(tx, session, None, message)


def _rehold(tx: Tx, operation: Operation) -> None:
    """A move confirmed after a failed payment: its place was released; take it again if free."""
    new = tx.session.get(Reservation, operation.new_id)
    old = tx.session.get(Reservation, operation.target_id)
    assert new is not None and old is not None
    teacher = tx.session.get(User, new.teacher_id)
    student = tx.session.get(User, new.student_id)
    assert teacher is not None and student is not None
    tx.lock(weeks=[(new.teacher_id, new.week), (new.student_id, new.week)])
    problem = check_place(
        tx,
        teacher,
        student,
        new.week,
        new.day,
        new.start_slot,
        new.end_slot,
        exclude=[old.id or 0, new.id or 0],
    )
    if problem:
        raise RuleError(f"the move of lesson {old.id} cannot be confirmed: {problem}")
    new.status = "held"
    tx.session.add(new)

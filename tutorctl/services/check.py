"""``tutorctl check``: every invariant of SPEC §7 over the whole database, set-based."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, union_all

from tutorctl.core.views import CheckView
from tutorctl.db.schema import (
    Account,
    BookingSession,
    Funding,
    History,
    LedgerEntry,
    Operation,
    PackageHold,
    PackagePayment,
    Payment,
    Purchase,
    Reservation,
)
from tutorctl.db.uow import Tx

LIMIT = 50
LIVE = ("held", "booked")

R = Reservation.__table__  # type: ignore[attr-defined]
F = Funding.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
P = Purchase.__table__  # type: ignore[attr-defined]
O = Operation.__table__  # type: ignore[attr-defined]  # noqa: E741
S = BookingSession.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
H = History.__table__  # type: ignore[attr-defined]
PP = PackagePayment.__table__  # type: ignore[attr-defined]
PH = PackageHold.__table__  # type: ignore[attr-defined]


def _rows(tx: Tx, query: object) -> list[tuple[object, ...]]:
    return [tuple(row) for row in tx.session.execute(query.limit(LIMIT))]  # type: ignore[attr-defined]


def _money_kept() -> object:
    """Lessons whose funding is still held: booked, done, or cancelled late."""
    return or_(
        R.c.status.in_(("booked", "done")),
        and_(R.c.status == "cancelled", R.c.late_cancel.is_(True)),
    )


def _same_lesson_moving(first: Any, second: Any) -> Any:
    """A booked lesson and the hold of its own pending move are one lesson, not a clash."""
    return (
        select(O.c.id)
        .where(
            O.c.kind == "move",
            O.c.status == "pending",
            or_(
                and_(O.c.target_id == first, O.c.new_id == second),
                and_(O.c.target_id == second, O.c.new_id == first),
            ),
        )
        .exists()
    )


def check(tx: Tx) -> CheckView:
    violations: list[str] = []
    slot = tx.settings.slot_minutes

    # 1. no two live lessons overlap for any person, as teacher or as student
    occupancy = union_all(
        select(
            R.c.id, R.c.teacher_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(R.c.status.in_(LIVE)),
        select(
            R.c.id, R.c.student_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(R.c.status.in_(LIVE)),
    ).subquery()
    a, b = occupancy.alias("a"), occupancy.alias("b")
    for first, second, person in _rows(
        tx,
        select(a.c.id, b.c.id, a.c.person).where(
            a.c.person == b.c.person,
            a.c.week == b.c.week,
            a.c.day == b.c.day,
            a.c.id < b.c.id,
            a.c.start_slot < b.c.end_slot,
            b.c.start_slot < a.c.end_slot,
            ~_same_lesson_moving(a.c.id, b.c.id),
        ),
    ):
        violations.append(f"overlap: lessons {first} and {second} of user {person}")

    # 2. balance = Σ ledger, ≥ 0
    sums = (
        select(L.c.account_id, func.sum(L.c.amount_cents).label("total"))
        .group_by(L.c.account_id)
        .subquery()
    )
    for account, balance, total in _rows(
        tx,
        select(A.c.id, A.c.balance_cents, func.coalesce(sums.c.total, 0))
        .select_from(A.outerjoin(sums, sums.c.account_id == A.c.id))
        .where(or_(A.c.balance_cents != func.coalesce(sums.c.total, 0), A.c.balance_cents < 0)),
    ):
        violations.append(
            f"balance: account {account} shows {balance} but its ledger sums to {total}"
        )

    # 3. 0 ≤ consumed ≤ bought, consumed = minutes of the kept lessons it funds
    used = (
        select(F.c.purchase_id, func.sum(F.c.minutes).label("minutes"))
        .select_from(F.join(R, R.c.id == F.c.reservation_id))
        .where(F.c.source == "purchase", _money_kept())  # type: ignore[arg-type]
        .group_by(F.c.purchase_id)
        .subquery()
    )
    for purchase, consumed, bought, minutes in _rows(
        tx,
        select(P.c.id, P.c.consumed_minutes, P.c.bought_minutes, func.coalesce(used.c.minutes, 0))
        .select_from(P.outerjoin(used, used.c.purchase_id == P.c.id))
        .where(
            or_(
                P.c.consumed_minutes != func.coalesce(used.c.minutes, 0),
                P.c.consumed_minutes < 0,
                P.c.consumed_minutes > P.c.bought_minutes,
            )
        ),
    ):
        violations.append(
            f"purchase {purchase}: consumed {consumed} of {bought} min, lessons use {minutes}"
        )

    # 4. booked/done lessons fully funded; cancelled ones refunded exactly (unless late)
    funded = (
        select(
            F.c.reservation_id,
            func.sum(F.c.minutes).label("minutes"),
            func.sum(case((F.c.source != "purchase", F.c.amount_cents), else_=0)).label("money"),
        )
        .group_by(F.c.reservation_id)
        .subquery()
    )
    length = (R.c.end_slot - R.c.start_slot) * literal(slot)
    for lesson, minutes, covered in _rows(
        tx,
        select(R.c.id, length, func.coalesce(funded.c.minutes, 0))
        .select_from(R.outerjoin(funded, funded.c.reservation_id == R.c.id))
        .where(
            R.c.status.in_(("booked", "done")),
            R.c.unfunded.is_(False),
            func.coalesce(funded.c.minutes, 0) != length,
        ),
    ):
        violations.append(
            f"funding: lesson {lesson} lasts {minutes} min but {covered} min are funded"
        )
    refunds = (
        select(L.c.reservation_id, func.sum(L.c.amount_cents).label("refunded"))
        .where(L.c.kind == "refund")
        .group_by(L.c.reservation_id)
        .subquery()
    )
    for lesson, money, refunded, late in _rows(
        tx,
        select(
            R.c.id,
            func.coalesce(funded.c.money, 0),
            func.coalesce(refunds.c.refunded, 0),
            R.c.late_cancel,
        )
        .select_from(
            R.outerjoin(funded, funded.c.reservation_id == R.c.id).outerjoin(
                refunds, refunds.c.reservation_id == R.c.id
            )
        )
        .where(
            R.c.status == "cancelled",
            func.coalesce(refunds.c.refunded, 0)
            != case((R.c.late_cancel.is_(True), 0), else_=func.coalesce(funded.c.money, 0)),
        ),
    ):
        violations.append(
            f"refund: cancelled lesson {lesson} was funded {money} and refunded {refunded} (late: {bool(late)})"
        )

    # 5. money is conserved
    paid = tx.session.execute(
        select(func.coalesce(func.sum(PAY.c.amount_cents), 0)).where(PAY.c.status == "succeeded")
    ).scalar_one()
    credits = tx.session.execute(
        select(func.coalesce(func.sum(L.c.amount_cents), 0)).where(L.c.kind == "credit")
    ).scalar_one()
    paid_out = -tx.session.execute(
        select(func.coalesce(func.sum(L.c.amount_cents), 0)).where(L.c.kind == "debit")
    ).scalar_one()
    balances = tx.session.execute(
        select(func.coalesce(func.sum(A.c.balance_cents), 0))
    ).scalar_one()
    held = tx.session.execute(
        select(func.coalesce(func.sum(F.c.amount_cents), 0))
        .select_from(F.join(R, R.c.id == F.c.reservation_id))
        .where(F.c.source != "purchase", _money_kept())  # type: ignore[arg-type]
    ).scalar_one()
    if int(paid) + int(credits) != int(balances) + int(held) + int(paid_out):
        violations.append(
            f"money: payments {paid} + credits {credits} ≠ balances {balances} + held in lessons "
            f"{held} + paid out {paid_out}"
        )

    # 6. statuses agree
    pending_new = (
        select(O.c.new_id, func.count().label("n"))
        .select_from(O.join(S, S.c.id == O.c.session_id))
        .where(
            O.c.status == "pending",
            S.c.status.in_(("open", "awaiting_payment")),
            O.c.new_id.is_not(None),
        )
        .group_by(O.c.new_id)
        .subquery()
    )
    for lesson, count in _rows(
        tx,
        select(R.c.id, func.coalesce(pending_new.c.n, 0))
        .select_from(R.outerjoin(pending_new, pending_new.c.new_id == R.c.id))
        .where(R.c.status == "held", func.coalesce(pending_new.c.n, 0) != 1),
    ):
        violations.append(
            f"status: held lesson {lesson} belongs to {count} pending operations of live sessions"
        )
    for session, status in _rows(
        tx,
        select(S.c.id, S.c.status)
        .select_from(S.join(O, O.c.session_id == S.c.id))
        .where(S.c.status.in_(("applied", "abandoned", "expired")), O.c.status == "pending")
        .distinct(),
    ):
        violations.append(f"status: session {session} is {status} but still has pending operations")

    # 1b. a lesson is billed for the time it really lasts (no lesson across a change of clocks)
    if tx.dialect == "postgresql":
        seconds: Any = func.extract("epoch", R.c.ends_at - R.c.starts_at)
    else:
        seconds = func.round((func.julianday(R.c.ends_at) - func.julianday(R.c.starts_at)) * 86400)
    for lesson, real, billed in _rows(
        tx,
        select(R.c.id, seconds / 60, length).where(
            R.c.status.in_(("held", "booked", "done")), seconds != length * 60
        ),
    ):
        violations.append(
            f"time: lesson {lesson} lasts {real:.0f} real minutes but is billed {billed}"
        )

    # 8. an operation never cancelled, moved or booked a lesson that had started
    touched = R.alias("touched")
    for operation, kind, lesson in _rows(
        tx,
        select(O.c.id, O.c.kind, touched.c.id)
        .select_from(
            O.join(touched, or_(touched.c.id == O.c.new_id, touched.c.id == O.c.target_id))
        )
        .where(
            O.c.status == "applied",
            O.c.applied_at.is_not(None),
            touched.c.starts_at <= O.c.applied_at,
        ),
    ):
        violations.append(
            f"started: operation {operation} ({kind}) was applied after lesson {lesson} had started"
        )

    # 9. no account's reserved balance exceeds its balance
    reserved = (
        select(S.c.student_id, func.sum(S.c.reserved_cents).label("reserved"))
        .where(S.c.status == "awaiting_payment")
        .group_by(S.c.student_id)
        .subquery()
    )
    for student, balance, held_back in _rows(
        tx,
        select(A.c.student_id, A.c.balance_cents, reserved.c.reserved)
        .select_from(A.join(reserved, reserved.c.student_id == A.c.student_id))
        .where(reserved.c.reserved > A.c.balance_cents),
    ):
        violations.append(
            f"reserved: student {student} has {held_back} reserved for payments but a balance of {balance}"
        )

    # 9b. a package's recorded payments are the price of its paid hours, pro rata to the cent
    received = (
        select(
            PP.c.purchase_id,
            func.sum(PP.c.amount_cents).label("cents"),
            func.sum(PP.c.minutes).label("minutes"),
        )
        .group_by(PP.c.purchase_id)
        .subquery()
    )
    due = (P.c.price_cents * P.c.paid_minutes * 2 + P.c.bought_minutes) // (2 * P.c.bought_minutes)
    cents, minutes = func.coalesce(received.c.cents, 0), func.coalesce(received.c.minutes, 0)
    for purchase, paid_minutes, price_due, got, got_minutes in _rows(
        tx,
        select(P.c.id, P.c.paid_minutes, due, cents, minutes)
        .select_from(P.outerjoin(received, received.c.purchase_id == P.c.id))
        .where(
            or_(
                cents != due,
                minutes != P.c.paid_minutes,
                P.c.paid_minutes < 0,
                P.c.paid_minutes > P.c.bought_minutes,
            )
        ),
    ):
        violations.append(
            f"package {purchase}: {paid_minutes} paid min cost {price_due} but payments of "
            f"{got} for {got_minutes} min are recorded"
        )

    # 9. … nor do the package minutes they hold exceed what is left of the package
    holds = (
        select(PH.c.purchase_id, func.sum(PH.c.minutes).label("minutes"))
        .select_from(PH.join(S, S.c.id == PH.c.session_id))
        .where(S.c.status == "awaiting_payment")
        .group_by(PH.c.purchase_id)
        .subquery()
    )
    for purchase, consumed, bought, held_minutes in _rows(
        tx,
        select(P.c.id, P.c.consumed_minutes, P.c.bought_minutes, holds.c.minutes)
        .select_from(P.join(holds, holds.c.purchase_id == P.c.id))
        .where(P.c.consumed_minutes + holds.c.minutes > P.c.bought_minutes),
    ):
        violations.append(
            f"reserved: package {purchase} has {consumed} of {bought} min used and "
            f"{held_minutes} min held for payments"
        )

    # 7. every mutation is in history (every session and every ledger entry's session is there)
    for (session,) in _rows(
        tx,
        select(S.c.id).where(~select(H.c.id).where(H.c.session_id == S.c.id).exists()),
    ):
        violations.append(f"history: session {session} has no history")

    checked = {
        "reservations": int(tx.session.execute(select(func.count()).select_from(R)).scalar_one()),
        "accounts": int(tx.session.execute(select(func.count()).select_from(A)).scalar_one()),
        "purchases": int(tx.session.execute(select(func.count()).select_from(P)).scalar_one()),
        "sessions": int(tx.session.execute(select(func.count()).select_from(S)).scalar_one()),
    }
    return CheckView(ok=not violations, violations=violations, checked=checked)

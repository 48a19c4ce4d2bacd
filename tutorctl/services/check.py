"""``tutorctl check``: every invariant of SPEC §7 (and §11: ``notify/check.py``) over the whole
database, set-based.

Each invariant is one function returning what it found wrong, at most ``LIMIT`` rows a query:
the database does the scanning and the grouping, so memory stays constant however large the
school grows. ``check`` runs them in the order their messages are printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, case, func, literal, literal_column, or_, select, union_all

from tutorctl.core.status import (
    CLOSED_SESSION,
    LIVE,
    FundingSource,
    LedgerKind,
    LessonStatus,
    OperationKind,
    OperationStatus,
    PaymentStatus,
    SessionStatus,
)
from tutorctl.core.views import CheckView
from tutorctl.db.dialects import seconds_between
from tutorctl.db.money import paid_price, pro_rata
from tutorctl.db.tables import accounts as A
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import fundings as F
from tutorctl.db.tables import history as H
from tutorctl.db.tables import ledger as L
from tutorctl.db.tables import operations as O
from tutorctl.db.tables import package_holds as PH
from tutorctl.db.tables import package_payments as PP
from tutorctl.db.tables import payments as PAY
from tutorctl.db.tables import purchases as P
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Tx
from tutorctl.services.notify.check import messages

LIMIT = 50
KEPT = (LessonStatus.BOOKED, LessonStatus.DONE)
LIVE_SESSION = (SessionStatus.OPEN, SessionStatus.AWAITING_PAYMENT)


def _found(tx: Tx, query: Any, message: str) -> list[str]:
    """The first ``LIMIT`` rows of ``query``, each put in ``message`` (its columns in order)."""
    return [message.format(*row) for row in tx.run(query.limit(LIMIT))]


def _sums(key: Any, *where: Any, source: Any = None, **columns: Any) -> Any:
    """``key`` and one sum a column, grouped by ``key`` (a subquery to join on)."""
    query = select(key, *(func.sum(c).label(name) for name, c in columns.items()))
    if source is not None:
        query = query.select_from(source)
    return query.where(*where).group_by(key).subquery()


def _scalar(tx: Tx, query: Any) -> int:
    return int(tx.run(query).scalar_one())


def _total(column: Any, *where: Any) -> Any:
    return select(func.coalesce(func.sum(column), 0)).where(*where)


def _money_kept() -> Any:
    """Lessons whose funding is still held: booked, done, or cancelled late."""
    return or_(
        R.c.status.in_(KEPT),
        and_(R.c.status == LessonStatus.CANCELLED, R.c.late_cancel.is_(True)),
    )


def _length(tx: Tx) -> Any:
    return (R.c.end_slot - R.c.start_slot) * literal(tx.settings.slot_minutes)


def _same_lesson_moving(first: Any, second: Any) -> Any:
    """A booked lesson and the hold of its own pending move are one lesson, not a clash."""
    return (
        select(O.c.id)
        .where(
            O.c.kind == OperationKind.MOVE,
            O.c.status == OperationStatus.PENDING,
            or_(
                and_(O.c.target_id == first, O.c.new_id == second),
                and_(O.c.target_id == second, O.c.new_id == first),
            ),
        )
        .exists()
    )


def overlaps(tx: Tx) -> list[str]:
    """1. no two live lessons overlap for any person, as teacher or as student"""
    occupancy = union_all(
        *(
            select(
                R.c.id, person.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
            ).where(R.c.status.in_(LIVE))
            for person in (R.c.teacher_id, R.c.student_id)
        )
    ).subquery()
    a, b = occupancy.alias("a"), occupancy.alias("b")
    clash = select(a.c.id, b.c.id, a.c.person).where(
        a.c.person == b.c.person,
        a.c.week == b.c.week,
        a.c.day == b.c.day,
        a.c.id < b.c.id,
        a.c.start_slot < b.c.end_slot,
        b.c.start_slot < a.c.end_slot,
        ~_same_lesson_moving(a.c.id, b.c.id),
    )
    return _found(tx, clash, "overlap: lessons {} and {} of user {}")


def balances(tx: Tx) -> list[str]:
    """2. balance = Σ ledger, ≥ 0"""
    sums = _sums(L.c.account_id, total=L.c.amount_cents)
    summed = func.coalesce(sums.c.total, 0)
    wrong = (
        select(A.c.id, A.c.balance_cents, summed)
        .select_from(A.outerjoin(sums, sums.c.account_id == A.c.id))
        .where(or_(A.c.balance_cents != summed, A.c.balance_cents < 0))
    )
    return _found(tx, wrong, "balance: account {} shows {} but its ledger sums to {}")


def consumption(tx: Tx) -> list[str]:
    """3. 0 ≤ consumed ≤ bought, consumed = minutes of the kept lessons it funds"""
    used = _sums(
        F.c.purchase_id,
        F.c.source == FundingSource.PURCHASE,
        _money_kept(),
        source=F.join(R, R.c.id == F.c.reservation_id),
        minutes=F.c.minutes,
    )
    minutes = func.coalesce(used.c.minutes, 0)
    wrong = (
        select(P.c.id, P.c.consumed_minutes, P.c.bought_minutes, minutes)
        .select_from(P.outerjoin(used, used.c.purchase_id == P.c.id))
        .where(
            or_(
                P.c.consumed_minutes != minutes,
                P.c.consumed_minutes < 0,
                P.c.consumed_minutes > P.c.bought_minutes,
            )
        )
    )
    return _found(tx, wrong, "purchase {}: consumed {} of {} min, lessons use {}")


def _fundings() -> Any:
    """Per lesson: the minutes funded, and the money (not package minutes) that funded them,
    the minutes it paid and in how many parts."""
    is_money = F.c.source != FundingSource.PURCHASE
    return _sums(
        F.c.reservation_id,
        minutes=F.c.minutes,
        money=case((is_money, F.c.amount_cents), else_=0),
        money_minutes=case((is_money, F.c.minutes), else_=0),
        money_parts=case((is_money, 1), else_=0),
    )


def funding(tx: Tx) -> list[str]:
    """4. booked/done lessons fully funded: every minute, and the money its price's share of
    the minutes it pays (``imports.funding.money_problem``: the same rule, the same slack of a
    minute's price and a cent per money part that a moved or split lesson may carry)"""
    funded = _fundings()
    length, covered = _length(tx), func.coalesce(funded.c.minutes, 0)
    wrong = (
        select(R.c.id, length, covered)
        .select_from(R.outerjoin(funded, funded.c.reservation_id == R.c.id))
        .where(R.c.status.in_(KEPT), R.c.unfunded.is_(False), covered != length)
    )
    due = pro_rata(R.c.price_cents, funded.c.money_minutes, length)
    slack = funded.c.money_parts * ((R.c.price_cents + length - 1) // length + 1)
    underpaid = (
        select(R.c.id, funded.c.money, funded.c.money_minutes, due, R.c.price_cents)
        .select_from(R.join(funded, funded.c.reservation_id == R.c.id))
        .where(
            R.c.status.in_(KEPT),
            funded.c.minutes == length,  # minutes not covered: reported above, once
            funded.c.money_parts > 0,
            func.abs(funded.c.money - due) > slack,
        )
    )
    return _found(tx, wrong, "funding: lesson {} lasts {} min but {} min are funded") + _found(
        tx, underpaid, "funding: lesson {} is paid {} for {} min, its price's share is {} (of {})"
    )


def refunds(tx: Tx) -> list[str]:
    """4. … cancelled ones refunded exactly (unless late)"""
    funded = _fundings()
    back = _sums(L.c.reservation_id, L.c.kind == LedgerKind.REFUND, refunded=L.c.amount_cents)
    money, refunded = func.coalesce(funded.c.money, 0), func.coalesce(back.c.refunded, 0)
    wrong = (
        select(R.c.id, money, refunded, R.c.late_cancel)
        .select_from(
            R.outerjoin(funded, funded.c.reservation_id == R.c.id).outerjoin(
                back, back.c.reservation_id == R.c.id
            )
        )
        .where(
            R.c.status == LessonStatus.CANCELLED,
            refunded != case((R.c.late_cancel.is_(True), 0), else_=money),
        )
    )
    return _found(tx, wrong, "refund: cancelled lesson {} was funded {} and refunded {} (late: {})")


def money(tx: Tx) -> list[str]:
    """5. money is conserved"""
    paid = _scalar(tx, _total(PAY.c.amount_cents, PAY.c.status == PaymentStatus.SUCCEEDED))
    credits = _scalar(tx, _total(L.c.amount_cents, L.c.kind == LedgerKind.CREDIT))
    paid_out = -_scalar(tx, _total(L.c.amount_cents, L.c.kind == LedgerKind.DEBIT))
    balances = _scalar(tx, _total(A.c.balance_cents))
    held = _scalar(
        tx,
        _total(F.c.amount_cents, F.c.source != FundingSource.PURCHASE, _money_kept()).select_from(
            F.join(R, R.c.id == F.c.reservation_id)
        ),
    )
    if paid + credits == balances + held + paid_out:
        return []
    return [
        f"money: payments {paid} + credits {credits} ≠ balances {balances} + held in lessons "
        f"{held} + paid out {paid_out}"
    ]


def statuses(tx: Tx) -> list[str]:
    """6. statuses agree"""
    pending_new = _sums(
        O.c.new_id,
        O.c.status == OperationStatus.PENDING,
        S.c.status.in_(LIVE_SESSION),
        O.c.new_id.is_not(None),
        source=O.join(S, S.c.id == O.c.session_id),
        n=literal_column("1"),
    )
    count = func.coalesce(pending_new.c.n, 0)
    held = (
        select(R.c.id, count)
        .select_from(R.outerjoin(pending_new, pending_new.c.new_id == R.c.id))
        .where(R.c.status == LessonStatus.HELD, count != 1)
    )
    closed = (
        select(S.c.id, S.c.status)
        .select_from(S.join(O, O.c.session_id == S.c.id))
        .where(S.c.status.in_(CLOSED_SESSION), O.c.status == OperationStatus.PENDING)
        .distinct()
    )
    return _found(
        tx, held, "status: held lesson {} belongs to {} pending operations of live sessions"
    ) + _found(tx, closed, "status: session {} is {} but still has pending operations")


def real_time(tx: Tx) -> list[str]:
    """1b. a lesson is billed for the time it really lasts (no lesson across a change of clocks)"""
    seconds = seconds_between(tx.dialect, R.c.starts_at, R.c.ends_at)
    length = _length(tx)
    wrong = select(R.c.id, seconds / 60, length).where(
        R.c.status.in_((*LIVE, LessonStatus.DONE)), seconds != length * 60
    )
    return _found(tx, wrong, "time: lesson {} lasts {:.0f} real minutes but is billed {}")


def started(tx: Tx) -> list[str]:
    """8. an operation never cancelled, moved or booked a lesson that had started"""
    touched = R.alias("touched")
    wrong = (
        select(O.c.id, O.c.kind, touched.c.id)
        .select_from(
            O.join(touched, or_(touched.c.id == O.c.new_id, touched.c.id == O.c.target_id))
        )
        .where(
            O.c.status == OperationStatus.APPLIED,
            O.c.applied_at.is_not(None),
            touched.c.starts_at <= O.c.applied_at,
        )
    )
    return _found(tx, wrong, "started: operation {} ({}) was applied after lesson {} had started")


def reserved_money(tx: Tx) -> list[str]:
    """9. no account's reserved balance exceeds its balance"""
    awaiting = S.c.status == SessionStatus.AWAITING_PAYMENT
    reserved = _sums(S.c.student_id, awaiting, reserved=S.c.reserved_cents)
    wrong = (
        select(A.c.student_id, A.c.balance_cents, reserved.c.reserved)
        .select_from(A.join(reserved, reserved.c.student_id == A.c.student_id))
        .where(reserved.c.reserved > A.c.balance_cents)
    )
    return _found(
        tx, wrong, "reserved: student {0} has {2} reserved for payments but a balance of {1}"
    )


def package_payments(tx: Tx) -> list[str]:
    """9b. a package's recorded payments are the price of its paid hours, pro rata to the cent"""
    received = _sums(PP.c.purchase_id, cents=PP.c.amount_cents, minutes=PP.c.minutes)
    due = paid_price()
    cents, minutes = func.coalesce(received.c.cents, 0), func.coalesce(received.c.minutes, 0)
    wrong = (
        select(P.c.id, P.c.paid_minutes, due, cents, minutes)
        .select_from(P.outerjoin(received, received.c.purchase_id == P.c.id))
        .where(
            or_(
                cents != due,
                minutes != P.c.paid_minutes,
                P.c.paid_minutes < 0,
                P.c.paid_minutes > P.c.bought_minutes,
            )
        )
    )
    return _found(
        tx, wrong, "package {}: {} paid min cost {} but payments of {} for {} min are recorded"
    )


def reserved_minutes(tx: Tx) -> list[str]:
    """9. … nor do the package minutes they hold exceed what is left of the package"""
    holds = _sums(
        PH.c.purchase_id,
        S.c.status == SessionStatus.AWAITING_PAYMENT,
        source=PH.join(S, S.c.id == PH.c.session_id),
        minutes=PH.c.minutes,
    )
    wrong = (
        select(P.c.id, P.c.consumed_minutes, P.c.bought_minutes, holds.c.minutes)
        .select_from(P.join(holds, holds.c.purchase_id == P.c.id))
        .where(P.c.consumed_minutes + holds.c.minutes > P.c.bought_minutes)
    )
    return _found(
        tx, wrong, "reserved: package {} has {} of {} min used and {} min held for payments"
    )


def history(tx: Tx) -> list[str]:
    """7. every mutation is in history (every session and every ledger entry's session is there)"""
    silent = select(S.c.id).where(~select(H.c.id).where(H.c.session_id == S.c.id).exists())
    return _found(tx, silent, "history: session {} has no history")


# in the order their violations are listed
INVARIANTS: tuple[Callable[[Tx], list[str]], ...] = (
    overlaps,
    balances,
    consumption,
    funding,
    refunds,
    money,
    statuses,
    real_time,
    started,
    reserved_money,
    package_payments,
    reserved_minutes,
    history,
    messages,
)
COUNTED = {"reservations": R, "accounts": A, "purchases": P, "sessions": S}


def check(tx: Tx) -> CheckView:
    violations = [found for invariant in INVARIANTS for found in invariant(tx)]
    checked = {
        name: _scalar(tx, select(func.count()).select_from(table))
        for name, table in COUNTED.items()
    }
    return CheckView(ok=not violations, violations=violations, checked=checked)

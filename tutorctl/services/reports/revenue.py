"""``report revenue [--by teacher|category|month]``: money taken, refunded and paid out.

Money is counted by the instant it moved: payments by ``settled_at``, package payments and
ledger entries by ``at``, each read through an index on that instant. One ``UNION ALL`` of the
kinds of money, grouped by the key; Python names the groups and adds up the total.

Attribution (``--by teacher|category``):

- a session payment is split over the lessons it funded (fundings whose source is that
  payment): each lesson's part goes to its teacher and category. What a payment did not fund
  (a surplus, or a payment the resume overtook, which went to the balance; the part refunded
  when a move shortened a lesson) goes to the row ``(account)``;
- a package payment goes to the package's teacher and category;
- a refund (a cancel's, or a shortened move's) goes to its lesson's teacher and category;
- credits (top-ups) and debits (money paid out) belong to no lesson: row ``(account)``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, and_, case, cast, literal, null, select, union_all

from tutorctl.core.errors import InputError
from tutorctl.core.status import FundingSource, LedgerKind, PaymentStatus
from tutorctl.core.views import RevenueReport, RevenueRow
from tutorctl.db.dialects import join_each
from tutorctl.db.tables import categories as C
from tutorctl.db.tables import fundings as F
from tutorctl.db.tables import ledger as L
from tutorctl.db.tables import package_payments as PP
from tutorctl.db.tables import payments as PAY
from tutorctl.db.tables import purchases as P
from tutorctl.db.tables import reservations as R
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.reports.grouping import name_of, total
from tutorctl.services.reports.period import Period, midnight

ACCOUNT_ROW = "(account)"  # revenue that belongs to no lesson: credits, debits, surpluses
REVENUE_BY = ("teacher", "category", "month")
_MONEY = ("payments", "package_payments", "credits", "refunded", "paid_out")


def _money_select(key: Any, at: Any, **amounts: Any) -> Any:
    """One branch of the revenue union: (key, at, one column per kind of money)."""
    return select(
        key.label("key"),
        at.label("at"),
        *((amounts.get(name, literal(0))).label(name) for name in _MONEY),
    )


def _funded_parts(dialect: str) -> tuple[Any, Any]:
    """The period's payments joined to the lesson parts each funded: (from clause, parts).
    The period's payments come first, each one's fundings read through the index on
    ``payment_id`` (``dialects.join_each``)."""
    own = and_(F.c.payment_id == PAY.c.id, F.c.source == FundingSource.PAYMENT)
    return join_each(dialect, PAY, F, own)


def _branches(span: Period, by: str | None, dialect: str) -> list[Any]:
    """The kinds of money of the period, each keyed by what ``by`` groups on."""
    attribute = by in ("teacher", "category")
    none = cast(null(), Integer)
    lesson_key = R.c.teacher_id if by == "teacher" else R.c.category_id
    package_key = P.c.teacher_id if by == "teacher" else P.c.category_id
    payments_in = and_(PAY.c.status == PaymentStatus.SUCCEEDED, span.during(PAY.c.settled_at))
    branches = [
        _money_select(none, PAY.c.settled_at, payments=PAY.c.amount_cents).where(payments_in),
        _money_select(
            package_key if attribute else none, PP.c.at, package_payments=PP.c.amount_cents
        )
        .select_from(PP.join(P, P.c.id == PP.c.purchase_id))
        .where(span.during(PP.c.at)),
        _money_select(none, L.c.at, credits=L.c.amount_cents).where(
            L.c.kind == LedgerKind.CREDIT, span.during(L.c.at)
        ),
        _money_select(lesson_key if attribute else none, L.c.at, refunded=L.c.amount_cents)
        .select_from(L.outerjoin(R, R.c.id == L.c.reservation_id))
        .where(L.c.kind.in_((LedgerKind.REFUND, LedgerKind.MOVE_REFUND)), span.during(L.c.at)),
        _money_select(none, L.c.at, paid_out=-L.c.amount_cents).where(
            L.c.kind == LedgerKind.DEBIT, span.during(L.c.at)
        ),
    ]
    if attribute:  # a payment's part that funded lessons moves from (account) to them
        funded, parts = _funded_parts(dialect)
        moved = (
            select(
                lesson_key.label("key"),
                PAY.c.settled_at.label("at"),
                parts.c.amount_cents.label("amount"),
            )
            .select_from(funded.join(R, R.c.id == parts.c.reservation_id))
            .where(payments_in)
            .cte("funded")  # read twice, computed once
        )
        branches += [
            _money_select(moved.c.key, moved.c.at, payments=moved.c.amount),
            _money_select(none, moved.c.at, payments=-moved.c.amount),
        ]
    return branches


def revenue(tx: Tx, span: Period, by: str | None = None) -> RevenueReport:
    if by is not None and by not in REVENUE_BY:
        raise InputError(f"bad --by {by!r}: use {', '.join(REVENUE_BY)}")
    attribute = by in ("teacher", "category")
    money = union_all(*_branches(span, by, tx.dialect)).subquery("money")
    key: Any = money.c.key
    if by == "month":  # each instant's month in the school zone, as bounds computed here
        months = span.months()
        key = literal(months[-1][0])
        if len(months) > 1:
            bounds = [(money.c.at < midnight(tx, following), label) for label, following in months]
            key = case(*bounds[:-1], else_=months[-1][0])
    keyed = select(key.label("key"), *(money.c[name] for name in _MONEY)).subquery("keyed")
    grouped = (
        select(keyed.c.key, *(total(keyed.c[name]).label(name) for name in _MONEY))
        .group_by(keyed.c.key)
        .subquery("grouped")
    )
    if attribute:
        names = U if by == "teacher" else C
        label = names.c.handle if by == "teacher" else names.c.name
        query = select(name_of(label, names.c.id, grouped.c.key), grouped)
    else:
        query = select(grouped.c.key.label("name"), grouped)
    rows = []
    for row in tx.run(query):
        name = row.name if by is not None else "total"
        if name is None:
            name = ACCOUNT_ROW
        rows.append(_revenue_row(name, row.key if attribute else None, row))
    rows.sort(key=lambda r: (r.name == ACCOUNT_ROW, r.name))
    whole = _revenue_row("total", None, *rows) if rows else _revenue_row("total", None)
    return RevenueReport(
        period=span.view(tx),
        by=by,
        currency=tx.settings.currency,
        rows=rows if by is not None else [],
        total=whole,
    )


def _revenue_row(name: str, key: int | None, *rows: Any) -> RevenueRow:
    def added(field: str) -> int:
        return sum(int(getattr(r, field)) for r in rows)

    if rows and isinstance(rows[0], RevenueRow):
        amounts = {m: added(f"{m}_cents") for m in _MONEY}
    else:
        amounts = {m: added(m) for m in _MONEY}
    taken = amounts["payments"] + amounts["package_payments"] + amounts["credits"]
    return RevenueRow(
        name=name,
        id=key,
        payments_cents=amounts["payments"],
        package_payments_cents=amounts["package_payments"],
        credits_cents=amounts["credits"],
        taken_cents=taken,
        refunded_cents=amounts["refunded"],
        paid_out_cents=amounts["paid_out"],
        net_cents=taken - amounts["paid_out"],
    )

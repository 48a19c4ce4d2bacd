"""``report balances``: every student with money on the account, reserved money or owed
package hours — who owes the school, and whom the school owes — as of now."""

from __future__ import annotations

from sqlalchemy import literal, select, union_all

from tutorctl.core.status import SessionStatus
from tutorctl.core.views import BalanceRow, BalancesReport
from tutorctl.db.money import paid_price
from tutorctl.db.tables import accounts as A
from tutorctl.db.tables import booking_sessions as S
from tutorctl.db.tables import purchases as P
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.reports.grouping import name_of, total

_SUMS = ("balance_cents", "reserved_cents", "owed_minutes", "owed_cents")


def balances(tx: Tx) -> BalancesReport:
    """Three index scans (accounts with a balance, sessions awaiting a payment, packages
    owing), grouped per student."""
    zero = literal(0)
    parts = union_all(
        select(A.c.student_id, A.c.balance_cents.label("balance"), zero.label("reserved"),
               zero.label("owed_minutes"), zero.label("owed_cents"))
        .where(A.c.balance_cents > 0),
        select(S.c.student_id, zero, S.c.reserved_cents, zero, zero)
        .where(S.c.status == SessionStatus.AWAITING_PAYMENT, S.c.reserved_cents > 0),
        select(P.c.student_id, zero, zero, P.c.bought_minutes - P.c.paid_minutes,
               P.c.price_cents - paid_price())
        .where(P.c.paid_minutes < P.c.bought_minutes),
    ).subquery("parts")  # fmt: skip
    grouped = (
        select(
            parts.c.student_id,
            total(parts.c.balance).label("balance"),
            total(parts.c.reserved).label("reserved"),
            total(parts.c.owed_minutes).label("owed_minutes"),
            total(parts.c.owed_cents).label("owed_cents"),
        )
        .group_by(parts.c.student_id)
        .subquery("grouped")
    )
    query = select(
        name_of(U.c.handle, U.c.id, grouped.c.student_id, "handle"),
        name_of(U.c.name, U.c.id, grouped.c.student_id),
        grouped,
    ).order_by("handle")
    rows = [
        _balance_row(
            r.handle, r.student_id, r.name, r.balance, r.reserved, r.owed_minutes, r.owed_cents
        )
        for r in tx.run(query)
    ]
    sums = [sum(getattr(r, name) for r in rows) for name in _SUMS]
    return BalancesReport(
        as_of=tx.now.astimezone(tx.settings.zone).isoformat(),
        currency=tx.settings.currency,
        rows=rows,
        total=_balance_row("total", None, "", *sums),
    )


def _balance_row(
    handle: str, student_id: int | None, name: str, balance: int, reserved: int, owed_minutes: int,
    owed_cents: int,
) -> BalanceRow:  # fmt: skip
    return BalanceRow(
        student=handle,
        student_id=None if student_id is None else int(student_id),
        name=name,
        balance_cents=int(balance),
        reserved_cents=int(reserved),
        available_cents=int(balance) - int(reserved),
        owed_minutes=int(owed_minutes),
        owed_cents=int(owed_cents),
    )

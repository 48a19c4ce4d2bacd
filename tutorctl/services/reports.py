"""``tutorctl report …`` (SPEC §10): revenue, hours, balances and occupancy.

Every report is a few set-based statements: the database filters through an index (lessons
by ``starts_at``, calendar weeks by ``week``, payments by ``settled_at``, ledger entries by
``(kind, at)``, package payments by ``at``, accounts by ``balance_cents``, packages owing by a
partial index) and groups (``GROUP BY``); Python only names the groups and adds up the few
grouped rows into the total. Results are identical on SQLite and PostgreSQL: time zones are
applied in Python (a period's bounds and a month's boundaries become UTC instants), never by
the database.

Periods are whole days in the school zone: ``--month YYYY-MM``, or ``--from W [--to W]``
(weeks; ``--to`` defaults to the current week); no option means the current month. Money is
counted by the instant it moved, lessons by the date they take place.

Attribution of revenue (``--by teacher|category``):

- a session payment is split over the lessons it funded (fundings whose source is that
  payment): each lesson's part goes to its teacher and category. What a payment did not fund
  (a surplus, or a payment the resume overtook, which went to the balance; the part refunded
  when a move shortened a lesson) goes to the row ``(account)``;
- a package payment goes to the package's teacher and category;
- a refund (a cancel's, or a shortened move's) goes to its lesson's teacher and category;
- credits (top-ups) and debits (money paid out) belong to no lesson: row ``(account)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, null, select, union_all

from tutorctl.core.errors import InputError
from tutorctl.core.limits import check_year
from tutorctl.core.timegrid import format_week, monday_of, parse_week, to_utc
from tutorctl.core.views import (
    BalanceRow,
    BalancesReport,
    HoursReport,
    HoursRow,
    OccupancyReport,
    OccupancyRow,
    ReportPeriod,
    RevenueReport,
    RevenueRow,
)
from tutorctl.db.schema import (
    Account,
    BookingSession,
    CalendarWeek,
    Category,
    Funding,
    LedgerEntry,
    Operation,
    PackagePayment,
    Payment,
    Purchase,
    Reservation,
    User,
)
from tutorctl.db.uow import Tx

R = Reservation.__table__  # type: ignore[attr-defined]
F = Funding.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
P = Purchase.__table__  # type: ignore[attr-defined]
O = Operation.__table__  # type: ignore[attr-defined]  # noqa: E741
S = BookingSession.__table__  # type: ignore[attr-defined]
PAY = Payment.__table__  # type: ignore[attr-defined]
PP = PackagePayment.__table__  # type: ignore[attr-defined]
U = User.__table__  # type: ignore[attr-defined]
C = Category.__table__  # type: ignore[attr-defined]
W = CalendarWeek.__table__  # type: ignore[attr-defined]

ACCOUNT_ROW = "(account)"  # revenue that belongs to no lesson: credits, debits, surpluses
REVENUE_BY = ("teacher", "category", "month")
HOURS_BY = ("teacher", "student", "category")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})", re.ASCII)


# -- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    first: date  # the first day
    end: date  # the day after the last
    label: str
    starts_at: datetime  # UTC instant of the first day's midnight in the school zone
    ends_at: datetime

    def view(self, tx: Tx) -> ReportPeriod:
        zone = tx.settings.zone
        return ReportPeriod(
            label=self.label,
            first_date=self.first.isoformat(),
            last_date=(self.end - timedelta(days=1)).isoformat(),
            starts_at=self.starts_at.astimezone(zone).isoformat(),
            ends_at=self.ends_at.astimezone(zone).isoformat(),
        )

    def months(self) -> list[tuple[str, date]]:
        """The months the period touches: (``YYYY-MM``, first day of the next month)."""
        found, day = [], self.first
        while day < self.end:
            following = _next_month(day)
            found.append((f"{day.year:04d}-{day.month:02d}", following))
            day = following
        return found


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def parse_month(text: str) -> date:
    """``2026-11`` → its first day; anything else is bad input (exit 2)."""
    match = _MONTH.fullmatch(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InputError(f"bad --month {text!r}: use YYYY-MM, e.g. 2026-11")
    first = date(int(match.group(1)), int(match.group(2)), 1)
    check_year(first, text, "--month")
    return first


def period(tx: Tx, first_week: str | None, last_week: str | None, month: str | None) -> Period:
    """The period of ``--from W --to W`` or ``--month YYYY-MM`` (default: this month)."""
    if month is not None and (first_week is not None or last_week is not None):
        raise InputError("give either --month or --from/--to, not both")
    if last_week is not None and first_week is None:
        raise InputError("--to needs --from (the first week of the period)")
    if first_week is not None:
        first = parse_week(first_week, tx.today)
        last = parse_week(last_week, tx.today) if last_week is not None else monday_of(tx.today)
        if last < first:
            shown = last_week if last_week is not None else "this (the default --to)"
            raise InputError(f"bad period: --from {first_week} is after --to {shown}")
        label = format_week(first) + ("" if last == first else f"..{format_week(last)}")
        end = last + timedelta(days=7)
    else:
        first = parse_month(month) if month is not None else tx.today.replace(day=1)
        end = _next_month(first)
        label = f"{first.year:04d}-{first.month:02d}"
    zone = tx.settings.zone
    return Period(
        first=first,
        end=end,
        label=label,
        starts_at=to_utc(datetime.combine(first, time()), zone),
        ends_at=to_utc(datetime.combine(end, time()), zone),
    )


def _midnight(tx: Tx, day: date) -> datetime:
    return to_utc(datetime.combine(day, time()), tx.settings.zone)


def _during(column: Any, span: Period) -> Any:
    return and_(column >= span.starts_at, column < span.ends_at)


def _name_of(label: Any, key: Any, value: Any, name: str = "name") -> Any:
    """A group's name looked up by its key, one primary-key lookup per grouped row (a join
    could make the database scan every user to name a few hundred groups)."""
    return select(label).where(key == value).scalar_subquery().label(name)


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


# -- revenue -----------------------------------------------------------------------------------

_MONEY = ("payments", "package_payments", "credits", "refunded", "paid_out")


def _money_select(key: Any, at: Any, **amounts: Any) -> Any:
    """One branch of the revenue union: (key, at, one column per kind of money)."""
    return select(
        key.label("key"),
        at.label("at"),
        *((amounts.get(name, literal(0))).label(name) for name in _MONEY),
    )


def revenue(tx: Tx, span: Period, by: str | None = None) -> RevenueReport:
    if by is not None and by not in REVENUE_BY:
        raise InputError(f"bad --by {by!r}: use {', '.join(REVENUE_BY)}")
    attribute = by in ("teacher", "category")
    none = cast(null(), Integer)
    lesson_key = R.c.teacher_id if by == "teacher" else R.c.category_id
    package_key = P.c.teacher_id if by == "teacher" else P.c.category_id
    payments_in = and_(PAY.c.status == "succeeded", _during(PAY.c.settled_at, span))
    branches = [
        _money_select(none, PAY.c.settled_at, payments=PAY.c.amount_cents).where(payments_in),
        _money_select(
            package_key if attribute else none, PP.c.at, package_payments=PP.c.amount_cents
        )
        .select_from(PP.join(P, P.c.id == PP.c.purchase_id))
        .where(_during(PP.c.at, span)),
        _money_select(none, L.c.at, credits=L.c.amount_cents).where(
            L.c.kind == "credit", _during(L.c.at, span)
        ),
        _money_select(lesson_key if attribute else none, L.c.at, refunded=L.c.amount_cents)
        .select_from(L.outerjoin(R, R.c.id == L.c.reservation_id))
        .where(L.c.kind.in_(("refund", "move-refund")), _during(L.c.at, span)),
        _money_select(none, L.c.at, paid_out=-L.c.amount_cents).where(
            L.c.kind == "debit", _during(L.c.at, span)
        ),
    ]
    if attribute:  # a payment's part that funded lessons moves from (account) to them
        funded = F.join(PAY, and_(PAY.c.id == F.c.payment_id, F.c.source == "payment")).join(
            R, R.c.id == F.c.reservation_id
        )
        branches += [
            _money_select(lesson_key, PAY.c.settled_at, payments=F.c.amount_cents)
            .select_from(funded)
            .where(payments_in),
            _money_select(none, PAY.c.settled_at, payments=-F.c.amount_cents)
            .select_from(funded)
            .where(payments_in),
        ]
    money = union_all(*branches).subquery("money")
    key: Any = money.c.key
    if by == "month":  # each instant's month in the school zone, as bounds computed here
        months = span.months()
        key = literal(months[-1][0])
        if len(months) > 1:
            bounds = [(money.c.at < _midnight(tx, following), label) for label, following in months]
            key = case(*bounds[:-1], else_=months[-1][0])
    keyed = select(key.label("key"), *(money.c[name] for name in _MONEY)).subquery("keyed")
    grouped = (
        select(keyed.c.key, *(_sum(keyed.c[name]).label(name) for name in _MONEY))
        .group_by(keyed.c.key)
        .subquery("grouped")
    )
    if attribute:
        names = U if by == "teacher" else C
        label = names.c.handle if by == "teacher" else names.c.name
        query = select(_name_of(label, names.c.id, grouped.c.key), grouped)
    else:
        query = select(grouped.c.key.label("name"), grouped)
    rows = []
    for row in tx.execute(query):
        name = row.name if by is not None else "total"
        if name is None:
            name = ACCOUNT_ROW
        rows.append(_revenue_row(name, row.key if attribute else None, row))
    rows.sort(key=lambda r: (r.name == ACCOUNT_ROW, r.name))
    total = _revenue_row("total", None, *rows) if rows else _revenue_row("total", None)
    return RevenueReport(
        period=span.view(tx),
        by=by,
        currency=tx.settings.currency,
        rows=rows if by is not None else [],
        total=total,
    )


def _revenue_row(name: str, key: int | None, *rows: Any) -> RevenueRow:
    def total(field: str) -> int:
        return sum(int(getattr(r, field)) for r in rows)

    if rows and isinstance(rows[0], RevenueRow):
        amounts = {m: total(f"{m}_cents") for m in _MONEY}
    else:
        amounts = {m: total(m) for m in _MONEY}
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


# -- hours -------------------------------------------------------------------------------------


def hours(tx: Tx, span: Period, by: str = "teacher") -> HoursReport:
    if by not in HOURS_BY:
        raise InputError(f"bad --by {by!r}: use {', '.join(HOURS_BY)}")
    minutes = (R.c.end_slot - R.c.start_slot) * literal(tx.settings.slot_minutes)
    moved = exists().where(O.c.target_id == R.c.id, O.c.kind == "move", O.c.status == "applied")
    cancelled = and_(R.c.status == "cancelled", R.c.late_cancel.is_(False))
    key = {"teacher": R.c.teacher_id, "student": R.c.student_id, "category": R.c.category_id}[by]
    grouped = (
        select(
            key.label("key"),
            _sum(case((R.c.status.in_(("booked", "done")), 1), else_=0)).label("lessons"),
            _sum(case((R.c.status == "booked", minutes), else_=0)).label("booked"),
            _sum(case((R.c.status == "done", minutes), else_=0)).label("done"),
            _sum(case((and_(cancelled, ~moved), minutes), else_=0)).label("cancelled"),
            _sum(
                case((and_(R.c.status == "cancelled", R.c.late_cancel.is_(True)), minutes), else_=0)
            ).label("late"),
            _sum(case((and_(cancelled, moved), minutes), else_=0)).label("moved"),
        )
        .where(_during(R.c.starts_at, span), R.c.status.in_(("booked", "done", "cancelled")))
        .group_by(key)
        .subquery("grouped")
    )
    names = C if by == "category" else U
    label = names.c.name if by == "category" else names.c.handle
    query = select(_name_of(label, names.c.id, grouped.c.key), grouped).order_by("name")
    rows = [
        _hours_row(
            row.name, row.key, row.lessons, row.booked, row.done, row.cancelled, row.late, row.moved
        )
        for row in tx.execute(query)
    ]
    total = _hours_row(
        "total", None, *(sum(getattr(r, f.name) for r in rows) for f in fields(HoursRow)[2:8])
    )
    return HoursReport(period=span.view(tx), by=by, rows=rows, total=total)


def _hours_row(
    name: str, key: int | None, lessons: int, booked: int, done: int, cancelled: int,
    late: int, moved: int,
) -> HoursRow:  # fmt: skip
    return HoursRow(
        name=name,
        id=key,
        lessons=int(lessons),
        booked_minutes=int(booked),
        done_minutes=int(done),
        cancelled_minutes=int(cancelled),
        late_cancelled_minutes=int(late),
        moved_minutes=int(moved),
        payable_minutes=int(done) + int(late),
    )


# -- balances ----------------------------------------------------------------------------------


def balances(tx: Tx) -> BalancesReport:
    """Every student with money on the account, reserved money or owed package hours: three
    index scans (accounts with a balance, sessions awaiting a payment, packages owing),
    grouped per student."""
    zero = literal(0)
    owed_cents = P.c.price_cents - (
        (P.c.price_cents * P.c.paid_minutes * 2 + P.c.bought_minutes) // (2 * P.c.bought_minutes)
    )  # the price of the owed hours: the price less that of the paid hours (pro rata, SPEC §4)
    parts = union_all(
        select(A.c.student_id, A.c.balance_cents.label("balance"), zero.label("reserved"),
               zero.label("owed_minutes"), zero.label("owed_cents"))
        .where(A.c.balance_cents > 0),
        select(S.c.student_id, zero, S.c.reserved_cents, zero, zero)
        .where(S.c.status == "awaiting_payment", S.c.reserved_cents > 0),
        select(P.c.student_id, zero, zero, P.c.bought_minutes - P.c.paid_minutes, owed_cents)
        .where(P.c.paid_minutes < P.c.bought_minutes),
    ).subquery("parts")  # fmt: skip
    grouped = (
        select(
            parts.c.student_id,
            _sum(parts.c.balance).label("balance"),
            _sum(parts.c.reserved).label("reserved"),
            _sum(parts.c.owed_minutes).label("owed_minutes"),
            _sum(parts.c.owed_cents).label("owed_cents"),
        )
        .group_by(parts.c.student_id)
        .subquery("grouped")
    )
    query = select(
        _name_of(U.c.handle, U.c.id, grouped.c.student_id, "handle"),
        _name_of(U.c.name, U.c.id, grouped.c.student_id),
        grouped,
    ).order_by("handle")
    rows = [
        _balance_row(
            r.handle, r.student_id, r.name, r.balance, r.reserved, r.owed_minutes, r.owed_cents
        )
        for r in tx.execute(query)
    ]
    sums = [sum(getattr(r, name) for r in rows) for name in
            ("balance_cents", "reserved_cents", "owed_minutes", "owed_cents")]  # fmt: skip
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


# -- occupancy ---------------------------------------------------------------------------------


def _open_slots(day: Any) -> Any:
    """The number of '1' (open) slots of a day's availability string."""
    return func.length(day) - func.length(func.replace(day, "1", ""))


def occupancy(tx: Tx, span: Period) -> OccupancyReport:
    """Per teacher and week: open minutes (availability) against booked (booked + done) and
    held minutes. Only the days of each week inside the period count, on both sides."""
    slot = literal(tx.settings.slot_minutes)
    first_week, last_week = monday_of(span.first), monday_of(span.end - timedelta(days=1))
    # day i of week w is in the period when first ≤ w + i < end
    open_minutes: Any = sum(
        (
            case(
                (
                    and_(
                        W.c.week >= span.first - timedelta(days=i),
                        W.c.week <= span.end - timedelta(days=i + 1),
                    ),
                    _open_slots(W.c[f"d{i}"]),
                ),
                else_=0,
            )
            for i in range(7)
        ),
        start=literal(0),
    )
    minutes = (R.c.end_slot - R.c.start_slot) * slot
    zero = literal(0)
    parts = union_all(
        # a student's own week rows (a booking locks them) have nothing open: left out below
        select(W.c.user_id.label("teacher_id"), W.c.week, (open_minutes * slot).label("open"),
               zero.label("booked"), zero.label("held"))
        .where(W.c.week >= first_week, W.c.week <= last_week),
        select(R.c.teacher_id, R.c.week, zero,
               case((R.c.status.in_(("booked", "done")), minutes), else_=0),
               case((R.c.status == "held", minutes), else_=0))
        .where(_during(R.c.starts_at, span), R.c.status.in_(("held", "booked", "done"))),
    ).subquery("parts")  # fmt: skip
    grouped = (
        select(
            parts.c.teacher_id,
            parts.c.week,
            _sum(parts.c.open).label("open"),
            _sum(parts.c.booked).label("booked"),
            _sum(parts.c.held).label("held"),
        )
        .group_by(parts.c.teacher_id, parts.c.week)
        .subquery("grouped")
    )
    query = (
        select(_name_of(U.c.handle, U.c.id, grouped.c.teacher_id, "handle"), grouped)
        .where((grouped.c.open + grouped.c.booked + grouped.c.held) > 0)
        .order_by("handle", grouped.c.week)
    )
    rows = [
        OccupancyRow(
            teacher=r.handle,
            teacher_id=int(r.teacher_id),
            week=format_week(r.week),
            week_start=r.week.isoformat(),
            open_minutes=int(r.open),
            booked_minutes=int(r.booked),
            held_minutes=int(r.held),
        )
        for r in tx.execute(query)
    ]
    weeks, week = [], first_week
    while week <= last_week:
        weeks.append(format_week(week))
        week += timedelta(days=7)
    return OccupancyReport(period=span.view(tx), weeks=weeks, rows=rows)

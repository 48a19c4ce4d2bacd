"""The tables of SPEC §4.

Conventions: ids are integers; money is integer minor units (``*_cents``, 64-bit: a balance
may add up past the 21 million a 32-bit column holds); durations are
integer minutes (``*_minutes``); a week is its Monday (``DATE``); a day is 0..6 (Monday..Sunday);
slots are indexes on the school's slot grid; instants are stored as naive UTC and read back as
aware UTC (``UTCDateTime``), identically on SQLite and PostgreSQL.

No ``from __future__ import annotations`` here: pydantic would evaluate each model field's
annotation from its string (~6 ms of every command's start-up, SPEC §9).
"""

from datetime import UTC, date, datetime
from typing import Any

from pydantic import ConfigDict
from sqlalchemy import BigInteger, CheckConstraint, Index, UniqueConstraint, false, true
from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel

from tutorctl.core.status import FundingSource, Role, sql_one_of


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, naive UTC stored, aware UTC out."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite text from raw SQL
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Table(SQLModel):
    """Base of the table models. They are never validated (rows come from the database or
    from services that already checked their input), so pydantic builds their validators
    only if asked: importing the schema is on the start-up path of every command."""

    model_config = ConfigDict(from_attributes=True, defer_build=True)  # type: ignore[assignment]


def _instant(nullable: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable)


class SchemaVersion(Table, table=True):
    __tablename__ = "tutorctl_schema"

    version: int = Field(primary_key=True)
    applied_at: datetime = _instant()


class Settings(Table, table=True):
    __tablename__ = "settings"

    id: int = Field(default=1, primary_key=True)
    timezone: str = Field(max_length=64)
    slot_minutes: int
    currency: str = Field(max_length=8)
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int
    notifications: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    mail_from: str | None = Field(default=None, max_length=254)
    reminder_hours: int = Field(default=24, sa_column_kwargs={"server_default": "24"})


class User(Table, table=True):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(sql_one_of("role", Role), name="ck_users_role"),)

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = _instant()
    email: str | None = Field(default=None, max_length=254)
    notify: bool = Field(default=True, sa_column_kwargs={"server_default": true()})


class Category(Table, table=True):
    __tablename__ = "categories"
    __table_args__ = (CheckConstraint("price_cents >= 0", name="ck_categories_price"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    price_cents: int = Field(sa_type=BigInteger)
    active: bool = True


class CalendarWeek(Table, table=True):
    """One row per (user, week): availability per day, and the stamp. This row is the lock."""

    __tablename__ = "calendar_weeks"
    __table_args__ = (
        UniqueConstraint("user_id", "week", name="uq_calendar_weeks_user_week"),
        Index("ix_calendar_weeks_week", "week"),  # reports: every teacher's weeks of a period
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    week: date
    d0: str
    d1: str
    d2: str
    d3: str
    d4: str
    d5: str
    d6: str
    stamp: int = 0


class BookingSession(Table, table=True):
    __tablename__ = "booking_sessions"
    __table_args__ = (
        Index("ix_booking_sessions_status_touched", "status", "touched_at"),
        # uq_booking_sessions_one_open (one open session per student) is a partial index,
        # created by migrations.py: dialect options here would import both dialects at start-up
        Index("ix_booking_sessions_student", "student_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="users.id")
    status: str = Field(max_length=20)
    created_at: datetime = _instant()
    touched_at: datetime = _instant()
    payment_started_at: datetime | None = _instant(nullable=True)
    closed_at: datetime | None = _instant(nullable=True)
    # while awaiting its payment: the balance money its plan takes (SPEC §4 reserved balance);
    # it counts only while the status is awaiting_payment
    reserved_cents: int = Field(
        default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"}
    )


class Reservation(Table, table=True):
    """A lesson. ``starts_at``/``ends_at`` are the UTC instants of its wall-clock slots."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("start_slot < end_slot", name="ck_reservations_slots"),
        CheckConstraint("day BETWEEN 0 AND 6", name="ck_reservations_day"),
        Index("ix_reservations_teacher_week", "teacher_id", "week", "day"),
        Index("ix_reservations_student_week", "student_id", "week", "day"),
        Index("ix_reservations_status_ends", "status", "ends_at"),
        Index("ix_reservations_session", "session_id"),
        # reports: the lessons of a period; notify send: the lessons in the reminder window
        Index("ix_reservations_starts", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    teacher_id: int = Field(foreign_key="users.id")
    student_id: int = Field(foreign_key="users.id")
    category_id: int = Field(foreign_key="categories.id")
    week: date
    day: int
    start_slot: int
    end_slot: int
    starts_at: datetime = _instant()
    ends_at: datetime = _instant()
    status: str = Field(max_length=16)
    price_cents: int = Field(default=0, sa_type=BigInteger)
    # the category's hourly price when it was chosen: a move prices its new length from it
    rate_cents: int | None = Field(default=None, sa_type=BigInteger)
    session_id: int | None = Field(default=None, foreign_key="booking_sessions.id")
    unfunded: bool = False
    late_cancel: bool = False
    created_at: datetime = _instant()
    # SPEC §11: one calendar event across moves (UID: the lineage's first row; SEQUENCE: the
    # revision); when this row became booked (its session applied, or its import): a reminder
    # is due for it if that was before its window opened, by the school's setting at the time
    # `notify send` queues reminders (None: never booked)
    lineage_id: int | None = None
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    booked_at: datetime | None = _instant(nullable=True)


class Operation(Table, table=True):
    __tablename__ = "operations"
    __table_args__ = (
        Index("ix_operations_session", "session_id"),
        Index("ix_operations_target", "target_id", "status"),
        Index("ix_operations_new", "new_id"),  # lesson show, schedule off: what made a lesson
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="booking_sessions.id")
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)
    target_id: int | None = Field(default=None, foreign_key="reservations.id")
    new_id: int | None = Field(default=None, foreign_key="reservations.id")
    created_at: datetime = _instant()
    # staff waived the cancellation notice (cancel: full refund; move: allowed when late)
    waive_notice: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # when it was applied or abandoned, and (abandoned by time passing) why
    applied_at: datetime | None = _instant(nullable=True)
    note: str | None = Field(default=None, max_length=200)


class PackageHold(Table, table=True):
    """Package minutes the plan of a session awaiting its payment takes (SPEC §4 reserved):
    no other session may use them meanwhile. Counted only while the session is
    ``awaiting_payment``, like its ``reserved_cents``."""

    __tablename__ = "package_holds"
    __table_args__ = (Index("ix_package_holds_session", "session_id"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="booking_sessions.id")
    purchase_id: int = Field(foreign_key="purchases.id")
    minutes: int


class IdempotencyKey(Table, table=True):
    __tablename__ = "idempotency_keys"

    key: str = Field(primary_key=True, max_length=200)
    request: str
    result: str
    created_at: datetime = _instant()


class Account(Table, table=True):
    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint("balance_cents >= 0", name="ck_accounts_balance"),
        Index("ix_accounts_balance", "balance_cents"),  # report balances: who has money here
    )

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="users.id", unique=True)
    balance_cents: int = Field(default=0, sa_type=BigInteger)


class Payment(Table, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_session", "session_id", "status"),
        Index("ix_payments_settled", "settled_at"),  # report revenue: payments of a period
    )

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="booking_sessions.id")
    method: str = Field(max_length=16)
    amount_cents: int = Field(sa_type=BigInteger)
    reference: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=16)
    created_at: datetime = _instant()
    settled_at: datetime | None = _instant(nullable=True)


class LedgerEntry(Table, table=True):
    """Immutable: every balance change. Balance = Σ amount_cents of an account."""

    __tablename__ = "ledger"
    __table_args__ = (
        Index("ix_ledger_account", "account_id", "id"),
        Index("ix_ledger_reservation", "reservation_id"),
        Index("ix_ledger_kind_at", "kind", "at"),  # report revenue: credits, refunds, debits
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="accounts.id")
    amount_cents: int = Field(sa_type=BigInteger)
    kind: str = Field(max_length=16)  # credit | lesson | refund | move-refund | payment
    reason: str = Field(max_length=200)
    session_id: int | None = Field(default=None, foreign_key="booking_sessions.id")
    reservation_id: int | None = Field(default=None, foreign_key="reservations.id")
    payment_id: int | None = Field(default=None, foreign_key="payments.id")
    actor: str = Field(max_length=200)
    at: datetime = _instant()


class Purchase(Table, table=True):
    """A package of hours, in minutes. Remaining = bought − consumed; owed = bought − paid."""

    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint(
            "consumed_minutes >= 0 AND consumed_minutes <= bought_minutes",
            name="ck_purchases_consumed",
        ),
        CheckConstraint(
            "paid_minutes >= 0 AND paid_minutes <= bought_minutes", name="ck_purchases_paid"
        ),
        Index("ix_purchases_match", "student_id", "teacher_id", "category_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    student_id: int = Field(foreign_key="users.id")
    teacher_id: int = Field(foreign_key="users.id")
    category_id: int = Field(foreign_key="categories.id")
    bought_minutes: int
    paid_minutes: int
    consumed_minutes: int = 0
    price_cents: int = Field(sa_type=BigInteger)
    purchased_on: date
    created_at: datetime = _instant()


class PackagePayment(Table, table=True):
    """Money received for a package's paid hours: at ``purchase add`` (its paid hours) and at
    each ``purchase settle`` (owed hours paid later). The amounts of a package add up to the
    price of its paid hours, pro rata to the cent (SPEC §7 invariant 9)."""

    __tablename__ = "package_payments"
    __table_args__ = (
        Index("ix_package_payments_purchase", "purchase_id"),
        Index("ix_package_payments_at", "at"),  # report revenue
    )

    id: int | None = Field(default=None, primary_key=True)
    purchase_id: int = Field(foreign_key="purchases.id")
    method: str = Field(max_length=16)
    minutes: int
    amount_cents: int = Field(sa_type=BigInteger)
    reference: str | None = Field(default=None, max_length=200)
    actor: str = Field(max_length=200)
    at: datetime = _instant()


class Funding(Table, table=True):
    """Where a lesson's price came from: purchase minutes, balance money or a payment."""

    __tablename__ = "fundings"
    __table_args__ = (
        CheckConstraint(sql_one_of("source", FundingSource), name="ck_fundings_source"),
        Index("ix_fundings_reservation", "reservation_id"),
        Index("ix_fundings_purchase", "purchase_id"),
        Index("ix_fundings_payment", "payment_id"),  # report revenue: what a payment paid for
    )

    id: int | None = Field(default=None, primary_key=True)
    reservation_id: int = Field(foreign_key="reservations.id")
    source: str = Field(max_length=16)
    purchase_id: int | None = Field(default=None, foreign_key="purchases.id")
    payment_id: int | None = Field(default=None, foreign_key="payments.id")
    minutes: int = 0
    amount_cents: int = Field(default=0, sa_type=BigInteger)


class History(Table, table=True):
    """Append-only audit: one row per mutation (at least)."""

    __tablename__ = "history"
    __table_args__ = (Index("ix_history_at", "at"), Index("ix_history_session", "session_id"))

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _instant()
    actor: str = Field(max_length=200)
    command: str = Field(max_length=64)
    subject: str = Field(max_length=200)
    user_ids: str = Field(default=",", max_length=2000)
    session_id: int | None = None
    details: str = "{}"


class HistoryUser(Table, table=True):
    """The people a history row is about: ``history --user`` reads through its primary key
    (user, entry), newest first, instead of scanning the history."""

    __tablename__ = "history_users"

    user_id: int = Field(primary_key=True)
    history_id: int = Field(primary_key=True, foreign_key="history.id")

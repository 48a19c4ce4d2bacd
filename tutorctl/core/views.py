"""Read models: plain dataclasses that services return, the renderer draws and --json dumps.

Field names follow SPEC §6: ids ``id``/``*_id``, money ``*_cents``, durations ``*_minutes``,
instants ISO 8601 with offset, dates ISO, statuses lower-case words.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettingsView:
    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int


@dataclass(frozen=True)
class DbInfoView:
    url: str
    dialect: str
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class DbInitView:
    url: str
    schema_version_before: int | None
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class UserView:
    id: int
    handle: str
    name: str
    role: str
    active: bool
    balance_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class UserListView:
    users: list[UserView] = field(default_factory=list)


@dataclass(frozen=True)
class CategoryView:
    id: int
    name: str
    price_cents: int
    currency: str
    active: bool


@dataclass(frozen=True)
class CategoryListView:
    categories: list[CategoryView] = field(default_factory=list)


@dataclass(frozen=True)
class PersonRef:
    id: int
    handle: str
    name: str
    role: str


@dataclass(frozen=True)
class LessonView:
    """A held, booked or done lesson as seen in a week (or a list)."""

    id: int
    teacher: str
    student: str
    teacher_id: int
    student_id: int
    category: str
    week: str
    date: str
    day: int
    start: str
    end: str
    duration_minutes: int
    starts_at: str
    ends_at: str
    status: str
    pending: str | None = None  # "cancel" or "move" while a session plans it
    session_id: int | None = None
    price_cents: int = 0


@dataclass(frozen=True)
class SlotView:
    time: str
    exists: bool  # False for a wall-clock time skipped by a DST change
    open: bool
    lesson_ids: list[int]
    with_open: bool | None = None  # the overlaid teacher's availability (student view)


@dataclass(frozen=True)
class DayView:
    date: str
    name: str
    slots: list[SlotView]


@dataclass(frozen=True)
class ScheduleView:
    week: str
    week_start: str
    timezone: str
    slot_minutes: int
    user: PersonRef
    stamp: int
    days: list[DayView]
    lessons: list[LessonView]
    with_user: PersonRef | None = None
    with_stamp: int | None = None


@dataclass(frozen=True)
class ScheduleChangeView:
    user: str
    action: str  # "open", "close" or "copy"
    weeks: list[str]
    stamps: dict[str, int]
    changed_slots: int
    skipped: list[str] = field(default_factory=list)  # slots that do not exist (DST)
    lessons_kept: list[int] = field(default_factory=list)  # lessons under closed slots (--force)


@dataclass(frozen=True)
class BookingResultView:
    """What reserve / cancel / move return (also what an idempotent retry returns)."""

    session_id: int
    operation_id: int
    reservation_id: int | None
    status: str
    kind: str
    operation_ids: list[int] = field(default_factory=list)
    reservation_ids: list[int] = field(default_factory=list)
    lessons: list[LessonView] = field(default_factory=list)
    replayed: bool = False


@dataclass(frozen=True)
class OperationView:
    id: int
    kind: str
    status: str
    lesson: LessonView | None  # the new (held) lesson of a reserve or move
    target: LessonView | None  # the booked lesson a cancel or move acts on


@dataclass(frozen=True)
class SessionView:
    id: int
    student: str
    student_id: int
    status: str
    created_at: str
    touched_at: str
    expires_at: str | None
    operations: list[OperationView]


@dataclass(frozen=True)
class SessionSummaryView:
    id: int
    student: str
    status: str
    created_at: str
    touched_at: str
    pending_operations: int


@dataclass(frozen=True)
class SessionListView:
    sessions: list[SessionSummaryView]


@dataclass(frozen=True)
class HistoryEntryView:
    id: int
    at: str
    actor: str
    command: str
    subject: str
    session_id: int | None
    user_ids: list[int]
    details: dict[str, object]


@dataclass(frozen=True)
class HistoryView:
    entries: list[HistoryEntryView]


@dataclass(frozen=True)
class PurchaseLine:
    id: int
    student: str
    teacher: str
    category: str
    date: str
    price_cents: int
    bought_minutes: int
    paid_minutes: int
    consumed_minutes: int
    remaining_minutes: int
    owed_minutes: int


@dataclass(frozen=True)
class PurchaseListView:
    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class CancelGroupView:
    teacher: str
    category: str
    lessons: int
    minutes: int
    refunded_minutes_to_purchases: int
    refunded_cents_to_balance: int
    late_lessons: int
    lesson_ids: list[int]


@dataclass(frozen=True)
class NewGroupView:
    teacher: str
    category: str
    lessons: int
    minutes: int
    price_cents: int
    from_purchases_minutes: int
    from_balance_cents: int
    external_cents: int
    lesson_ids: list[int]


@dataclass(frozen=True)
class ResumeView:
    session_id: int
    student: str
    status: str
    currency: str
    balance_before_cents: int
    purchases_before: list[PurchaseLine]
    cancellations: list[CancelGroupView]
    balance_between_cents: int
    purchases_between: list[PurchaseLine]
    new_lessons: list[NewGroupView]
    to_pay_cents: int
    balance_after_cents: int
    notes: list[str]


@dataclass(frozen=True)
class PayResultView:
    session_id: int
    status: str
    payment_id: int | None
    payment_status: str | None
    method: str | None
    amount_cents: int
    currency: str
    message: str


@dataclass(frozen=True)
class AccountView:
    student: str
    student_id: int
    balance_cents: int
    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class LedgerLineView:
    id: int
    at: str
    amount_cents: int
    reason: str
    session_id: int | None
    reservation_id: int | None
    payment_id: int | None
    actor: str


@dataclass(frozen=True)
class LedgerView:
    student: str
    currency: str
    balance_cents: int
    entries: list[LedgerLineView]


@dataclass(frozen=True)
class CheckView:
    ok: bool
    violations: list[str]
    checked: dict[str, int]


@dataclass(frozen=True)
class ExpireView:
    expired_sessions: int
    failed_payments: int
    released_holds: int
    done_lessons: int
    batches: int


@dataclass(frozen=True)
class ImportView:
    kind: str
    file: str
    rows: int
    written: int
    dry_run: bool
    details: dict[str, int] = field(default_factory=dict)

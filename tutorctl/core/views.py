"""Read models: plain dataclasses that services return, the renderer draws and --json dumps.

Field names follow SPEC §6: ids ``id``/``*_id``, money ``*_cents``, durations ``*_minutes``,
instants ISO 8601 with offset, dates ISO, statuses lower-case words.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SettingsView:
    """The school settings (shown by `db init` and `db info`)."""

    timezone: str
    slot_minutes: int
    currency: str
    hold_minutes: int
    payment_minutes: int
    cancel_notice_hours: int
    min_notice_hours: int


@dataclass(frozen=True)
class DbInfoView:
    """The database a command uses: masked URL, dialect, schema version, settings."""

    url: str
    dialect: str
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class DbInitView:
    """What `db init` did: the schema version before (None: new) and after."""

    url: str
    schema_version_before: int | None
    schema_version: int
    settings: SettingsView


@dataclass(frozen=True)
class UserView:
    """A teacher, student or staff member (a student's balance when asked)."""

    id: int
    handle: str
    name: str
    role: str
    active: bool
    balance_cents: int | None = None
    currency: str | None = None


@dataclass(frozen=True)
class UserListView:
    """`user list`."""

    users: list[UserView] = field(default_factory=list)


@dataclass(frozen=True)
class CategoryView:
    """A lesson category and its hourly price."""

    id: int
    name: str
    price_cents: int
    currency: str
    active: bool


@dataclass(frozen=True)
class CategoryListView:
    """`category list`."""

    categories: list[CategoryView] = field(default_factory=list)


@dataclass(frozen=True)
class PersonRef:
    """A user named inside another view."""

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
    """One slot of a day in a week grid: open or not, and the lessons in it."""

    time: str
    exists: bool  # False for a wall-clock time skipped by a DST change
    open: bool
    lesson_ids: list[int]
    with_open: bool | None = None  # the overlaid teacher's availability (student view)


@dataclass(frozen=True)
class DayView:
    """One day of a week grid."""

    date: str
    name: str
    slots: list[SlotView]


@dataclass(frozen=True)
class ScheduleView:
    """`schedule show`: a person's week (optionally overlaid with a second person's)."""

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
    """What `schedule set` / `schedule copy` changed, week stamps included."""

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
    """One planned change of a booking session: reserve, cancel or move."""

    id: int
    kind: str
    status: str
    lesson: LessonView | None  # the new (held) lesson of a reserve or move
    target: LessonView | None  # the booked lesson a cancel or move acts on
    waive_notice: bool = False  # staff waived the cancellation notice
    note: str | None = None  # why it was abandoned, when time overtook it


@dataclass(frozen=True)
class SessionView:
    """A booking session and its operations (`session show`)."""

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
    """One line of `session list`."""

    id: int
    student: str
    status: str
    created_at: str
    touched_at: str
    pending_operations: int


@dataclass(frozen=True)
class SessionListView:
    """`session list`."""

    sessions: list[SessionSummaryView]


@dataclass(frozen=True)
class HistoryEntryView:
    """One append-only history row: who changed what, when."""

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
    """`history`."""

    entries: list[HistoryEntryView]


@dataclass(frozen=True)
class PurchaseLine:
    """A prepaid hour package: bought, paid, consumed, remaining and owed minutes."""

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
    owed_cents: int = 0  # the price of the owed hours, pro rata (what settling them costs)


@dataclass(frozen=True)
class PurchaseListView:
    """`purchase list`."""

    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class PackageHoursView:
    """Hours of one package a resume line takes from it or gives back to it."""

    purchase_id: int
    minutes: int
    on_credit_minutes: int = 0  # of those minutes, hours of the package not paid yet (owed)


@dataclass(frozen=True)
class CancelGroupView:
    """The resume's cancelled lessons of one teacher and category, and their refunds."""

    teacher: str
    category: str
    lessons: int
    minutes: int
    refunded_minutes_to_purchases: int
    refunded_cents_to_balance: int
    late_lessons: int
    lesson_ids: list[int]
    to_purchases: list[PackageHoursView] = field(default_factory=list)  # which package, how much


@dataclass(frozen=True)
class NewGroupView:
    """The resume's new lessons of one teacher and category, and how they are paid."""

    teacher: str
    category: str
    lessons: int
    minutes: int
    price_cents: int
    from_purchases_minutes: int
    from_balance_cents: int
    external_cents: int
    lesson_ids: list[int]
    on_credit_minutes: int = 0  # of the package minutes, those of hours not paid yet (owed)
    from_purchases: list[PackageHoursView] = field(default_factory=list)  # which, how much


@dataclass(frozen=True)
class MoveLineView:
    """A move of the resume and what it changes: a same length move keeps its funding and
    costs nothing; a longer one is charged its extra time (in the new lessons); a shorter one
    gives the cut time back (in the cancellations)."""

    operation_id: int
    lesson_id: int  # the booked lesson that moves
    new_lesson_id: int  # its new place (held until the session is applied)
    teacher: str
    category: str
    from_date: str
    from_time: str
    to_date: str
    to_time: str
    old_minutes: int
    new_minutes: int
    change: str  # same length | longer | shorter
    kept_purchase_minutes: int  # funding carried to the new place: package hours …
    kept_cents: int  # … and money (balance or payment)


@dataclass(frozen=True)
class CancelTotalsView:
    """The cancellations of a resume, added up."""

    lessons: int = 0
    minutes: int = 0
    refunded_minutes_to_purchases: int = 0
    refunded_cents_to_balance: int = 0
    late_lessons: int = 0


@dataclass(frozen=True)
class NewTotalsView:
    """The new lessons of a resume, added up."""

    lessons: int = 0
    minutes: int = 0
    price_cents: int = 0
    from_purchases_minutes: int = 0
    on_credit_minutes: int = 0
    from_balance_cents: int = 0
    external_cents: int = 0


@dataclass(frozen=True)
class ResumeView:
    """The payment resume of a session: balance and packages before, between, after."""

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
    moves: list[MoveLineView] = field(default_factory=list)
    cancellation_totals: CancelTotalsView = field(default_factory=CancelTotalsView)
    new_lesson_totals: NewTotalsView = field(default_factory=NewTotalsView)


@dataclass(frozen=True)
class PayResultView:
    """What `session pay` / `session confirm` ended with."""

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
    """A student's balance and prepaid packages (`account show`, `account credit`)."""

    student: str
    student_id: int
    balance_cents: int
    reserved_cents: int  # held by a session awaiting its payment (SPEC §4)
    currency: str
    purchases: list[PurchaseLine]


@dataclass(frozen=True)
class LedgerLineView:
    """One balance movement of a student's account."""

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
    """A student's account ledger (`account history`)."""

    student: str
    currency: str
    balance_cents: int
    entries: list[LedgerLineView]


@dataclass(frozen=True)
class CheckView:
    """`check`: the invariants, each violation in words, and what was counted."""

    ok: bool
    violations: list[str]
    checked: dict[str, int]


@dataclass(frozen=True)
class ExpireView:
    """What one `expire` run released and settled."""

    expired_sessions: int
    failed_payments: int
    released_holds: int
    done_lessons: int
    batches: int


@dataclass(frozen=True)
class ImportView:
    """What an import read and wrote (nothing written when any row is bad)."""

    kind: str
    file: str
    rows: int
    written: int
    dry_run: bool
    details: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OffLessonView:
    """One lesson of a teacher's day off: what became of it and what was refunded."""

    lesson_id: int
    student: str
    start: str
    end: str
    was: str  # held | booked
    action: str  # cancelled | released | kept (already started)
    session_id: int | None = None  # the session that cancelled it (or that held it)
    refunded_cents: int = 0  # money back to the balance
    refunded_minutes: int = 0  # package minutes given back


@dataclass(frozen=True)
class TeacherOffView:
    """`schedule off`: the teacher cannot come."""

    teacher: str
    date: str
    hours: str
    reason: str
    closed_slots: int
    currency: str
    lessons: list[OffLessonView]


@dataclass(frozen=True)
class FundingPartView:
    """Where part of a lesson's price came from: package minutes, the balance or a payment."""

    source: str  # purchase | balance | payment
    minutes: int
    amount_cents: int
    purchase_id: int | None
    payment_id: int | None


@dataclass(frozen=True)
class LessonEventView:
    """One step of a lesson's story."""

    at: str
    what: str
    session_id: int | None = None
    operation_id: int | None = None


@dataclass(frozen=True)
class LessonDetailView:
    """`lesson show`: the lesson, its funding and its story."""

    lesson: LessonView
    unfunded: bool
    late_cancel: bool
    currency: str
    funding: list[FundingPartView]
    events: list[LessonEventView]


@dataclass(frozen=True)
class ReportPeriod:
    """The period of a report: whole days in the school zone, ``first_date`` to ``last_date``
    (inclusive), i.e. the instants ``starts_at`` (included) to ``ends_at`` (excluded)."""

    label: str  # "2026-11" or "2026-W45..2026-W48"
    first_date: str
    last_date: str
    starts_at: str
    ends_at: str


@dataclass(frozen=True)
class RevenueRow:
    """Money of one group (teacher, category, month, or ``(account)``) over the period.

    ``taken`` = payments + package payments + credits (money received); ``net`` = taken −
    paid out. ``refunded`` went back to students' balances (money the school still holds)."""

    name: str
    id: int | None
    payments_cents: int
    package_payments_cents: int
    credits_cents: int
    taken_cents: int
    refunded_cents: int
    paid_out_cents: int
    net_cents: int


@dataclass(frozen=True)
class RevenueReport:
    """`report revenue`: money taken, refunded and paid out over a period."""

    period: ReportPeriod
    by: str | None
    currency: str
    rows: list[RevenueRow]
    total: RevenueRow


@dataclass(frozen=True)
class HoursRow:
    """Lesson minutes of one group (teacher, student, category) over the period, by status.

    ``payable`` = done + late-cancelled: what a teacher is paid for. ``moved`` counts the old
    place of a moved lesson (cancelled by the move; the new place is counted where it is)."""

    name: str
    id: int | None
    lessons: int  # booked or done
    booked_minutes: int
    done_minutes: int
    cancelled_minutes: int
    late_cancelled_minutes: int
    moved_minutes: int
    payable_minutes: int


@dataclass(frozen=True)
class HoursReport:
    """`report hours`: booked, done, cancelled and late-cancelled lesson minutes."""

    period: ReportPeriod
    by: str
    rows: list[HoursRow]
    total: HoursRow


@dataclass(frozen=True)
class BalanceRow:
    """A student with money on the account, money reserved, or package hours owed.

    ``balance`` is what the school owes the student (to spend or to pay back); ``owed`` is what
    the student owes the school for package hours sold on credit."""

    student: str
    student_id: int | None  # None on the total row
    name: str
    balance_cents: int
    reserved_cents: int
    available_cents: int
    owed_minutes: int
    owed_cents: int


@dataclass(frozen=True)
class BalancesReport:
    """`report balances`: every student with a balance, reserved money or owed hours, now."""

    as_of: str
    currency: str
    rows: list[BalanceRow]
    total: BalanceRow


@dataclass(frozen=True)
class OccupancyRow:
    """One teacher's week: open minutes (availability) against booked (booked + done) and held
    minutes, counting only the days of the week inside the period."""

    teacher: str
    teacher_id: int
    week: str
    week_start: str
    open_minutes: int
    booked_minutes: int
    held_minutes: int


@dataclass(frozen=True)
class OccupancyReport:
    """`report occupancy`: per teacher and week, open hours against booked hours."""

    period: ReportPeriod
    weeks: list[str]
    rows: list[OccupancyRow]

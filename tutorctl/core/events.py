"""Typed events: what a change did, recorded by the service on its transaction.

A service records the facts of a change (``tx.record(event)``), once; the unit of work hands
each event to its readers (``db/events.py``): the history log (the rows ``history`` and a
lesson's story show, with their links to the people concerned) and the outbox of messages to
those people (SPEC §11, ``db/outbox.py``). No service writes a history row or a message by hand
for these kinds, and a new reader (a webhook, a calendar feed) is one more consumer of the same
events. An event carries what its readers need and nothing they could not re-derive the same
way every time: ids, amounts, and the handles a history subject names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LessonFact:
    """A lesson as a message tells it. ``lineage`` is the id of the first row of its lineage
    (a move makes a new row): the calendar UID; ``revision`` grows with each move."""

    id: int
    lineage: int
    revision: int
    teacher_id: int
    student_id: int
    category: str
    starts_at: datetime
    ends_at: datetime
    price_cents: int


@dataclass(frozen=True)
class PackageUse:
    """The hours of one package a lesson was paid with; of them, those on credit (owed hours
    of a package sold on credit, not paid yet: the receipt says they are still owed)."""

    purchase_id: int
    minutes: int
    on_credit_minutes: int = 0


@dataclass(frozen=True)
class LessonBooked:
    lesson: LessonFact
    packages: tuple[PackageUse, ...] = ()  # the package hours that paid it


@dataclass(frozen=True)
class LessonMoved:
    old: LessonFact
    new: LessonFact
    refund_cents: int = 0  # a shortened move gives money back
    extra_cents: int = 0  # a lengthened one costs more
    packages: tuple[PackageUse, ...] = ()  # the package hours that paid its extra part


@dataclass(frozen=True)
class LessonCancelled:
    lesson: LessonFact
    refund_cents: int
    refund_minutes: int
    late: bool


LessonChange = LessonBooked | LessonMoved | LessonCancelled


@dataclass(frozen=True)
class NotApplied:
    """An operation of a session that was not applied when it was paid for (time overtook
    it, or the payment no longer covered it): what it would have done, and why not. The
    student is told (the receipt, or the message of a payment that booked nothing)."""

    kind: str  # "reserve", "cancel" or "move"
    lesson: LessonFact  # a reserve's new lesson; the lesson a cancel or a move targeted
    why: str


@dataclass(frozen=True)
class SessionMoney:
    """The money of an applied session, as its receipt tells it."""

    package_minutes: int  # package hours used
    balance_cents: int  # balance money used
    payment_cents: int  # external payment taken (all the provider took)
    refund_cents: int  # money back to the balance
    refund_minutes: int  # package minutes given back
    balance_after_cents: int  # the ledger balance once the session's money moved
    # of the payment, what nothing applied needed: credited to the balance (a pending payment
    # settled after some of its lessons started, or after all of them)
    surplus_cents: int = 0


# -- why a session was applied (its history row says which) -------------------------------


@dataclass(frozen=True)
class PaidFor:
    """The provider accepted the session's payment: applied at once."""

    payment_id: int
    amount_cents: int


@dataclass(frozen=True)
class Confirmed:
    """``session confirm`` applied it (nothing to pay, or after a failed payment)."""

    operation_ids: tuple[int, ...]  # every operation that was waiting, applied or not
    cancels: bool
    moves: bool


@dataclass(frozen=True)
class CancelledForTeacher:
    """``schedule off`` cancelled a student's lessons there, notice waived."""

    student_handle: str
    lesson_ids: tuple[int, ...]
    why: str  # the reason given to ``schedule off``


Cause = PaidFor | Confirmed | CancelledForTeacher


@dataclass(frozen=True)
class SessionApplied:
    """A session's operations were applied (pay, confirm, a settled payment, schedule off)."""

    session_id: int
    student_id: int
    changes: tuple[LessonChange, ...]
    money: SessionMoney
    cause: Cause
    people: tuple[int, ...]  # everyone its history row is about (the lessons' people)
    reason: str | None = None  # why, when it was not the student's doing (teacher off)
    not_applied: tuple[NotApplied, ...] = ()  # what time overtook as it was paid for


# -- sessions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentStarted:
    """A payment was asked of the provider; the session awaits its answer."""

    session_id: int
    student_id: int
    payment_id: int
    amount_cents: int
    method: str


@dataclass(frozen=True)
class PaymentFailed:
    """One session's payment did not pay for it (refused; or taken but short of a changed
    resume, or with nothing left to apply: then ``money`` says it went to the balance):
    nothing was booked."""

    session_id: int
    student_id: int
    payment_id: int
    what: str  # "failed", "short" or "unused": the history subject says which
    why: str
    money: SessionMoney | None = None  # a payment taken: the money, all to the balance
    not_applied: tuple[NotApplied, ...] = ()  # the lessons it did not book, and why


@dataclass(frozen=True)
class SessionClosed:
    """``session confirm`` closed a paid session (already applied: only its status moves)."""

    session_id: int
    student_id: int


@dataclass(frozen=True)
class SessionsSettled:
    """``expire`` moved these sessions on, set-based: idle ones expired, silent payments
    failed (nothing was booked), paid ones closed. Many ids, one event."""

    session_ids: tuple[int, ...]
    status: str  # what they became
    was: str  # what they were
    why: str

    @property
    def payments_failed(self) -> bool:
        return self.status == "payment_failed"


# -- plans: what a session holds before it is applied (history only: nothing is told) ---------


@dataclass(frozen=True)
class LessonsHeld:
    """``reserve``: new lessons held in a session, one per week, each with its operation."""

    session_id: int
    teacher_id: int
    teacher_handle: str
    student_id: int
    student_handle: str
    lesson_ids: tuple[int, ...]
    operation_ids: tuple[int, ...]
    weeks: tuple[str, ...]  # as written (2026-W48)
    day: str
    hours: str
    category: str


@dataclass(frozen=True)
class ChangePlanned:
    """``cancel`` or ``move``: a change of a booked lesson added to a session."""

    kind: str  # "cancel" or "move"
    session_id: int
    lesson_id: int
    people: tuple[int, ...]  # the lesson's teacher and student
    operation_id: int
    waive_notice: bool
    new_lesson_id: int | None = None  # a move's held new lesson
    to: str | None = None  # a move's new place, as written


@dataclass(frozen=True)
class OperationDropped:
    """``session drop``: one operation removed from an open session, its hold released."""

    session_id: int
    operation_id: int
    kind: str
    people: tuple[int, ...]


@dataclass(frozen=True)
class OperationsAbandoned:
    """Time overtook these operations of a session (their holds released) as it was applied."""

    session_id: int
    student_id: int
    why: tuple[tuple[int, str], ...]  # (operation id, why), in order


@dataclass(frozen=True)
class SessionAbandoned:
    """``session abandon``: everything the session held released."""

    session_id: int
    people: tuple[int, ...]
    operation_ids: tuple[int, ...]  # the operations that were pending


# -- lessons, money, schedules ---------------------------------------------------------------


@dataclass(frozen=True)
class LessonsDone:
    """``expire`` marked these booked lessons done (they ended), set-based."""

    lesson_ids: tuple[int, ...]


@dataclass(frozen=True)
class BalanceChanged:
    """Money put on (``credit``) or paid out of (``debit``) a student's balance by the desk."""

    kind: str  # "credit" or "debit"
    student_id: int
    student_handle: str
    amount_cents: int
    reason: str


@dataclass(frozen=True)
class PackageBought:
    """A package of hours sold, with the payment of its paid hours (the rest owed)."""

    purchase_id: int
    student_id: int
    student_handle: str
    teacher_id: int
    category: str
    bought_minutes: int
    paid_minutes: int
    price_cents: int
    paid_cents: int
    method: str


@dataclass(frozen=True)
class PackageSettled:
    """Owed hours of a package paid for."""

    purchase_id: int
    student_id: int
    teacher_id: int
    minutes: int
    amount_cents: int
    method: str


@dataclass(frozen=True)
class TeacherOff:
    """``schedule off``: a teacher's day (or hours) closed; what became of each lesson there
    (the cancels themselves are each student's ``SessionApplied``)."""

    teacher_id: int
    teacher_handle: str
    day: str  # ISO date
    hours: str
    reason: str
    people: tuple[int, ...]  # the teacher and the students of the lessons there
    lessons: tuple[tuple[int, str], ...]  # (lesson id, what became of it), in report order


Event = (
    LessonsHeld
    | ChangePlanned
    | OperationDropped
    | OperationsAbandoned
    | SessionAbandoned
    | SessionApplied
    | PaymentStarted
    | PaymentFailed
    | SessionClosed
    | SessionsSettled
    | LessonsDone
    | BalanceChanged
    | PackageBought
    | PackageSettled
    | TeacherOff
)

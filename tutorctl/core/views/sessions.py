"""Booking sessions, their operations, and what reserve / cancel / move return."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutorctl.core.views.lessons import LessonView


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

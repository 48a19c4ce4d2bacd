"""The `schedule` commands: week grids, availability changes and a teacher's day off."""

from __future__ import annotations

from dataclasses import dataclass, field

from tutorctl.core.views.lessons import LessonView
from tutorctl.core.views.people import PersonRef


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

"""Availability: set a rectangle (days × hours) over weeks, copy a week, show a week grid."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import col, select

from tutorctl.core.availability import WeekAvailability
from tutorctl.core.calendar import DAY_NAMES, format_week
from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.status import Role
from tutorctl.core.views import (
    DayView,
    LessonView,
    PersonRef,
    ScheduleChangeView,
    ScheduleView,
    SlotView,
)
from tutorctl.db.schema import CalendarWeek, User
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import describe, overlapping, week_lessons
from tutorctl.services.users import find_user


def person(user: User) -> PersonRef:
    assert user.id is not None
    return PersonRef(id=user.id, handle=user.handle, name=user.name, role=user.role)


def _day_label(week: date, day: int) -> str:
    return f"{DAY_NAMES[day].capitalize()} {(week + timedelta(days=day)).isoformat()}"


def _guard_closing(
    tx: Tx, teacher: User, closing: dict[tuple[date, int], set[int]], force: bool
) -> list[int]:
    """Lessons (as teacher) under slots about to close: refused unless ``force``."""
    assert teacher.id is not None
    found: dict[int, LessonView] = {}
    for (week, day), slots in closing.items():
        if slots:
            for lesson in overlapping(
                tx, [teacher.id], week, day, min(slots), max(slots) + 1, as_teacher_only=True
            ):
                lesson_slots = set(range(*_slot_span(tx, lesson)))
                if lesson_slots & slots:
                    found[lesson.id] = lesson
    if found and not force:
        first = found[min(found)]
        more = f" and {len(found) - 1} more" if len(found) > 1 else ""
        raise RuleError(
            f"closing would leave {describe(first)}{more} outside {teacher.handle}'s availability: "
            "cancel or move them first, or repeat with --force (the lessons stay)"
        )
    return sorted(found)


def _slot_span(tx: Tx, lesson: LessonView) -> tuple[int, int]:
    grid = tx.settings.grid
    return grid.parse_time(lesson.start), grid.parse_time(lesson.end, is_end=True)


def set_availability(
    tx: Tx,
    user_ref: str,
    weeks: list[date],
    days: list[int],
    start: int,
    end: int,
    *,
    open_: bool,
    if_stamp: int | None = None,
    force: bool = False,
) -> ScheduleChangeView:
    """Open or close the rectangle ``days × [start, end)`` in every week, atomically."""
    teacher = find_user(tx, user_ref, role=Role.TEACHER)
    assert teacher.id is not None
    if if_stamp is not None and len(weeks) != 1:
        raise InputError("--if-stamp names the stamp of one week: give a single --week")
    keys = [(teacher.id, week) for week in weeks]
    tx.lock(weeks=keys)
    if if_stamp is not None:
        _check_stamp(tx.locked_weeks[keys[0]], if_stamp, teacher)
    grid, zone = tx.settings.grid, tx.settings.zone
    changed, skipped = 0, []
    closing: dict[tuple[date, int], set[int]] = {}
    new_weeks: dict[date, WeekAvailability] = {}
    for week in weeks:
        availability = tx.locked_weeks.week((teacher.id, week))
        for day in days:
            missing = set(grid.missing_slots(zone, week, day, start, end))
            flips = []
            for slot in range(start, end):
                if slot in missing:
                    if open_:
                        skipped.append(
                            f"{_day_label(week, day)} {grid.format_range(slot, slot + 1)}"
                        )
                    continue
                if availability.is_open(day, slot) != open_:
                    flips.append(slot)
            changed += len(flips)
            closing[(week, day)] = set() if open_ else set(flips)
            availability = availability.with_slots(day, flips, open_=open_)
        new_weeks[week] = availability
    if (
        open_
        and skipped
        and changed == 0
        and len(skipped) == len(weeks) * len(days) * (end - start)
    ):
        raise RuleError(
            f"cannot open {skipped[0]}: that time does not exist in {tx.settings.timezone} "
            "(the clocks spring forward)"
        )
    kept = [] if open_ else _guard_closing(tx, teacher, closing, force)
    for week, availability in new_weeks.items():
        tx.locked_weeks.store((teacher.id, week), availability)
    stamps = {format_week(w): tx.locked_weeks[(teacher.id, w)].stamp for w in weeks}
    tx.audit(
        f"availability {teacher.handle}",
        users=[teacher.id],
        action="open" if open_ else "close",
        weeks=list(stamps),
        days=[DAY_NAMES[d] for d in days],
        hours=grid.format_range(start, end),
        changed_slots=changed,
        lessons_kept=kept,
    )
    return ScheduleChangeView(
        user=teacher.handle,
        action="open" if open_ else "close",
        weeks=list(stamps),
        stamps=stamps,
        changed_slots=changed,
        skipped=skipped,
        lessons_kept=kept,
    )


def _check_stamp(row: CalendarWeek, expected: int, user: User) -> None:
    shown = row.stamp - 1  # lock() already counted this mutation
    if shown != expected:
        raise RuleError(
            f"week {format_week(row.week)} of {user.handle} changed since it was shown "
            f"(stamp {shown}, you had {expected}): show it again and retry"
        )


def copy_availability(
    tx: Tx, user_ref: str, source: date, targets: list[date], *, force: bool = False
) -> ScheduleChangeView:
    """Copy one week's availability onto each target week (a weekly template)."""
    teacher = find_user(tx, user_ref, role=Role.TEACHER)
    assert teacher.id is not None
    if source in targets:
        raise InputError(f"--to includes the source week {format_week(source)}")
    tx.lock(weeks=[(teacher.id, w) for w in targets], read_weeks=[(teacher.id, source)])
    grid, zone = tx.settings.grid, tx.settings.zone
    template = tx.locked_weeks.week((teacher.id, source))
    changed, skipped = 0, []
    closing: dict[tuple[date, int], set[int]] = {}
    for week in targets:
        availability = tx.locked_weeks.week((teacher.id, week))
        for day in range(7):
            missing = grid.missing_slots(zone, week, day, 0, grid.slots_per_day)
            skipped += [
                f"{_day_label(week, day)} {grid.format_range(slot, slot + 1)}"
                for slot in missing
                if template.is_open(day, slot)
            ]
            wanted = template.with_slots(day, missing, open_=False)  # no such time: closed
            every = range(grid.slots_per_day)
            closing[(week, day)] = {
                slot
                for slot in every
                if availability.is_open(day, slot) and not wanted.is_open(day, slot)
            }
            changed += sum(
                1 for slot in every if availability.is_open(day, slot) != wanted.is_open(day, slot)
            )
            availability = availability.with_day(day, wanted.day(day))
        tx.locked_weeks.store((teacher.id, week), availability)
    kept = _guard_closing(tx, teacher, closing, force)
    stamps = {format_week(w): tx.locked_weeks[(teacher.id, w)].stamp for w in targets}
    tx.audit(
        f"availability {teacher.handle}",
        users=[teacher.id],
        action="copy",
        source=format_week(source),
        weeks=list(stamps),
        changed_slots=changed,
        lessons_kept=kept,
    )
    return ScheduleChangeView(
        user=teacher.handle,
        action="copy",
        weeks=list(stamps),
        stamps=stamps,
        changed_slots=changed,
        skipped=skipped,
        lessons_kept=kept,
    )


def show_schedule(tx: Tx, user_ref: str, week: date, with_ref: str | None = None) -> ScheduleView:
    """The week of a person (and optionally another, overlaid): 2 indexed queries."""
    user = find_user(tx, user_ref)
    other = find_user(tx, with_ref) if with_ref else None
    assert user.id is not None
    ids = [user.id] + ([other.id] if other is not None and other.id is not None else [])
    rows = {
        row.user_id: row
        for row in tx.orm.exec(
            select(CalendarWeek).where(
                col(CalendarWeek.user_id).in_(ids), CalendarWeek.week == week
            )
        )
    }
    blank = WeekAvailability.empty(tx.settings.grid.slots_per_day)
    mine_week = WeekAvailability.from_row(rows[user.id]) if user.id in rows else blank
    their_week = None
    if other is not None:
        their_week = WeekAvailability.from_row(rows[other.id]) if other.id in rows else blank
    lessons = week_lessons(tx, ids, week)
    grid, zone = tx.settings.grid, tx.settings.zone
    days: list[DayView] = []
    for day in range(7):
        missing = set(grid.missing_slots(zone, week, day, 0, grid.slots_per_day))
        by_slot: dict[int, list[int]] = {}
        for lesson in lessons:
            if lesson.day == day:
                first, last = _slot_span(tx, lesson)
                for slot in range(first, last):
                    by_slot.setdefault(slot, []).append(lesson.id)
        slots = [
            SlotView(
                time=grid.format_slot(slot),
                exists=slot not in missing,
                open=mine_week.is_open(day, slot),
                lesson_ids=by_slot.get(slot, []),
                with_open=their_week.is_open(day, slot) if their_week is not None else None,
            )
            for slot in range(grid.slots_per_day)
        ]
        days.append(
            DayView(
                date=(week + timedelta(days=day)).isoformat(),
                name=DAY_NAMES[day].capitalize(),
                slots=slots,
            )
        )
    return ScheduleView(
        week=format_week(week),
        week_start=week.isoformat(),
        timezone=tx.settings.timezone,
        slot_minutes=tx.settings.slot_minutes,
        user=person(user),
        stamp=rows[user.id].stamp if user.id in rows else 0,
        days=days,
        lessons=lessons,
        with_user=person(other) if other is not None else None,
        with_stamp=(rows[other.id].stamp if other.id in rows else 0) if other is not None else None,
    )

"""The week grid as plain rows and cells: a pure function of a ``ScheduleView``.

Readable without colour: every cell says what it is in words or signs; the ``kind`` lets the
renderer add colour where the terminal has some.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorctl.core.status import LessonStatus
from tutorctl.core.views import LessonView, ScheduleView, SlotView

CLOSED = "·"
OPEN = "open"
MISSING = "n/a"
CONTINUED = "┆"


@dataclass(frozen=True)
class Cell:
    text: str
    kind: str  # closed | open | missing | booked | held | done | pending | busy | teacher-open


@dataclass(frozen=True)
class GridRow:
    label: str
    cells: list[Cell]

    @property
    def empty(self) -> bool:
        """Nothing to show: every cell closed. A row with a time that does not exist (DST,
        ``n/a``) is never folded away, so the grid always says why that hour is missing."""
        return all(c.kind == "closed" for c in self.cells)


@dataclass(frozen=True)
class WeekGrid:
    title: str
    headers: list[str]
    rows: list[GridRow]
    legend: str


def _lesson_text(lesson: LessonView, viewer_id: int) -> str:
    other = lesson.student if lesson.teacher_id == viewer_id else lesson.teacher
    if lesson.teacher_id != viewer_id and lesson.student_id != viewer_id:
        other = f"{lesson.teacher}>{lesson.student}"
    text = f"{other} {lesson.category}"
    if lesson.pending:
        return f"{text} ({lesson.pending}?)"
    if lesson.status in (LessonStatus.HELD, LessonStatus.DONE):
        return f"{text} ({lesson.status})"
    return text


def _lesson_kind(lesson: LessonView) -> str:
    if lesson.pending:
        return "pending"
    return lesson.status


def week_grid(view: ScheduleView, fold: bool = True) -> WeekGrid:
    lessons = {lesson.id: lesson for lesson in view.lessons}
    viewer = view.user.id
    slot_count = len(view.days[0].slots) if view.days else 0
    rows: list[GridRow] = []
    for index in range(slot_count):
        cells: list[Cell] = []
        for day in view.days:
            slot = day.slots[index]
            cells.append(_cell(slot, index, day.slots, lessons, viewer, view.with_user is not None))
        end = (index + 1) * view.slot_minutes
        rows.append(
            GridRow(f"{view.days[0].slots[index].time}-{end // 60:02d}:{end % 60:02d}", cells)
        )
    if fold:
        rows = _fold(rows)
    with_part = ""
    if view.with_user is not None:
        with_part = f" with {view.with_user.handle} (stamp {view.with_stamp})"
    title = (
        f"{view.user.handle} ({view.user.role}) · {view.week} · {view.days[0].date} → "
        f"{view.days[-1].date} · stamp {view.stamp}{with_part} · {view.timezone}"
    )
    headers = [f"{day.name} {day.date[5:]}" for day in view.days]
    legend = f"{OPEN}: open | {CLOSED}: closed | {MISSING}: no such time (DST) | {CONTINUED}: lesson continues"
    if view.with_user is not None:
        handle = view.with_user.handle
        legend += f" | free: {handle} is open | busy: {handle} is taken"
    return WeekGrid(title=title, headers=["time", *headers], rows=rows, legend=legend)


def _cell(
    slot: SlotView,
    index: int,
    day_slots: list[SlotView],
    lessons: dict[int, LessonView],
    viewer: int,
    overlay: bool,
) -> Cell:
    if not slot.exists:
        return Cell(MISSING, "missing")
    own = [
        lessons[i]
        for i in slot.lesson_ids
        if i in lessons and viewer in (lessons[i].teacher_id, lessons[i].student_id)
    ]
    others = [lessons[i] for i in slot.lesson_ids if i in lessons and lessons[i] not in own]
    if own:
        lesson = own[0]
        if index > 0 and lesson.id in day_slots[index - 1].lesson_ids:
            return Cell(CONTINUED, _lesson_kind(lesson))
        return Cell(_lesson_text(lesson, viewer), _lesson_kind(lesson))
    if overlay:
        if others:
            return Cell("busy", "busy")
        if slot.with_open:
            return Cell("free", "teacher-open")
        return Cell(CLOSED, "closed")
    return Cell(OPEN, "open") if slot.open else Cell(CLOSED, "closed")


def _fold(rows: list[GridRow]) -> list[GridRow]:
    """Collapse each run of two or more empty rows into one row spanning their times."""
    folded: list[GridRow] = []
    run: list[GridRow] = []

    def flush() -> None:
        if len(run) >= 2:
            label = f"{run[0].label.split('-')[0]}-{run[-1].label.split('-')[1]}"
            folded.append(GridRow(label, [Cell("", "closed") for _ in run[0].cells]))
        else:
            folded.extend(run)
        run.clear()

    for row in rows:
        if row.empty:
            run.append(row)
        else:
            flush()
            folded.append(row)
    flush()
    return folded

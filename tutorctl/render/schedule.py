"""The `schedule` commands: week grids, availability changes and a teacher's day off."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.grid import week_grid
from tutorctl.core.money import format_amount
from tutorctl.core.status import LessonStatus
from tutorctl.core.views import ScheduleChangeView, ScheduleView, TeacherOffView
from tutorctl.render.base import hours, render
from tutorctl.render.week import render_week


@render.register
def _(view: ScheduleView) -> RenderableType:
    return render_week(week_grid(view))


@render.register
def _(view: ScheduleChangeView) -> RenderableType:
    verb = {"open": "opened", "close": "closed", "copy": "copied"}[view.action]
    lines = [
        f"{view.user}: {verb} {view.changed_slots} slot(s) in "
        + ", ".join(f"{w} (stamp {view.stamps[w]})" for w in view.weeks)
    ]
    if view.skipped:
        lines.append("left closed, no such time (DST): " + ", ".join(view.skipped))
    if view.lessons_kept:
        lines.append(
            "lessons kept outside availability (--force): " + ", ".join(map(str, view.lessons_kept))
        )
    return Text("\n".join(lines))


@render.register
def _(view: TeacherOffView) -> RenderableType:
    title = (
        f"{view.teacher} off on {view.date} {view.hours} ({view.reason}): "
        f"{view.closed_slots} slot(s) closed"
    )
    if not view.lessons:
        return Text(title + "; no lesson there")
    table = Table(title=title, title_justify="left")
    for name in ("lesson", "student", "time", "was", "now", "session", "refunded"):
        table.add_column(name, justify="right" if name in ("lesson", "session") else "left")
    for line in view.lessons:
        back = []
        if line.refunded_cents:
            back.append(format_amount(line.refunded_cents, view.currency) + " to the balance")
        if line.refunded_minutes:
            back.append(f"{hours(line.refunded_minutes)} to the package")
        table.add_row(
            str(line.lesson_id),
            line.student,
            f"{line.start}-{line.end}",
            line.was,
            line.action,
            str(line.session_id or ""),
            ", ".join(back)
            or ("nothing to refund" if line.action == LessonStatus.CANCELLED else ""),
        )
    return table

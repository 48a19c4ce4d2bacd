"""Rich renderables for every read model (``render(view)``), and the console to print them."""

from __future__ import annotations

import sys
from functools import singledispatch
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.grid import week_grid
from tutorctl.core.money import format_amount
from tutorctl.core.views import (
    BookingResultView,
    CategoryListView,
    CategoryView,
    DbInfoView,
    DbInitView,
    HistoryView,
    LessonView,
    ScheduleChangeView,
    ScheduleView,
    SessionListView,
    SessionView,
    SettingsView,
    UserListView,
    UserView,
)
from tutorctl.render.grid import render_week


def make_console(file: Any = None) -> Console:
    return Console(file=file or sys.stdout, highlight=False, soft_wrap=False)


@singledispatch
def render(view: Any) -> RenderableType:
    return Text(str(view))


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=title, show_header=False, box=None, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    return table


def _settings_rows(s: SettingsView) -> list[tuple[str, str]]:
    return [
        ("timezone", s.timezone),
        ("slot length", f"{s.slot_minutes} min"),
        ("currency", s.currency),
        ("hold time", f"{s.hold_minutes} min"),
        ("payment time", f"{s.payment_minutes} min"),
        ("cancel notice", f"{s.cancel_notice_hours} h"),
        ("minimum booking notice", f"{s.min_notice_hours} h"),
    ]


@render.register
def _(view: DbInfoView) -> RenderableType:
    rows = [
        ("database", view.url),
        ("engine", view.dialect),
        ("schema version", str(view.schema_version)),
    ]
    return _pairs("tutorctl database", rows + _settings_rows(view.settings))


@render.register
def _(view: DbInitView) -> RenderableType:
    if view.schema_version_before is None:
        what = f"created schema version {view.schema_version}"
    elif view.schema_version_before < view.schema_version:
        what = f"upgraded schema {view.schema_version_before} → {view.schema_version}"
    else:
        what = f"schema version {view.schema_version} is current"
    rows = [("database", view.url), ("schema", what)]
    return _pairs("tutorctl db init", rows + _settings_rows(view.settings))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


@render.register
def _(view: UserView) -> RenderableType:
    rows = [
        ("id", str(view.id)),
        ("handle", view.handle),
        ("name", view.name),
        ("role", view.role),
        ("active", _yes(view.active)),
    ]
    if view.balance_cents is not None and view.currency:
        rows.append(("balance", format_amount(view.balance_cents, view.currency)))
    return _pairs(f"user {view.handle}", rows)


@render.register
def _(view: UserListView) -> RenderableType:
    table = Table(title="users", title_justify="left")
    for name in ("id", "handle", "name", "role", "active"):
        table.add_column(name, justify="right" if name == "id" else "left")
    for u in view.users:
        table.add_row(str(u.id), u.handle, u.name, u.role, _yes(u.active))
    if not view.users:
        return Group(table, Text("no users yet: add one with `tutorctl user add`"))
    return table


@render.register
def _(view: CategoryView) -> RenderableType:
    return _pairs(
        f"category {view.name}",
        [
            ("id", str(view.id)),
            ("name", view.name),
            ("price per hour", format_amount(view.price_cents, view.currency)),
            ("active", _yes(view.active)),
        ],
    )


@render.register
def _(view: CategoryListView) -> RenderableType:
    table = Table(title="categories", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("name")
    table.add_column("price per hour", justify="right")
    table.add_column("active")
    for c in view.categories:
        table.add_row(str(c.id), c.name, format_amount(c.price_cents, c.currency), _yes(c.active))
    return table


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


def lesson_line(lesson: LessonView) -> str:
    return (
        f"#{lesson.id} {lesson.teacher} → {lesson.student} · {lesson.category} · "
        f"{lesson.date} {lesson.start}-{lesson.end} ({lesson.duration_minutes} min) · {lesson.status}"
    )


@render.register
def _(view: BookingResultView) -> RenderableType:
    verb = {"reserve": "held", "cancel": "cancel planned", "move": "move planned, new place held"}[
        view.kind
    ]
    head = (
        f"{verb} in session {view.session_id} (operation {', '.join(map(str, view.operation_ids))})"
    )
    if view.replayed:
        head += " — replayed: this key was already used, nothing new was booked"
    lines = [head, *("  " + lesson_line(lesson) for lesson in view.lessons)]
    lines.append(f"next: tutorctl session resume {view.session_id}, then pay or confirm it")
    return Text("\n".join(lines))


@render.register
def _(view: SessionView) -> RenderableType:
    title = f"session {view.id} · {view.student} · {view.status}"
    if view.expires_at:
        title += f" · expires {view.expires_at[:16].replace('T', ' ')}"
    table = Table(title=title, title_justify="left")
    for name in ("op", "kind", "status", "lesson", "target"):
        table.add_column(name)
    for op in view.operations:
        table.add_row(
            str(op.id),
            op.kind,
            op.status,
            lesson_line(op.lesson) if op.lesson else "",
            lesson_line(op.target) if op.target else "",
        )
    if not view.operations:
        return Group(table, Text("nothing planned yet"))
    return table


@render.register
def _(view: SessionListView) -> RenderableType:
    table = Table(title="booking sessions", title_justify="left")
    for name in ("id", "student", "status", "pending ops", "created", "last activity"):
        table.add_column(name)
    for s in view.sessions:
        table.add_row(
            str(s.id),
            s.student,
            s.status,
            str(s.pending_operations),
            s.created_at[:16].replace("T", " "),
            s.touched_at[:16].replace("T", " "),
        )
    return table


@render.register
def _(view: HistoryView) -> RenderableType:
    table = Table(title="history", title_justify="left")
    for name in ("id", "at", "actor", "command", "subject", "session"):
        table.add_column(name)
    for h in view.entries:
        table.add_row(
            str(h.id),
            h.at[:19].replace("T", " "),
            h.actor,
            h.command,
            h.subject,
            str(h.session_id) if h.session_id else "",
        )
    return table

"""Booking sessions, what reserve / cancel / move did, and the history."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from tutorctl.core.status import OperationKind
from tutorctl.core.views import (
    BookingResultView,
    HistoryView,
    SessionListView,
    SessionSummaryView,
    SessionView,
)
from tutorctl.render.base import listing, minute, render
from tutorctl.render.lessons import lesson_line


@render.register
def _(view: BookingResultView) -> RenderableType:
    verb = {
        OperationKind.RESERVE: "held",
        OperationKind.CANCEL: "cancel planned",
        OperationKind.MOVE: "move planned, new place held",
    }[OperationKind(view.kind)]
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
        title += f" · expires {minute(view.expires_at)}"
    table = listing(
        title,
        ("op", "kind", "status", "lesson", "target"),
        (
            (
                str(op.id),
                op.kind + (" (notice waived)" if op.waive_notice else ""),
                op.status + (f": {op.note}" if op.note else ""),
                lesson_line(op.lesson) if op.lesson else "",
                lesson_line(op.target) if op.target else "",
            )
            for op in view.operations
        ),
    )
    if not view.operations:
        return Group(table, Text("nothing planned yet"))
    return table


@render.register
def _(view: SessionListView) -> RenderableType:
    columns = ("id", "student", "status", "pending ops", "created", "last activity")
    return listing("booking sessions", columns, map(_session_row, view.sessions))


def _session_row(s: SessionSummaryView) -> tuple[str, ...]:
    created, touched = minute(s.created_at), minute(s.touched_at)
    return str(s.id), s.student, s.status, str(s.pending_operations), created, touched


@render.register
def _(view: HistoryView) -> RenderableType:
    table = listing("history", ("id", "at", "actor", "command", "subject", "session"), ())
    for h in view.entries:
        session = str(h.session_id) if h.session_id else ""
        table.add_row(
            str(h.id), h.at[:19].replace("T", " "), h.actor, h.command, h.subject, session
        )
    return table

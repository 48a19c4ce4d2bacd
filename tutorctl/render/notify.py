"""Messages to people: `notify list|show|send|retry`, `session receipt`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.views import (
    MessageListView,
    MessageShowView,
    MessageView,
    NotifySendView,
    ReceiptView,
    RetryView,
)
from tutorctl.render.base import minute, render


@render.register
def _(view: MessageListView) -> RenderableType:
    table = Table(title="messages", title_justify="left")
    for name in ("id", "kind", "status", "to", "session", "subject", "note"):
        table.add_column(name, justify="right" if name in ("id", "session") else "left")
    for m in view.messages:
        table.add_row(
            str(m.id), m.kind, m.status, m.user, str(m.session_id or ""), m.subject, _note(m)
        )
    if not view.messages:
        return Group(table, Text("no messages"))
    return table


def _note(m: MessageView) -> str:
    """When a message waiting after a failed attempt is tried next (in the school's zone),
    then the server's last answer or why it was not sent; nothing for a sent one."""
    parts = [f"next {minute(m.next_attempt_at)}"] if m.next_attempt_at and m.attempts else []
    return "; ".join(parts + ([m.last_error] if m.last_error else []))


@render.register
def _(view: MessageShowView) -> RenderableType:
    m = view.message
    head = Text(f"message {m.id}: {m.kind}, {m.status}, {m.attempts} attempt(s)")
    if m.last_error:
        head.append(f" — {m.last_error}")
    return Group(head, Text(""), Text(view.text))


@render.register
def _(view: NotifySendView) -> RenderableType:
    what = "would send" if view.dry_run else "sent"
    line = (
        f"notify send{' (dry run)' if view.dry_run else ''} via {view.smtp or 'no SMTP server'}: "
        f"{view.reminders_queued} reminder(s) queued; "
        f"{view.sent if not view.dry_run else len(view.messages) - view.obsolete} {what}, "
        f"{view.retried} to retry, {view.failed} failed, {view.obsolete} obsolete"
    )
    parts: list[RenderableType] = [Text(line)]
    for m in view.messages:
        parts.append(Text(f"  {m.id} {m.kind} {m.to_address}: {m.status}"
                          + (f" ({m.answer})" if m.answer else "")))  # fmt: skip
    if view.unlisted:
        parts.append(Text(f"  … and {view.unlisted} more (see `tutorctl notify list`)"))
    # view.stopped (the server unreachable or gone) is the `error: …` line on stderr, exit 4
    return Group(*parts)


@render.register
def _(view: RetryView) -> RenderableType:
    if not view.ids:
        return Text("nothing to retry")
    return Text(f"queued again: {', '.join(map(str, view.ids))}")


@render.register
def _(view: ReceiptView) -> RenderableType:
    return Group(Text(f"receipt of session {view.session_id} ({view.student}, {view.status})"),
                 Text(""), Text(view.text))  # fmt: skip

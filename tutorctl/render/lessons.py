"""A lesson: its one-line form and `lesson show`."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_amount
from tutorctl.core.status import FundingSource
from tutorctl.core.views import LessonDetailView, LessonView
from tutorctl.render.base import hours, minute, pairs, render


def lesson_line(lesson: LessonView) -> str:
    return (
        f"#{lesson.id} {lesson.teacher} → {lesson.student} · {lesson.category} · "
        f"{lesson.date} {lesson.start}-{lesson.end} ({lesson.duration_minutes} min) · {lesson.status}"
    )


@render.register
def _(view: LessonDetailView) -> RenderableType:
    lesson, c = view.lesson, view.currency
    flags = [
        flag for flag, on in (("unfunded", view.unfunded), ("late cancel", view.late_cancel)) if on
    ]
    head = pairs(
        f"lesson {lesson.id}",
        [
            ("teacher", lesson.teacher),
            ("student", lesson.student),
            ("category", lesson.category),
            (
                "when",
                f"{lesson.date} {lesson.start}-{lesson.end} ({hours(lesson.duration_minutes)})",
            ),
            ("status", lesson.status + (f" ({', '.join(flags)})" if flags else "")),
            ("price", format_amount(lesson.price_cents, c)),
        ],
    )
    funding = Table(title="funding", title_justify="left")
    for name in ("from", "hours", "amount"):
        funding.add_column(name, justify="left" if name == "from" else "right")
    for part in view.funding:
        names: dict[str, str] = {
            FundingSource.PURCHASE: f"package {part.purchase_id}",
            FundingSource.BALANCE: "the balance",
            FundingSource.PAYMENT: f"payment {part.payment_id}" if part.payment_id else "a payment",
        }
        source = names.get(part.source, part.source)
        amount = (
            "" if part.source == FundingSource.PURCHASE else format_amount(part.amount_cents, c)
        )
        funding.add_row(source, hours(part.minutes), amount)
    story = Table(title="story", title_justify="left")
    for name in ("when", "what", "session", "op"):
        story.add_column(name, justify="right" if name in ("session", "op") else "left")
    for e in view.events:
        story.add_row(minute(e.at), e.what, str(e.session_id or ""), str(e.operation_id or ""))
    parts: list[RenderableType] = [head]
    parts.append(funding if view.funding else Text("funding: none recorded"))
    parts.append(story)
    return Group(*parts)

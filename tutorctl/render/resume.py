"""The payment resume of a session, section by section."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_amount
from tutorctl.core.views import PackageHoursView, ResumeView
from tutorctl.render.base import hours, render
from tutorctl.render.money import packages


def _amount(cents: int) -> str:
    return format_amount(cents, "").strip()


def _short_date(iso: str) -> str:
    """``2026-11-26`` → ``Thu 11-26``, as the week grid names its days."""
    from datetime import date

    return f"{date.fromisoformat(iso):%a %m-%d}"


def _package_cell(lines: list[PackageHoursView], credit: bool = False) -> str:
    """``#1 2 h`` per package (``, 1 h on credit`` for owed hours taken)."""
    cells = []
    for p in lines:
        cell = f"#{p.purchase_id} {hours(p.minutes)}"
        if credit and p.on_credit_minutes:
            cell += f" ({hours(p.on_credit_minutes)} on credit)"
        cells.append(cell)
    return "\n".join(cells)


def _some(cents: int) -> str:
    """An amount, or nothing for zero."""
    return _amount(cents) if cents else ""


def _section(
    columns: list[str], numeric: set[str], rows: list[list[str]], total: list[str]
) -> Table:
    """A resume section's table: aligned columns (numbers right), the ``total`` as a footer
    when there is more than one row; plain rules, so it reads the same piped or without
    colour."""
    footer = len(rows) > 1
    table = Table(box=box.SIMPLE_HEAD if not footer else box.SIMPLE, show_footer=footer)
    for name in columns:
        table.add_column(name, justify="right" if name in numeric else "left")
    for row in rows:
        table.add_row(*row)
    if footer:
        for column, value in zip(table.columns, total, strict=True):
            column.footer = value
    return table


def _cancellations(view: ResumeView) -> list[RenderableType]:
    if not view.cancellations and not view.moves:
        return [Text("   No lesson is cancelled or moved.")]
    parts: list[RenderableType] = []
    if view.cancellations:
        t = view.cancellation_totals
        back = t.refunded_minutes_to_purchases
        parts.append(
            _section(
                ["teacher", "category", "lessons", "hours", "to package", "to account", "late"],
                {"lessons", "hours", "to account", "late"},
                [
                    [
                        g.teacher,
                        g.category,
                        str(g.lessons),
                        hours(g.minutes),
                        _package_cell(g.to_purchases),
                        _some(g.refunded_cents_to_balance),
                        f"{g.late_lessons}: not refunded" if g.late_lessons else "",
                    ]
                    for g in view.cancellations
                ],
                [
                    "total",
                    "",
                    str(t.lessons),
                    hours(t.minutes),
                    hours(back) if back else "",
                    _some(t.refunded_cents_to_balance),
                    str(t.late_lessons) if t.late_lessons else "",
                ],
            )
        )
    if view.moves:
        parts.append(_moves(view))
    return parts


def _moves(view: ResumeView) -> Table:
    table = Table(title="   Moves:", title_justify="left", box=box.SIMPLE_HEAD)
    for name in ("lesson", "from", "to", "change"):
        table.add_column(name, no_wrap=True)
    for m in view.moves:
        if m.change == "same length":
            what = "same length"
        elif m.change == "longer":
            what = f"+{hours(m.new_minutes - m.old_minutes)}: see 4."
        else:
            what = f"-{hours(m.old_minutes - m.new_minutes)}: refunded"
        table.add_row(
            f"{m.lesson_id} → {m.new_lesson_id}",
            f"{_short_date(m.from_date)} {m.from_time}",
            f"{_short_date(m.to_date)} {m.to_time}",
            what,
        )
    return table


def _new_lessons(view: ResumeView) -> list[RenderableType]:
    if not view.new_lessons:
        return [Text("   No new lesson.")]
    t = view.new_lesson_totals
    from_packages = hours(t.from_purchases_minutes) if t.from_purchases_minutes else ""
    if t.on_credit_minutes:
        from_packages += f" ({hours(t.on_credit_minutes)} on credit)"
    table = _section(
        [
            "teacher",
            "category",
            "lessons",
            "hours",
            "price",
            "from package",
            "from account",
            "to pay",
        ],
        {"lessons", "hours", "price", "from account", "to pay"},
        [
            [
                n.teacher,
                n.category,
                str(n.lessons),
                hours(n.minutes),
                _amount(n.price_cents),
                _package_cell(n.from_purchases, credit=True),
                _some(n.from_balance_cents),
                _some(n.external_cents),
            ]
            for n in view.new_lessons
        ],
        [
            "total",
            "",
            str(t.lessons),
            hours(t.minutes),
            _amount(t.price_cents),
            from_packages,
            _some(t.from_balance_cents),
            _some(t.external_cents),
        ],
    )
    return [table]


@render.register
def _(view: ResumeView) -> RenderableType:
    c = view.currency
    parts: list[RenderableType] = [
        Text(
            f"Payment resume — session {view.session_id} · {view.student} · {view.status}",
            style="bold",
        ),
        Text(""),
        Text("1. Now", style="bold"),
        Text(
            f"   {view.student} has {format_amount(view.balance_before_cents, c)} on the account."
        ),
        packages(view.purchases_before, c),
    ]
    money = f" (amounts in {c})" if c else ""
    parts += [
        Text(""),
        Text("2. Cancellations and moves" + money, style="bold"),
        *_cancellations(view),
    ]
    parts += [
        Text(""),
        Text("3. After the cancellations", style="bold"),
        Text(
            f"   {view.student} will have {format_amount(view.balance_between_cents, c)} on the account."
        ),
        packages(view.purchases_between, c),
        Text(""),
        Text("4. New lessons" + money, style="bold"),
        *_new_lessons(view),
    ]
    parts += [
        Text(""),
        Text(f"5. To pay now: {format_amount(view.to_pay_cents, c)}", style="bold"),
        Text(f"   Balance after: {format_amount(view.balance_after_cents, c)}"),
    ]
    parts += [Text(f"   {note}") for note in view.notes]
    return Group(*parts)

"""Rich renderables for every read model (``render(view)``), and the console to print them."""

from __future__ import annotations

import sys
from functools import singledispatch
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.grid import week_grid
from tutorctl.core.money import format_amount
from tutorctl.core.views import (
    AccountView,
    BalancesReport,
    BookingResultView,
    CategoryListView,
    CategoryView,
    CheckView,
    DbInfoView,
    DbInitView,
    ExpireView,
    HistoryView,
    HoursReport,
    ImportView,
    LedgerView,
    LessonDetailView,
    LessonView,
    OccupancyReport,
    PackageHoursView,
    PayResultView,
    PurchaseLine,
    PurchaseListView,
    ReportPeriod,
    ResumeView,
    RevenueReport,
    ScheduleChangeView,
    ScheduleView,
    SessionListView,
    SessionView,
    SettingsView,
    TeacherOffView,
    UserListView,
    UserView,
)
from tutorctl.render.grid import render_week

ACCOUNT_ROW = "(account)"  # = tutorctl.services.reports.ACCOUNT_ROW (not imported: SQLAlchemy)


def make_console(file: Any = None) -> Console:
    """The console every view is printed on. Markup, emoji codes and highlighting are off:
    every string printed (titles, headers, cells, lines) is shown literally, so names,
    reasons, references and actors a user typed (``Jo [/b]``, ``piano [beginner]``,
    ``:smile:``) can never be read as rich markup (SPEC §6). Style with ``Text``/``Style``
    objects, never with markup."""
    return Console(
        file=file or sys.stdout, highlight=False, soft_wrap=False, markup=False, emoji=False
    )


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
            op.kind + (" (notice waived)" if op.waive_notice else ""),
            op.status + (f": {op.note}" if op.note else ""),
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


def hours(minutes: int) -> str:
    h, m = divmod(minutes, 60)
    if m == 0:
        return f"{h} h"
    return f"{h} h {m:02d}" if h else f"{m} min"


def _purchase_table(title: str, lines: list[PurchaseLine], currency: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    numeric = ("price", "bought", "used", "left", "owed")
    for name in ("id", "date", "teacher", "category", *numeric):
        label = f"price {currency}".strip() if name == "price" else name
        table.add_column(
            label, justify="right" if name in numeric else "left", no_wrap=name == "date"
        )
    for p in lines:
        table.add_row(
            str(p.id),
            p.date,
            p.teacher,
            p.category,
            format_amount(p.price_cents, "").strip(),
            hours(p.bought_minutes),
            hours(p.consumed_minutes),
            hours(p.remaining_minutes),
            hours(p.owed_minutes) if p.owed_minutes else "",
        )
    return table


def _packages(lines: list[PurchaseLine], currency: str) -> RenderableType:
    if not lines:
        return Text("   No package with hours left.")
    return _purchase_table("   Packages:", lines, currency)


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


def _section_table(columns: list[tuple[str, bool]], footer: bool) -> Table:
    """A resume section's table: aligned columns (numbers right), a totals footer when there
    is more than one line; plain rules, so it reads the same piped or without colour."""
    table = Table(box=box.SIMPLE_HEAD if not footer else box.SIMPLE, show_footer=footer)
    for name, numeric in columns:
        table.add_column(name, justify="right" if numeric else "left")
    return table


def _cancellations(view: ResumeView) -> list[RenderableType]:
    if not view.cancellations and not view.moves:
        return [Text("   No lesson is cancelled or moved.")]
    parts: list[RenderableType] = []
    if view.cancellations:
        t = view.cancellation_totals
        footer = len(view.cancellations) > 1
        table = _section_table(
            [
                ("teacher", False),
                ("category", False),
                ("lessons", True),
                ("hours", True),
                ("to package", False),
                ("to account", True),
                ("late", True),
            ],
            footer,
        )
        for g in view.cancellations:
            table.add_row(
                g.teacher,
                g.category,
                str(g.lessons),
                hours(g.minutes),
                _package_cell(g.to_purchases),
                _amount(g.refunded_cents_to_balance) if g.refunded_cents_to_balance else "",
                f"{g.late_lessons}: not refunded" if g.late_lessons else "",
            )
        if footer:
            values = [
                "total",
                "",
                str(t.lessons),
                hours(t.minutes),
                hours(t.refunded_minutes_to_purchases) if t.refunded_minutes_to_purchases else "",
                _amount(t.refunded_cents_to_balance) if t.refunded_cents_to_balance else "",
                str(t.late_lessons) if t.late_lessons else "",
            ]
            for column, value in zip(table.columns, values, strict=True):
                column.footer = value
        parts.append(table)
    if view.moves:
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
        parts.append(table)
    return parts


def _new_lessons(view: ResumeView) -> list[RenderableType]:
    if not view.new_lessons:
        return [Text("   No new lesson.")]
    t = view.new_lesson_totals
    footer = len(view.new_lessons) > 1
    table = _section_table(
        [
            ("teacher", False),
            ("category", False),
            ("lessons", True),
            ("hours", True),
            ("price", True),
            ("from package", False),
            ("from account", True),
            ("to pay", True),
        ],
        footer,
    )
    for n in view.new_lessons:
        table.add_row(
            n.teacher,
            n.category,
            str(n.lessons),
            hours(n.minutes),
            _amount(n.price_cents),
            _package_cell(n.from_purchases, credit=True),
            _amount(n.from_balance_cents) if n.from_balance_cents else "",
            _amount(n.external_cents) if n.external_cents else "",
        )
    if footer:
        packages = hours(t.from_purchases_minutes) if t.from_purchases_minutes else ""
        if t.on_credit_minutes:
            packages += f" ({hours(t.on_credit_minutes)} on credit)"
        values = [
            "total",
            "",
            str(t.lessons),
            hours(t.minutes),
            _amount(t.price_cents),
            packages,
            _amount(t.from_balance_cents) if t.from_balance_cents else "",
            _amount(t.external_cents) if t.external_cents else "",
        ]
        for column, value in zip(table.columns, values, strict=True):
            column.footer = value
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
        _packages(view.purchases_before, c),
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
        _packages(view.purchases_between, c),
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


@render.register
def _(view: PayResultView) -> RenderableType:
    line = f"session {view.session_id}: {view.status}"
    if view.payment_id is not None:
        line += f" · payment {view.payment_id} {view.payment_status} ({view.method}, {format_amount(view.amount_cents, view.currency)})"
    return Text(f"{line}\n{view.message}")


@render.register
def _(view: AccountView) -> RenderableType:
    return Group(
        Text(
            f"{view.student}: balance {format_amount(view.balance_cents, view.currency)}"
            + (
                f" ({format_amount(view.reserved_cents, view.currency)} reserved for a "
                "payment in progress)"
                if view.reserved_cents
                else ""
            ),
            style="bold",
        ),
        _packages(view.purchases, view.currency),
    )


@render.register
def _(view: PurchaseLine) -> RenderableType:
    return _purchase_table(f"package {view.id} of {view.student}", [view], "")


@render.register
def _(view: PurchaseListView) -> RenderableType:
    return _purchase_table("packages", view.purchases, view.currency)


@render.register
def _(view: LedgerView) -> RenderableType:
    table = Table(
        title=f"{view.student}: balance {format_amount(view.balance_cents, view.currency)}",
        title_justify="left",
    )
    for name in ("id", "at", "amount", "reason", "session", "lesson", "actor"):
        table.add_column(name, justify="right" if name == "amount" else "left")
    for e in view.entries:
        table.add_row(
            str(e.id),
            e.at[:16].replace("T", " "),
            format_amount(e.amount_cents, view.currency),
            e.reason,
            str(e.session_id or ""),
            str(e.reservation_id or ""),
            e.actor,
        )
    return table


@render.register
def _(view: CheckView) -> RenderableType:
    counted = ", ".join(f"{n} {k}" for k, n in view.checked.items())
    if view.ok:
        return Text(f"ok: every invariant holds ({counted})")
    return Text(
        "\n".join(
            [
                f"{len(view.violations)} violation(s) ({counted}):",
                *("  " + v for v in view.violations),
            ]
        )
    )


@render.register
def _(view: ExpireView) -> RenderableType:
    return Text(
        f"expired {view.expired_sessions} session(s), failed {view.failed_payments} stale payment(s), "
        f"released {view.released_holds} hold(s), marked {view.done_lessons} lesson(s) done "
        f"({view.batches} batch(es))"
    )


@render.register
def _(view: ImportView) -> RenderableType:
    verb = "would write" if view.dry_run else "wrote"
    extra = "".join(f", {k.replace('_', ' ')} {v}" for k, v in view.details.items())
    tail = " (dry run: nothing was written)" if view.dry_run else ""
    return Text(
        f"{view.file}: {view.rows} row(s) read, {verb} {view.written} {view.kind}{extra}{tail}"
    )


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
            ", ".join(back) or ("nothing to refund" if line.action == "cancelled" else ""),
        )
    return table


def _period(title: str, period: ReportPeriod) -> str:
    return f"{title} · {period.label} ({period.first_date} → {period.last_date})"


def _money(cents: int) -> str:
    return format_amount(cents, "").strip() if cents else "·"


def _h(minutes: int) -> str:
    return hours(minutes) if minutes else "·"


def _titled(table: Table, *notes: RenderableType) -> RenderableType:
    return Group(Text(str(table.caption), style="bold"), _uncaptioned(table), *notes)


def _uncaptioned(table: Table) -> Table:
    table.caption = None
    return table


def _report_table(title: str, columns: list[str], first: int = 1) -> Table:
    """A report's table, compact enough for 80 columns: the first ``first`` columns name the
    row, the rest are figures (right-aligned; a header may wrap, a figure is never cut)."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.caption = title  # printed above it by _titled (a table's title wraps to its width)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < first else "right", overflow="fold")
    return table


@render.register
def _(view: LessonDetailView) -> RenderableType:
    lesson, c = view.lesson, view.currency
    flags = [
        flag for flag, on in (("unfunded", view.unfunded), ("late cancel", view.late_cancel)) if on
    ]
    head = _pairs(
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
        source = {
            "purchase": f"package {part.purchase_id}",
            "balance": "the balance",
            "payment": f"payment {part.payment_id}" if part.payment_id else "a payment",
        }.get(part.source, part.source)
        amount = "" if part.source == "purchase" else format_amount(part.amount_cents, c)
        funding.add_row(source, hours(part.minutes), amount)
    story = Table(title="story", title_justify="left")
    for name in ("when", "what", "session", "op"):
        story.add_column(name, justify="right" if name in ("session", "op") else "left")
    for e in view.events:
        story.add_row(
            e.at[:16].replace("T", " "), e.what, str(e.session_id or ""), str(e.operation_id or "")
        )
    parts: list[RenderableType] = [head]
    parts.append(funding if view.funding else Text("funding: none recorded"))
    parts.append(story)
    return Group(*parts)


@render.register
def _(view: RevenueReport) -> RenderableType:
    by = f" by {view.by}" if view.by else ""
    table = _report_table(
        _period(f"revenue{by}", view.period) + f" · {view.currency}",
        [view.by or "", "payments", "packages", "credits", "taken", "refunded", "paid out", "net"],
    )
    shown = [r for r in view.rows if r.name != ACCOUNT_ROW or any(_revenue_figures(r))]
    for r in [*shown, view.total]:
        if r is view.total and shown:
            table.add_section()
        table.add_row(
            r.name,
            *(
                _money(c)
                for c in (
                    r.payments_cents,
                    r.package_payments_cents,
                    r.credits_cents,
                    r.taken_cents,
                    r.refunded_cents,
                    r.paid_out_cents,
                    r.net_cents,
                )
            ),
            style="bold" if r is view.total else None,
        )
    note = Text(
        "taken = payments + packages + credits; net = taken − paid out; refunds went back to "
        "balances (see report balances)"
        + (
            f"; {ACCOUNT_ROW}: money of no lesson (credits, debits, surpluses)"
            if view.by in ("teacher", "category")
            else ""
        )
    )
    return _titled(table, note)


@render.register
def _(view: HoursReport) -> RenderableType:
    table = _report_table(
        _period(f"lesson hours by {view.by}", view.period),
        [view.by, "lessons", "booked", "done", "cancelled", "late cancelled", "moved", "payable"],
    )
    for r in [*view.rows, view.total]:
        if r is view.total and view.rows:
            table.add_section()
        table.add_row(
            r.name,
            str(r.lessons),
            *(
                _h(m)
                for m in (
                    r.booked_minutes,
                    r.done_minutes,
                    r.cancelled_minutes,
                    r.late_cancelled_minutes,
                    r.moved_minutes,
                    r.payable_minutes,
                )
            ),
            style="bold" if r is view.total else None,
        )
    return _titled(
        table,
        Text(
            "by the date of the lesson; lessons = booked + done; payable = done + late-cancelled; "
            "moved = the old place of a moved lesson"
        ),
    )


@render.register
def _(view: BalancesReport) -> RenderableType:
    table = _report_table(
        f"balances · {view.as_of[:16].replace('T', ' ')} · {view.currency}",
        ["student", "name", "balance", "reserved", "available", "owed hours", "owed"],
        first=2,
    )
    for r in [*view.rows, view.total]:
        if r is view.total and view.rows:
            table.add_section()
        table.add_row(
            r.student,
            r.name,
            _money(r.balance_cents),
            _money(r.reserved_cents),
            _money(r.available_cents),
            _h(r.owed_minutes),
            _money(r.owed_cents),
            style="bold" if r is view.total else None,
        )
    if not view.rows:
        return Text("no student has money on the account, reserved money or hours owed")
    return _titled(
        table,
        Text(
            "balance: the school owes it to the student (to spend or pay back); reserved: held "
            "by a payment in progress; owed: package hours sold on credit, not paid yet"
        ),
    )


def _revenue_figures(r: Any) -> tuple[int, ...]:
    return (r.taken_cents, r.refunded_cents, r.paid_out_cents)


def _occupied(open_minutes: int, booked: int, held: int) -> str:
    """``12/40 30%`` (booked/open hours, booked share of open), ``+2 held`` below."""
    if not (open_minutes or booked or held):
        return ""
    cell = f"{booked / 60:g}/{open_minutes / 60:g}"
    if open_minutes:
        cell += f" {round(100 * booked / open_minutes)}%"
    if held:
        cell += f"\n+{held / 60:g} held"
    return cell


@render.register
def _(view: OccupancyReport) -> RenderableType:
    table = _report_table(_period("occupancy", view.period), ["teacher", *view.weeks, "total"])
    cells: dict[str, dict[str, tuple[int, int, int]]] = {}
    for r in view.rows:
        cells.setdefault(r.teacher, {})[r.week] = (r.open_minutes, r.booked_minutes, r.held_minutes)
    for teacher, weeks in cells.items():
        total = tuple(sum(v[i] for v in weeks.values()) for i in range(3))
        table.add_row(
            teacher,
            *(_occupied(*weeks.get(w, (0, 0, 0))) for w in view.weeks),
            _occupied(*total),
            style=None,
        )
    if not cells:
        return _titled(table, Text("no open or booked hours in this period"))
    return _titled(
        table,
        Text(
            "cells: booked / open hours, booked share of open; booked = booked + done "
            "lessons; held = chosen in a session, not paid yet; only the days inside the "
            "period count"
        ),
    )

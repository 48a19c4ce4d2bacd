"""Accounts, ledgers, packages and payments."""

from __future__ import annotations

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_amount
from tutorctl.core.views import (
    AccountView,
    LedgerView,
    PayResultView,
    PurchaseLine,
    PurchaseListView,
)
from tutorctl.render.base import hours, minute, render


def purchase_table(title: str, lines: list[PurchaseLine], currency: str) -> Table:
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


def packages(lines: list[PurchaseLine], currency: str) -> RenderableType:
    if not lines:
        return Text("   No package with hours left.")
    return purchase_table("   Packages:", lines, currency)


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
        packages(view.purchases, view.currency),
    )


@render.register
def _(view: PurchaseLine) -> RenderableType:
    return purchase_table(f"package {view.id} of {view.student}", [view], "")


@render.register
def _(view: PurchaseListView) -> RenderableType:
    return purchase_table("packages", view.purchases, view.currency)


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
            minute(e.at),
            format_amount(e.amount_cents, view.currency),
            e.reason,
            str(e.session_id or ""),
            str(e.reservation_id or ""),
            e.actor,
        )
    return table

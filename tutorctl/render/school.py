"""The school's own things: the database and its settings, users and categories."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from tutorctl.core.money import format_amount
from tutorctl.core.views import (
    CategoryListView,
    CategoryView,
    DbInfoView,
    DbInitView,
    SettingsView,
    UserListView,
    UserView,
)
from tutorctl.render.base import pairs, render, yes


def _settings_rows(s: SettingsView) -> list[tuple[str, str]]:
    return [
        ("timezone", s.timezone),
        ("slot length", f"{s.slot_minutes} min"),
        ("currency", s.currency),
        ("hold time", f"{s.hold_minutes} min"),
        ("payment time", f"{s.payment_minutes} min"),
        ("cancel notice", f"{s.cancel_notice_hours} h"),
        ("minimum booking notice", f"{s.min_notice_hours} h"),
        ("notifications", "on" if s.notifications else "off"),
        ("mail from", s.mail_from or "-"),
        ("reminders", f"{s.reminder_hours} h before" if s.reminder_hours else "none"),
    ]


@render.register
def _(view: DbInfoView) -> RenderableType:
    rows = [
        ("database", view.url),
        ("engine", view.dialect),
        ("schema version", str(view.schema_version)),
    ]
    return pairs("tutorctl database", rows + _settings_rows(view.settings))


@render.register
def _(view: DbInitView) -> RenderableType:
    if view.schema_version_before is None:
        what = f"created schema version {view.schema_version}"
    elif view.schema_version_before < view.schema_version:
        what = f"upgraded schema {view.schema_version_before} → {view.schema_version}"
    else:
        what = f"schema version {view.schema_version} is current"
    rows = [("database", view.url), ("schema", what)]
    return pairs("tutorctl db init", rows + _settings_rows(view.settings))


@render.register
def _(view: UserView) -> RenderableType:
    rows = [
        ("id", str(view.id)),
        ("handle", view.handle),
        ("name", view.name),
        ("role", view.role),
        ("active", yes(view.active)),
        ("email", view.email or "-"),
        ("messages", "yes" if view.notify and view.email else "no"),
    ]
    if view.balance_cents is not None and view.currency:
        rows.append(("balance", format_amount(view.balance_cents, view.currency)))
    return pairs(f"user {view.handle}", rows)


@render.register
def _(view: UserListView) -> RenderableType:
    table = Table(title="users", title_justify="left")
    for name in ("id", "handle", "name", "role", "active"):
        table.add_column(name, justify="right" if name == "id" else "left")
    for u in view.users:
        table.add_row(str(u.id), u.handle, u.name, u.role, yes(u.active))
    if not view.users:
        return Group(table, Text("no users yet: add one with `tutorctl user add`"))
    return table


@render.register
def _(view: CategoryView) -> RenderableType:
    return pairs(
        f"category {view.name}",
        [
            ("id", str(view.id)),
            ("name", view.name),
            ("price per hour", format_amount(view.price_cents, view.currency)),
            ("active", yes(view.active)),
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
        table.add_row(str(c.id), c.name, format_amount(c.price_cents, c.currency), yes(c.active))
    return table

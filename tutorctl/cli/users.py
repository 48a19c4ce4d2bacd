"""tutorctl user … and tutorctl category …"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tutorctl.cli import complete
from tutorctl.cli.state import Json, emit, read, write

users = typer.Typer(help="Teachers and students.", no_args_is_help=True)
categories = typer.Typer(help="Lesson categories and their hourly prices.", no_args_is_help=True)

UserArg = Annotated[
    str, typer.Argument(help="Handle or numeric id.", autocompletion=complete.people)
]


def _notify() -> Any:
    return typer.Option(
        "--notify/--no-notify", help="Whether they get messages (default: yes, with an email)."
    )


@users.command("add")
def user_add(
    handle: Annotated[str, typer.Argument(help="Unique handle: a-z 0-9 . _ -")],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[
        str,
        typer.Option(
            help="teacher or student.", metavar="<teacher|student>", autocompletion=complete.roles
        ),
    ],
    email: Annotated[str | None, typer.Option(help="Where their messages go.")] = None,
    notify: Annotated[bool | None, _notify()] = None,
    json: Json = False,
) -> None:
    """Add a teacher or a student."""
    from tutorctl.services import users as svc

    emit(write("user add", lambda tx: svc.add_user(tx, handle, name, role, email, notify)), json)


@users.command("list")
def user_list(
    role: Annotated[
        str | None,
        typer.Option(help="Only teachers or only students.", metavar="<teacher|student>"),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include inactive users.")] = False,
    json: Json = False,
) -> None:
    """List users."""
    from tutorctl.services import users as svc

    emit(read(lambda tx: svc.list_users(tx, role, all_)), json)


@users.command("show")
def user_show(user: UserArg, json: Json = False) -> None:
    """Show one user (and a student's balance)."""
    from tutorctl.services import users as svc

    emit(read(lambda tx: svc.show_user(tx, user)), json)


@users.command("deactivate")
def user_deactivate(user: UserArg, json: Json = False) -> None:
    """Deactivate a user: no new lessons; existing ones stay."""
    from tutorctl.services import users as svc

    emit(write("user deactivate", lambda tx: svc.deactivate_user(tx, user)), json)


def _active(help: str) -> Any:
    return typer.Option("--active/--inactive", help=help)


@users.command("set")
def user_set(
    user: UserArg,
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    active: Annotated[bool | None, _active("Reactivate, or deactivate (no new lessons).")] = None,
    email: Annotated[str | None, typer.Option(help="New email ('' removes it).")] = None,
    notify: Annotated[bool | None, _notify()] = None,
    json: Json = False,
) -> None:
    """Correct a user's name or email, whether they get messages, or reactivate / deactivate
    them (recorded in history)."""
    from tutorctl.services import users as svc

    emit(write("user set", lambda tx: svc.set_user(tx, user, name, active, email, notify)), json)


@categories.command("set")
def category_set(
    category: Annotated[
        str, typer.Argument(help="Category name or id.", autocompletion=complete.categories)
    ],
    price: Annotated[
        str | None, typer.Option(help="New price per hour (for lessons booked from now on).")
    ] = None,
    rename: Annotated[str | None, typer.Option(help="New name.")] = None,
    active: Annotated[bool | None, _active("Whether new lessons can be booked in it.")] = None,
    json: Json = False,
) -> None:
    """Correct a category: price, name, active (recorded in history)."""
    from tutorctl.core.money import parse_amount
    from tutorctl.services import users as svc

    cents = parse_amount(price, allow_zero=True, what="price") if price is not None else None
    emit(
        write("category set", lambda tx: svc.set_category(tx, category, cents, rename, active)),
        json,
    )


@categories.command("add")
def category_add(
    name: Annotated[str, typer.Argument(help="Unique category name.")],
    price: Annotated[str, typer.Option(help="Price per hour, a decimal such as 40.00.")],
    json: Json = False,
) -> None:
    """Add a category with its hourly price."""
    from tutorctl.core.money import parse_amount
    from tutorctl.services import users as svc

    cents = parse_amount(price, allow_zero=True, what="price")
    emit(write("category add", lambda tx: svc.add_category(tx, name, cents)), json)


@categories.command("list")
def category_list(
    all_: Annotated[bool, typer.Option("--all", help="Include inactive categories.")] = False,
    json: Json = False,
) -> None:
    """List categories."""
    from tutorctl.services import users as svc

    emit(read(lambda tx: svc.list_categories(tx, all_)), json)

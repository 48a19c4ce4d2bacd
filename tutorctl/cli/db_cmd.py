"""tutorctl db init | info | grant | backup"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from tutorctl.cli.state import Json, emit, state

app = typer.Typer(help="Create, upgrade and describe the database.", no_args_is_help=True)


def _setting(help: str) -> Any:
    return typer.Option(help=help)


@app.command("init")
def init(
    timezone: Annotated[str | None, _setting("IANA zone of the school, e.g. Europe/Paris.")] = None,
    slot_minutes: Annotated[int | None, _setting("Slot length; divides 1440 (60, 30, 15).")] = None,
    currency: Annotated[str | None, _setting("ISO currency code, e.g. EUR.")] = None,
    hold_minutes: Annotated[
        int | None,
        _setting(
            "Idle minutes before an open session expires (and before expire closes a paid or"
            " payment_failed session left)."
        ),
    ] = None,
    payment_minutes: Annotated[int | None, _setting("Minutes a payment may stay pending.")] = None,
    cancel_notice_hours: Annotated[
        int | None, _setting("Cancels later than this are late (no refund).")
    ] = None,
    min_notice_hours: Annotated[
        int | None, _setting("How soon before its start a lesson may be booked.")
    ] = None,
    notifications: Annotated[
        str | None, _setting("on or off: queue messages to students and teachers (SPEC §11).")
    ] = None,
    mail_from: Annotated[str | None, _setting("The address messages come from.")] = None,
    reminder_hours: Annotated[
        int | None, _setting("Remind this many hours before a lesson (0: no reminders).")
    ] = None,
    json: Json = False,
) -> None:
    """Create or upgrade the schema and store the school settings (safe to re-run)."""
    from tutorctl.core.views import DbInitView
    from tutorctl.services import settings as school

    changes: dict[str, Any] = {
        "timezone": timezone,
        "slot_minutes": slot_minutes,
        "currency": currency.upper() if currency else None,
        "hold_minutes": hold_minutes,
        "payment_minutes": payment_minutes,
        "cancel_notice_hours": cancel_notice_hours,
        "min_notice_hours": min_notice_hours,
        "notifications": school.on_off(notifications),
        "mail_from": mail_from,
        "reminder_hours": reminder_hours,
    }
    db = state().database()
    before, after, settings = db.init_schema(lambda tx: school.init_settings(tx, changes))
    emit(DbInitView(state().masked_url, before, after, settings), json)


@app.command("info")
def info(json: Json = False) -> None:
    """Show the database URL (password masked), schema version and school settings."""
    from tutorctl.core.views import DbInfoView
    from tutorctl.db.migrations import SCHEMA_VERSION

    db = state().database()
    settings = db.read(lambda tx: tx.settings)
    emit(DbInfoView(state().masked_url, db.dialect, SCHEMA_VERSION, settings), json)


@app.command("grant")
def grant(
    role: Annotated[str, typer.Argument(help="The desk role (it must exist).")],
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the statements, run nothing.")
    ] = False,
) -> None:
    """Give ROLE exactly the rights daily work needs (PostgreSQL; run as the owner)."""
    from tutorctl.db.admin import grant as grant_role

    db = state().database()
    statements, warning = db.maintain(lambda conn: grant_role(conn, role, apply=not print_only))
    if warning:
        print(warning, file=sys.stderr)
    for statement in statements:
        print(f"{statement};")
    if not print_only:
        print(f"granted: role {role} may run the daily commands on {state().masked_url}")


@app.command("backup")
def backup(
    path: Annotated[str, typer.Argument(help="The backup file to write (replaced atomically).")],
) -> None:
    """Copy a SQLite database while desks keep working (PostgreSQL: use pg_dump)."""
    from pathlib import Path

    from tutorctl.core.errors import ConfigError
    from tutorctl.db.admin import backup_sqlite
    from tutorctl.db.engine import sqlite_path

    current = state()
    source = sqlite_path(current.url)
    if source is None:
        raise ConfigError(
            "`db backup` copies a SQLite file; back up PostgreSQL with "
            "`pg_dump -Fc` and restore with `pg_restore` (README: Backup and restore)"
        )
    size = backup_sqlite(source, Path(path), current.lock_timeout)
    print(f"backed up {current.masked_url} to {path} ({size:,} bytes)")

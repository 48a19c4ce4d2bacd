"""School settings: ``db init`` and ``db info``."""

from __future__ import annotations

import re
from dataclasses import asdict, replace
from typing import Any

from sqlmodel import select

from tutorctl.core.addresses import check_email
from tutorctl.core.calendar import SlotGrid, load_zone
from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.settings import DEFAULT_SETTINGS, SchoolSettings
from tutorctl.db.schema import CalendarWeek, Reservation, Settings
from tutorctl.db.uow import Tx

_CURRENCY = re.compile(r"^[A-Z]{3}$")


def validate(settings: SchoolSettings) -> SchoolSettings:
    load_zone(settings.timezone)
    SlotGrid(settings.slot_minutes)
    if not _CURRENCY.match(settings.currency):
        raise InputError(f"bad currency {settings.currency!r}: use a 3-letter ISO code like EUR")
    for name in ("hold_minutes", "payment_minutes"):
        value = getattr(settings, name)
        if not 1 <= value <= 7 * 24 * 60:
            raise InputError(f"bad --{name.replace('_', '-')} {value}: use 1..10080 minutes")
    for name in ("cancel_notice_hours", "min_notice_hours"):
        value = getattr(settings, name)
        if not 0 <= value <= 24 * 365:
            raise InputError(f"bad --{name.replace('_', '-')} {value}: use 0..8760 hours")
    if not 0 <= settings.reminder_hours <= 24 * 30:
        raise InputError(f"bad --reminder-hours {settings.reminder_hours}: use 0..720 hours")
    if settings.mail_from is not None:
        check_email(settings.mail_from, "--mail-from")
    if settings.notifications and not settings.mail_from:
        raise InputError(
            "--notifications on needs --mail-from ADDR (the address messages come from)"
        )
    return settings


def on_off(text: str | None) -> bool | None:
    """``--notifications on|off``."""
    if text is None:
        return None
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise InputError(f"bad --notifications {text!r}: use on or off")
    return value == "on"


def init_settings(tx: Tx, changes: dict[str, Any]) -> SchoolSettings:
    """Store the school settings: defaults on a fresh database, else only what is given."""
    row = tx.orm.get(Settings, 1)
    current = tx.settings if row is not None else DEFAULT_SETTINGS
    if changes.get("mail_from") is not None:
        changes = {**changes, "mail_from": check_email(changes["mail_from"], "--mail-from")}
    wanted = validate(replace(current, **{k: v for k, v in changes.items() if v is not None}))
    if row is not None and _has_calendar(tx):
        # every stored wall-clock time must keep meaning what it meant when it was written
        if wanted.slot_minutes != current.slot_minutes:
            raise RuleError(
                f"cannot change the slot length from {current.slot_minutes} to "
                f"{wanted.slot_minutes} minutes: availability or lessons already exist"
            )
        if wanted.timezone != current.timezone:
            raise RuleError(
                f"cannot change the timezone from {current.timezone} to {wanted.timezone}: "
                "availability or lessons already exist (their wall-clock times would shift)"
            )
    if row is None:
        row = Settings(id=1, **asdict(wanted))
    else:
        for key, value in asdict(wanted).items():
            setattr(row, key, value)
    tx.orm.add(row)
    tx.audit("settings", **asdict(wanted))
    return wanted


def _has_calendar(tx: Tx) -> bool:
    """Whether any calendar week or lesson exists (two index probes, not counts)."""
    weeks = tx.orm.exec(select(CalendarWeek.id).limit(1)).first()
    lessons = tx.orm.exec(select(Reservation.id).limit(1)).first()
    return weeks is not None or lessons is not None

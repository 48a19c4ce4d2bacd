"""Named, typed handles on the tables, for Core statements (``reservations.c.status``).

The models of ``schema.py`` are for the ORM (``tx.orm.get(Reservation, id)``); a Core
statement names its table here instead of ``Reservation.__table__`` (untyped for mypy).
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from tutorctl.db import schema, schema_outbox


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model."""
    found = model.__table__  # type: ignore[attr-defined]
    assert isinstance(found, Table)
    return found


schema_versions = table_of(schema.SchemaVersion)
settings = table_of(schema.Settings)
users = table_of(schema.User)
categories = table_of(schema.Category)
calendar_weeks = table_of(schema.CalendarWeek)
booking_sessions = table_of(schema.BookingSession)
reservations = table_of(schema.Reservation)
operations = table_of(schema.Operation)
package_holds = table_of(schema.PackageHold)
idempotency_keys = table_of(schema.IdempotencyKey)
accounts = table_of(schema.Account)
payments = table_of(schema.Payment)
ledger = table_of(schema.LedgerEntry)
purchases = table_of(schema.Purchase)
package_payments = table_of(schema.PackagePayment)
fundings = table_of(schema.Funding)
history = table_of(schema.History)
history_users = table_of(schema.HistoryUser)
outbox = table_of(schema_outbox.Outbox)

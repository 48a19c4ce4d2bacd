"""Named handles on the tables of schema.py, for set-based SQL (SQLAlchemy Core).

One place names them, so a service writes ``R.c.starts_at`` without re-declaring
``Reservation.__table__`` (and its mypy ignore) in every module. The short names are the
aliases the queries read best with:

=====  ====================  =====  ====================
``U``  users                 ``A``  accounts
``C``  categories            ``L``  ledger
``W``  calendar_weeks        ``PAY`` payments
``S``  booking_sessions      ``P``  purchases
``R``  reservations          ``PP`` package_payments
``O``  operations            ``F``  fundings
``PH`` package_holds         ``H``  history
``HU`` history_users
=====  ====================  =====  ====================
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from tutorctl.db import schema


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


U = _table(schema.User)
C = _table(schema.Category)
W = _table(schema.CalendarWeek)
S = _table(schema.BookingSession)
R = _table(schema.Reservation)
O = _table(schema.Operation)  # noqa: E741
PH = _table(schema.PackageHold)
A = _table(schema.Account)
L = _table(schema.LedgerEntry)
PAY = _table(schema.Payment)
P = _table(schema.Purchase)
PP = _table(schema.PackagePayment)
F = _table(schema.Funding)
H = _table(schema.History)
HU = _table(schema.HistoryUser)

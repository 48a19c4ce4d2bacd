"""The pro-rata formula of ``core.money`` as a SQL expression, for queries that compute a
price in the database (``report balances``, ``check``'s package payments).

It is ``core.money.pro_rata`` written over columns: the same integer operations in the same
order, so a figure computed here is the figure computed in Python, to the cent. Change both or
neither: ``tests/db/test_money_sql.py`` evaluates this expression with a SELECT on SQLite and
PostgreSQL and compares it to the Python formula over the whole input range (10,000 hours at up
to 10,000,000.00): the largest product, 1e9 × 600,000 × 2, fits the 64-bit ``price_cents``
column the expression is computed in. SQL's integer division truncates where Python's floors:
they agree because no input is negative (the table's CHECKs, the input limits).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement

from tutorctl.db.tables import purchases


def pro_rata(amount: Any, part: Any, whole: Any) -> ColumnElement[int]:
    """``amount × part / whole`` rounded half up, in SQL (``core.money.pro_rata``)."""
    expression: ColumnElement[int] = (amount * part * 2 + whole) // (2 * whole)
    return expression


def paid_price(purchase: Any = purchases) -> ColumnElement[int]:
    """The price of a package's paid hours, pro rata to the cent (SPEC §4), in SQL: what
    ``core.money.paid_price`` computes for one package. ``purchase`` is the purchases table or
    anything with its three columns."""
    c = purchase.c
    return pro_rata(c.price_cents, c.paid_minutes, c.bought_minutes)

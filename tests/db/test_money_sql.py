"""The pro-rata price is one formula: ``core.money.pro_rata`` in Python and its SQL twin
``db.money.pro_rata`` (read by ``report balances`` and ``check``) agree to the cent over the
whole input range, evaluated by each database with a SELECT (SQLite and PostgreSQL)."""

from __future__ import annotations

from fractions import Fraction
from math import floor

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, cast, literal, select

from tests.services.conftest import START
from tutorctl.core.clock import Clock
from tutorctl.core.limits import MAX_CENTS, MAX_HOURS
from tutorctl.core.money import paid_price, pro_rata, prorate
from tutorctl.db import money as sql
from tutorctl.db.tables import purchases as P
from tutorctl.db.uow import Database

MAX_MINUTES = MAX_HOURS * 60


@st.composite
def packages(draw: st.DrawFn) -> tuple[int, int, int]:
    """(price, bought, paid): any package the input limits allow."""
    bought = draw(st.integers(1, MAX_MINUTES))
    paid = draw(st.integers(0, bought))
    return draw(st.integers(0, MAX_CENTS)), bought, paid


def _in_sql(conn: Connection, price: int, bought: int, paid: int) -> int:
    """The database's figure for one package: ``db.money.paid_price`` over a row whose columns
    have the purchases table's own types (a 64-bit price, 32-bit minutes), as in the report."""
    row = select(
        cast(literal(price), P.c.price_cents.type).label("price_cents"),
        cast(literal(paid), P.c.paid_minutes.type).label("paid_minutes"),
        cast(literal(bought), P.c.bought_minutes.type).label("bought_minutes"),
    ).subquery("purchase")
    value = conn.execute(select(sql.paid_price(row))).scalar_one()
    assert isinstance(value, int)  # an integer on both databases, not a decimal or a float
    return value


def test_paid_price_is_the_same_in_python_and_in_sql(db_url: str) -> None:
    def body(conn: Connection) -> None:
        @settings(
            max_examples=300,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(packages())
        # the extremes, and halves that must round up (1.5 → 2, 0.5 → 1, 2.5 → 3)
        @example((MAX_CENTS, MAX_MINUTES, MAX_MINUTES))
        @example((MAX_CENTS, MAX_MINUTES, MAX_MINUTES - 1))
        @example((MAX_CENTS, MAX_MINUTES, 1))
        @example((MAX_CENTS - 1, 2, 1))
        @example((3, 2, 1))
        @example((1, 2, 1))
        @example((5, 2, 1))
        @example((0, 1, 1))
        @example((1, 1, 0))
        def agree(package: tuple[int, int, int]) -> None:
            price, bought, paid = package
            assert _in_sql(conn, price, bought, paid) == paid_price(price, paid, bought)

        agree()

    Database(db_url, Clock(START)).inspect(body)


def test_the_figures_stored_today() -> None:
    """Half a cent rounds up, everywhere the formula is used (the README's and tests' figures)."""
    assert pro_rata(1, 1, 2) == 1 and pro_rata(3, 1, 2) == 2 and pro_rata(1, 1, 3) == 0
    assert paid_price(100_000, 600, 1_200) == 50_000  # half of a 1,000.00 package
    assert paid_price(10_000, 1, 3) == 3_333 and paid_price(20_000, 1, 3) == 6_667
    assert prorate(4550, 15) == 1138  # 1137.5 → 1138
    assert paid_price(MAX_CENTS, MAX_MINUTES - 1, MAX_MINUTES) == 999_998_333


@given(packages())
def test_the_formula_is_the_exact_share_rounded_half_up(package: tuple[int, int, int]) -> None:
    """Integers only, yet exactly price × paid / bought with a half cent rounded up."""
    price, bought, paid = package
    assert paid_price(price, paid, bought) == floor(Fraction(price * paid, bought) + Fraction(1, 2))

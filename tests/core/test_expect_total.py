"""Issue 23 (8, 14): the resume's --expect-total hint reads back to the same cents for every total
a session can have; negative amounts and thousands separators are refused saying so."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutorctl.core.errors import InputError
from tutorctl.core.money import MAX_TOTAL_CENTS, parse_amount, parse_total, plain_amount


@given(st.integers(min_value=0, max_value=MAX_TOTAL_CENTS))
def test_every_total_prints_as_a_hint_that_parses_back(cents: int) -> None:
    hint = plain_amount(cents)
    assert "," not in hint and " " not in hint
    assert parse_total(hint) == cents


def test_the_total_is_bounded_by_the_64_bit_money_columns_only() -> None:
    assert parse_total("20000000.00") == 2_000_000_000  # above the 10,000,000.00 of one amount
    assert parse_total(plain_amount(MAX_TOTAL_CENTS)) == 2**63 - 1
    with pytest.raises(InputError, match="too large"):
        parse_total(plain_amount(MAX_TOTAL_CENTS + 1))
    with pytest.raises(InputError, match="too large"):  # one amount typed elsewhere keeps its cap
        parse_amount("20000000.00")


@pytest.mark.parametrize("text", ["-5", "-5.50", "- 5", "-0.01", "-1,000.00"])
def test_a_negative_amount_says_so(text: str) -> None:
    with pytest.raises(InputError, match="a negative amount is not accepted"):
        parse_amount(text)


@pytest.mark.parametrize(("text", "plain"), [("1,440.00", "1440.00"), ("12,345,678", "12345678")])
def test_thousands_separators_are_refused_with_the_plain_form(text: str, plain: str) -> None:
    with pytest.raises(InputError, match=f"without thousands separators, e.g. {plain}"):
        parse_total(text)

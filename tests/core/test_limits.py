"""SPEC §6 input limits and §2 password masking, as pure functions (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from tutorctl.core.calendar import parse_date, parse_days, parse_week
from tutorctl.core.clock import parse_now
from tutorctl.core.config import mask_url, resolve_db_url, scrub
from tutorctl.core.errors import ConfigError, InputError, NotFoundError
from tutorctl.core.limits import as_id, check_text, parse_id
from tutorctl.core.money import parse_amount, parse_hours

TODAY = date(2026, 11, 24)


def test_money_up_to_ten_million_per_amount() -> None:
    assert parse_amount("10000000.00") == 1_000_000_000
    for text in ("10000000.01", "30000000.00", "99999999999"):
        with pytest.raises(InputError, match="too large"):
            parse_amount(text)


@pytest.mark.parametrize("text", ["٣٠", "３０", "²", "1_000", " 1 0"])
def test_only_ascii_digits_are_digits(text: str) -> None:
    with pytest.raises(InputError):
        parse_amount(text)
    with pytest.raises(InputError):
        parse_hours(text)


def test_hours_up_to_ten_thousand() -> None:
    assert parse_hours("10000") == 600_000
    assert parse_hours("1.5") == 90
    with pytest.raises(InputError, match="too large"):
        parse_hours("10000.01")


def test_ids() -> None:
    assert as_id("12") == 12
    assert as_id("alice") is None
    assert as_id("²") is None and as_id("٣") is None  # not digits: a (missing) handle
    assert as_id("2147483647") == 2**31 - 1
    assert as_id("2147483648") == -1  # names nothing, on every database
    assert parse_id("7", "session") == 7
    with pytest.raises(NotFoundError, match="no session 99999999999999999999"):
        parse_id("99999999999999999999", "session")
    for bad in ("0", "-1", "٣", "²", "1_0", "+3", ""):
        with pytest.raises(InputError):
            parse_id(bad, "session")


def test_text_limits() -> None:
    assert check_text("  Jo [/b] ", "name") == "Jo [/b]"
    assert check_text("x" * 200, "reason") == "x" * 200
    for bad in ("x" * 201, "", "   ", "a\x00b", "a\nb"):
        with pytest.raises(InputError):
            check_text(bad, "reason")


@pytest.mark.parametrize(
    "text", ["9999-W52", "0001-W01", "1899-W52", "3000-W01", "-9999", "2999-12-30", "Dec 31 9999"]
)
def test_weeks_between_1900_and_2999(text: str) -> None:
    with pytest.raises(InputError):
        parse_week(text, TODAY)


def test_week_and_date_edges() -> None:
    assert parse_week("1900-W01", TODAY) == date(1900, 1, 1)
    assert parse_week("2999-W52", TODAY) == date(2999, 12, 23)
    assert parse_date("2999-12-31") == date(2999, 12, 31)
    for bad in ("0001-01-01", "1899-12-31", "3000-01-01", "٢٠٢٦-١١-٢٤"):
        with pytest.raises(InputError):
            parse_date(bad)
    with pytest.raises(InputError):
        parse_days("٣")


@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00", "1899-12-31T23:00:00Z", "２０２６-11-24"],
)
def test_now_between_1900_and_2999(text: str) -> None:
    with pytest.raises(InputError):
        parse_now(text)


SECRET = "Sekr3tQ"


@pytest.mark.parametrize(
    ("url", "password"),
    [
        (f"postgresql+psycopg://u:{SECRET}@host/db", SECRET),
        (f"postgresql+psycopg://u@host/db?password={SECRET}", SECRET),
        (f"postgresql+psycopg://u@host/db?sslmode=require&password={SECRET}&x=1", SECRET),
        (f"postgresql+psycopg://u:p@{SECRET}@host/db", f"p@{SECRET}"),  # an unencoded '@'
        (f"postgresql+psycopg://u:{SECRET}/x@host/db", f"{SECRET}/x"),  # an unencoded '/'
        (f"postgresql+psycopg://u:{SECRET}@[::1", SECRET),  # unparseable
    ],
)
def test_a_password_is_never_shown(url: str, password: str) -> None:
    assert SECRET not in mask_url(url)
    assert SECRET not in scrub(f"connection failed: {password} at {password}@host", url)


def test_an_unencoded_at_is_encoded_so_the_host_is_the_host() -> None:
    url = resolve_db_url("postgresql://u:p@ss@db.example/school")
    assert url == "postgresql+psycopg://u:p%40ss@db.example/school"
    assert mask_url(url) == "postgresql+psycopg://u:***@db.example/school"
    # a driver that read the raw URL would name host 'ss@host': the tail is scrubbed too
    assert "ss" not in scrub("failed to resolve host 'ss@host'", "postgresql://u:p@ss@host/d")
    # an '@' in a path or in a plain URL is left alone
    assert resolve_db_url("postgresql://u@host/my@db") == "postgresql+psycopg://u@host/my@db"


@pytest.mark.parametrize(
    "url", ["postgresql://[::1", f"postgresql://u:{SECRET}@[::1", "postgresql://h:99x/db"]
)
def test_an_unparseable_url_is_a_config_error_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve_db_url(url)
    assert SECRET not in error.value.message

"""Issue 23 (6, 7): a date is complete or refused; nothing is filled in from the machine's clock.

dateutil completes a partial date from today's date on the machine (and places a two-digit year
in the machine's century). tutorctl's one clock is --now, so an incomplete date is refused
(SPEC §3: only what dateutil parses unambiguously); a whole date means the same whatever "now" is.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutorctl.core.calendar import monday_of, parse_date, parse_week
from tutorctl.core.errors import InputError

WHOLE = ("%b %d %Y", "%d %B %Y", "%B %d, %Y", "%A %d %B %Y", "%a %b %d %Y", "%Y-%m-%d 10:00")
PARTIAL = ("%b %Y", "%B %d", "%d %b", "%Y", "%A", "%a", "%H:%M", "%m/%d")
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2999, 12, 29))
NOWS = st.dates(min_value=date(1900, 1, 8), max_value=date(2999, 12, 20))


@given(DAYS, st.sampled_from(WHOLE), NOWS)
def test_a_whole_date_means_the_same_day_whatever_now_is(day: date, form: str, now: date) -> None:
    text = day.strftime(form)
    assert parse_date(text) == day
    assert parse_week(text, now) == monday_of(day)


@given(DAYS, st.sampled_from(PARTIAL), NOWS)
def test_a_partial_date_is_refused_naming_it(day: date, form: str, now: date) -> None:
    text = day.strftime(form)
    for parse in (parse_date, lambda t: parse_week(t, now)):
        with pytest.raises(InputError) as info:
            parse(text)
        assert repr(text) in info.value.message
        assert "not a whole date" in info.value.message or "four digits" in info.value.message


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("Dec 2026", "(no day)"),
        ("Nov 2026", "(no day)"),
        ("2026", "(no month or day)"),
        ("25 Nov", "(no year)"),
        ("Wednesday", "(no year, month or day)"),
        ("10:00", "(no year, month or day)"),
    ],
)
def test_the_message_says_what_is_missing(text: str, missing: str) -> None:
    with pytest.raises(InputError) as info:
        parse_date(text, "--date")
    assert info.value.message.startswith(f"bad --date {text!r}: not a whole date {missing}")
    assert "YYYY-MM-DD" in info.value.message


def test_a_two_digit_year_is_refused_not_placed_in_the_machines_century() -> None:
    for text in ("11/25/26", "Nov 25 26", "25 Nov 99"):
        with pytest.raises(InputError, match="four digits"):
            parse_date(text)


def test_a_weekday_that_contradicts_the_date_is_refused() -> None:
    assert parse_date("Thu 2026-11-26") == date(2026, 11, 26)
    with pytest.raises(InputError, match="2026-11-26 is a Thursday, not a Wednesday"):
        parse_date("Wed 2026-11-26")


@pytest.mark.parametrize("text", ["2999-12-30", "2999-12-31", "Dec 31 2999"])
def test_a_date_of_week_3000_w01_says_so(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_week(text, date(2026, 11, 24))
    message = info.value.message
    assert f"{text} is in ISO week 3000-W01 (2999-12-30..3000-01-05)" in message
    assert "past the last week tutorctl accepts (2999-W52)" in message
    assert "between 1900 and 2999" not in message  # the date typed is in range: its week is not


def test_week_edges_name_the_weeks() -> None:
    assert parse_week("2999-12-29", date(2026, 11, 24)) == date(2999, 12, 23)
    with pytest.raises(InputError, match=r"ISO week 3000-W01 .* is past the last week"):
        parse_week("3000-W01", date(2026, 11, 24))
    with pytest.raises(InputError, match=r"before the first week tutorctl accepts \(1900-W01\)"):
        parse_week("last", date(1900, 1, 3))
    with pytest.raises(InputError, match=r"this is in ISO week 3000-W01"):
        parse_week("this", date(2999, 12, 31))


# A weekday lets dateutil pick a day: "Wed Dec 2026" was read as the first Wednesday of December.
# A date is whole only with its year, month and day of the month; a weekday may only accompany
# one (and must agree with it).
WEEKDAY_FORMS = ("%a ", "%A ", "%A, ", "", " %a", " %A")
WHOLE_BARE = ("%b %d %Y", "%d %B %Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%Y %b %d")
PARTIAL_BARE = ("%b %Y", "%B %Y", "%Y-%m", "%m %Y", "%Y %m", "%Y", "%b", "%B %d", "%d %b", "%m/%d")


def _with_weekday(day: date, form: str, weekday: str) -> str:
    return day.strftime(weekday + form if not weekday.startswith(" ") else form + weekday)


@given(DAYS, st.sampled_from(WHOLE_BARE), st.sampled_from(WEEKDAY_FORMS), NOWS)
def test_a_whole_date_with_or_without_its_weekday_is_that_day(
    day: date, form: str, weekday: str, now: date
) -> None:
    text = _with_weekday(day, form, weekday)
    assert parse_date(text) == day
    assert parse_week(text, now) == monday_of(day)


@given(DAYS, st.sampled_from(PARTIAL_BARE), st.sampled_from(WEEKDAY_FORMS), NOWS)
def test_an_incomplete_date_is_refused_with_or_without_a_weekday(
    day: date, form: str, weekday: str, now: date
) -> None:
    text = _with_weekday(day, form, weekday)
    for parse in (parse_date, lambda t: parse_week(t, now)):
        with pytest.raises(InputError) as info:
            parse(text)
        assert repr(text) in info.value.message
        assert "not a whole date" in info.value.message or "four digits" in info.value.message


@pytest.mark.parametrize(
    "text",
    ["Wed Dec 2026", "Mon Nov 2026", "Tue 2026-11", "Thu 11 2026", "Wednesday, December 2026"],
)
def test_a_weekday_does_not_stand_for_the_missing_day(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_date(text, "--date")
    assert info.value.message.startswith(f"bad --date {text!r}: not a whole date (no day)")
    with pytest.raises(InputError, match="not a whole date"):
        parse_week(text, date(2026, 11, 24))

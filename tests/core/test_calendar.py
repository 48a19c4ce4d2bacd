from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutorctl.core.calendar import (
    SlotGrid,
    format_week,
    monday_of,
    parse_day,
    parse_days,
    parse_week,
    parse_week_range,
    wall_time_exists,
)
from tutorctl.core.errors import InputError

TODAY = date(2026, 11, 24)  # Tuesday of 2026-W48
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "monday"),
    [
        ("2026-W48", date(2026, 11, 23)),
        ("2026w48", date(2026, 11, 23)),
        ("2026-W53", date(2026, 12, 28)),
        ("2026-W01", date(2025, 12, 29)),
        ("2026-11-25", date(2026, 11, 23)),
        ("2026-11-29", date(2026, 11, 23)),
        ("Nov 25 2026", date(2026, 11, 23)),
        ("this", date(2026, 11, 23)),
        ("next", date(2026, 11, 30)),
        ("last", date(2026, 11, 16)),
        ("+2", date(2026, 12, 7)),
        ("-1", date(2026, 11, 16)),
    ],
)
def test_parse_week_forms(text: str, monday: date) -> None:
    assert parse_week(text, TODAY) == monday


@pytest.mark.parametrize(
    "text", ["2025-W53", "2026-W00", "2026-13-01", "yesterday-ish", "", "03/04/2026"]
)
def test_parse_week_refuses_with_accepted_forms(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_week(text, TODAY)
    assert repr(text) in info.value.message or "ambiguous" in info.value.message


def test_ambiguous_date_names_both_readings() -> None:
    with pytest.raises(InputError, match="ambiguous"):
        parse_week("03/04/2026", TODAY)


def test_week_range() -> None:
    weeks = parse_week_range("2026-W52..2027-W02", TODAY)
    assert [format_week(w) for w in weeks] == ["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
    with pytest.raises(InputError, match="before"):
        parse_week_range("2026-W50..2026-W49", TODAY)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)))
def test_week_round_trip(day: date) -> None:
    monday = monday_of(day)
    assert monday.weekday() == 0
    assert parse_week(format_week(monday), TODAY) == monday
    assert parse_week(day.isoformat(), TODAY) == monday


@given(st.integers(min_value=-500, max_value=500))
def test_relative_weeks(n: int) -> None:
    text = f"{n:+d}"
    assert parse_week(text, TODAY) == monday_of(TODAY) + timedelta(weeks=n)


def test_days() -> None:
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("mon,wed,fri") == [0, 2, 4]
    assert parse_days("7") == [6]
    assert parse_days("sat-sun,1") == [0, 5, 6]
    assert parse_day("Wed") == 2
    for bad in ["", "funday", "fri-mon", "8", "0"]:
        with pytest.raises(InputError, match=r"mon\.\.sun"):
            parse_days(bad)
    with pytest.raises(InputError, match="exactly one"):
        parse_day("mon-tue")


@pytest.mark.parametrize("minutes", [60, 30, 15])
def test_slot_times(minutes: int) -> None:
    grid = SlotGrid(minutes)
    assert grid.slots_per_day == 1440 // minutes
    assert grid.parse_time("00:00") == 0
    assert grid.parse_time("24:00", is_end=True) == grid.slots_per_day
    start, end = grid.parse_range("09:00-12:00")
    assert grid.format_range(start, end) == "09:00-12:00"
    assert grid.minutes(start, end) == 180


@pytest.mark.parametrize(
    ("minutes", "text", "why"),
    [
        (60, "09:30-10:00", "slot boundary"),
        (30, "09:15-10:00", "slot boundary"),
        (60, "10:00-09:00", "after the start"),
        (60, "10:00-10:00", "after the start"),
        (60, "24:00-24:00", "bad time"),
        (60, "9-10", "bad time"),
        (60, "25:00-26:00", "bad time"),
        (60, "09:00", "HH:MM-HH:MM"),
    ],
)
def test_bad_times_name_value_and_forms(minutes: int, text: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        SlotGrid(minutes).parse_range(text)


def test_slot_minutes_must_divide_the_day() -> None:
    with pytest.raises(InputError, match="divide 1440"):
        SlotGrid(7)


@given(st.sampled_from([60, 30, 15]), st.integers(min_value=0, max_value=1439))
def test_time_round_trip(minutes: int, minute_of_day: int) -> None:
    grid = SlotGrid(minutes)
    slot = minute_of_day // minutes
    assert grid.parse_time(grid.format_slot(slot)) == slot


def test_spring_forward_slot_does_not_exist() -> None:
    grid = SlotGrid(30)
    monday = date(2026, 3, 23)  # 2026-W13: Sunday 29 March, 02:00 → 03:00 in Paris
    assert grid.missing_slots(PARIS, monday, 6, 0, grid.slots_per_day) == [4, 5]
    assert grid.missing_slots(PARIS, monday, 5, 0, grid.slots_per_day) == []
    assert not wall_time_exists(datetime(2026, 3, 29, 2, 30), PARIS)


def test_fall_back_means_first_occurrence() -> None:
    grid = SlotGrid(60)
    monday = date(2026, 10, 19)  # 2026-W43 holds Sunday 25 October (W44 starts on the 26th)
    two = grid.instant(PARIS, monday, 6, 2)
    assert two == datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST = 00:00 UTC
    three = grid.instant(PARIS, monday, 6, 3)
    assert three - two == timedelta(hours=2)  # the repeated hour lies in between


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)), st.integers(0, 23))
def test_instants_increase_with_slots(day: date, hour: int) -> None:
    grid = SlotGrid(60)
    monday = monday_of(day)
    a = grid.instant(PARIS, monday, day.weekday(), hour)
    b = grid.instant(PARIS, monday, day.weekday(), hour + 1)
    assert b > a

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tutorctl.core.availability import DAY_COLUMNS, WeekAvailability, empty_day


def test_a_week_reads_and_changes_its_days_without_mutating() -> None:
    week = WeekAvailability.empty(4)
    assert week.day(0) == "0000" and not week.is_open(2, 1)
    opened = week.with_slots(2, range(1, 3), open_=True)
    assert opened.day(2) == "0110" and opened.is_open(2, 1) and week.day(2) == "0000"
    assert opened.with_day(2, "0000") == week
    assert opened.with_slots(2, [1], open_=False).day(2) == "0010"
    with pytest.raises(ValueError, match="4 slots"):
        week.with_day(0, "00")
    with pytest.raises(ValueError, match="7 days"):
        WeekAvailability(("0",) * 6)


def test_a_week_goes_to_and_from_a_row() -> None:
    row = SimpleNamespace(**dict.fromkeys(DAY_COLUMNS, "00"))
    week = WeekAvailability.from_row(row).with_day(6, "11")
    assert week.to_values() == {**dict.fromkeys(DAY_COLUMNS, "00"), "d6": "11"}
    week.apply_to(row)
    assert row.d6 == "11" and WeekAvailability.from_row(row) == week


def test_a_span_is_open_only_if_every_slot_is() -> None:
    week = WeekAvailability.empty(4).with_slots(1, [0, 1, 3], open_=True)
    assert week.closed_slots(1, 0, 4) == [2] and week.closed_slots(1, 0, 2) == []
    assert week.open_between(1, 0, 2) and not week.open_between(1, 1, 3)
    assert not week.open_between(0, 0, 1) and week.day(0) == empty_day(4) == "0000"

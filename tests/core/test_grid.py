"""The week grid: built by a pure function (tested exactly), rendered by one module."""

from __future__ import annotations

from rich.console import Console

from tutorctl.core.grid import week_grid
from tutorctl.core.views import DayView, LessonView, PersonRef, ScheduleView, SlotView
from tutorctl.render.week import render_week

ALICE = PersonRef(1, "alice", "Alice", "teacher")
BOB = PersonRef(2, "bob", "Bob", "student")


def _view(
    open_hours: set[int], lessons: list[LessonView], *, missing: set[int] = frozenset()
) -> ScheduleView:  # type: ignore[assignment]
    days = []
    for day in range(7):
        slots = []
        for hour in range(24):
            ids = [
                x.id for x in lessons if x.day == day and int(x.start[:2]) <= hour < int(x.end[:2])
            ]
            slots.append(
                SlotView(
                    f"{hour:02d}:00",
                    hour not in missing or day != 6,
                    day < 5 and hour in open_hours,
                    ids,
                )
            )
        days.append(
            DayView(
                f"2026-11-{23 + day}", ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][day], slots
            )
        )
    return ScheduleView("2026-W48", "2026-11-23", "Europe/Paris", 60, ALICE, 4, days, lessons)


def _lesson(
    lid: int, day: int, start: str, end: str, status: str = "booked", pending: str | None = None
) -> LessonView:
    return LessonView(
        lid,
        "alice",
        "bob",
        1,
        2,
        "maths",
        "2026-W48",
        f"2026-11-{23 + day}",
        day,
        start,
        end,
        60,
        "",
        "",
        status,
        pending,
    )


def test_grid_rows_exactly() -> None:
    view = _view(
        {9, 10, 11},
        [
            _lesson(7, 0, "10:00", "12:00"),
            _lesson(8, 1, "09:00", "10:00", "held"),
            _lesson(9, 2, "11:00", "12:00", pending="cancel"),
        ],
    )
    grid = week_grid(view)
    assert grid.headers == [
        "time",
        "Mon 11-23",
        "Tue 11-24",
        "Wed 11-25",
        "Thu 11-26",
        "Fri 11-27",
        "Sat 11-28",
        "Sun 11-29",
    ]
    assert [r.label for r in grid.rows] == [
        "00:00-09:00",
        "09:00-10:00",
        "10:00-11:00",
        "11:00-12:00",
        "12:00-24:00",
    ]
    assert [c.text for c in grid.rows[1].cells] == [
        "open",
        "bob maths (held)",
        "open",
        "open",
        "open",
        "·",
        "·",
    ]
    assert [c.text for c in grid.rows[2].cells] == [
        "bob maths",
        "open",
        "open",
        "open",
        "open",
        "·",
        "·",
    ]
    assert [c.text for c in grid.rows[3].cells] == [
        "┆",
        "open",
        "bob maths (cancel?)",
        "open",
        "open",
        "·",
        "·",
    ]
    assert [c.kind for c in grid.rows[3].cells][:3] == ["booked", "open", "pending"]
    assert "stamp 4" in grid.title and "2026-W48" in grid.title


def test_unfolded_grid_has_every_slot() -> None:
    assert len(week_grid(_view(set(), []), fold=False).rows) == 24


def test_missing_dst_slot_reads_na() -> None:
    grid = week_grid(_view({2}, [], missing={2}))
    row = next(r for r in grid.rows if r.label == "02:00-03:00")
    assert row.cells[6].text == "n/a" and row.cells[0].text == "open"


def test_render_at_fixed_width_without_colour() -> None:
    console = Console(record=True, width=110, color_system=None, file=open("/dev/null", "w"))
    console.print(render_week(week_grid(_view({9}, [_lesson(7, 0, "09:00", "10:00")]))))
    text = console.export_text()
    lines = text.splitlines()
    assert lines[0].startswith("alice (teacher) · 2026-W48 · 2026-11-23 → 2026-11-29 · stamp 4")
    header = next(line for line in lines if "Mon 11-23" in line)
    assert header.split() == [
        "time",
        "Mon",
        "11-23",
        "Tue",
        "11-24",
        "Wed",
        "11-25",
        "Thu",
        "11-26",
        "Fri",
        "11-27",
        "Sat",
        "11-28",
        "Sun",
        "11-29",
    ]
    row = next(line for line in lines if line.strip().startswith("09:00-10:00"))
    assert row.split() == ["09:00-10:00", "bob", "maths", "open", "open", "open", "open", "·", "·"]
    assert "\x1b[" not in text


def test_a_missing_dst_slot_is_not_folded_away() -> None:
    """Issue 18: the README says the grid shows n/a for the hour skipped in spring; with
    empty rows folded, a closed week folded that row away."""
    grid = week_grid(_view(set(), [], missing={2}))
    (row,) = [r for r in grid.rows if r.label.startswith("02:00")]
    assert row.label == "02:00-03:00" and row.cells[6].text == "n/a"
    assert [r.label for r in grid.rows] == ["00:00-02:00", "02:00-03:00", "03:00-24:00"]

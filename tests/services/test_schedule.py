"""Availability as services: a rectangle (days × hours) opened or closed over weeks, atomically
and counted; closing under a lesson refused unless forced; week stamps; copying a week; the
hour that does not exist when the clocks spring forward; the week grid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.services.conftest import NEXT_WEEK, WEEK, School
from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.status import LessonStatus
from tutorctl.core.views import ScheduleChangeView, ScheduleView
from tutorctl.db.uow import Tx
from tutorctl.services import schedule
from tutorctl.services.lessons import lessons_by_id

pytestmark = pytest.mark.usefixtures("invariants")
MON, TUE, WED, SUN = 0, 1, 2, 6
SPRING = date(2027, 3, 22)  # the week the clocks go forward in Paris (Sunday 28, 02:00 → 03:00)


def change(
    school: School,
    weeks: list[date],
    days: list[int],
    time: str,
    open_: bool,
    **options: int | bool,
) -> ScheduleChangeView:
    def run(tx: Tx) -> ScheduleChangeView:
        start, end = school.slots(tx, time)
        return schedule.set_availability(
            tx,
            "alice",
            weeks,
            days,
            start,
            end,
            open_=open_,
            **options,  # type: ignore[arg-type]
        )

    return school.write(run)


def week(
    school: School, monday: date, who: str = "alice", with_: str | None = None
) -> ScheduleView:
    return school.read(lambda tx: schedule.show_schedule(tx, who, monday, with_))


def open_hours(school: School, monday: date, day: int) -> list[str]:
    return [s.time for s in week(school, monday).days[day].slots if s.open]


def test_a_rectangle_is_opened_and_closed_over_weeks_and_counted(desk: School) -> None:
    closed = change(desk, [WEEK, NEXT_WEEK], [MON, TUE], "12:00-14:00", open_=False)
    assert closed.changed_slots == 8  # 2 weeks × 2 days × 2 hours
    assert closed.weeks == ["2026-W48", "2026-W49"] and closed.action == "close"
    assert (
        change(desk, [WEEK, NEXT_WEEK], [MON, TUE], "12:00-14:00", open_=False).changed_slots == 0
    )
    assert change(desk, [NEXT_WEEK], [MON], "08:00-10:00", open_=True).changed_slots == 1
    monday = ["08:00", "09:00", "10:00", "11:00", "14:00", "15:00", "16:00", "17:00"]
    assert open_hours(desk, NEXT_WEEK, MON) == monday
    assert open_hours(desk, NEXT_WEEK, WED) == [f"{h:02d}:00" for h in range(9, 18)]


def test_closing_under_a_lesson_is_refused_unless_forced(desk: School) -> None:
    lesson = desk.book("10:00-11:00")  # Wednesday next week
    with pytest.raises(RuleError) as refused:
        change(desk, [NEXT_WEEK], [WED], "10:00-12:00", open_=False)
    assert str(refused.value) == (
        f"closing would leave lesson {lesson} (alice teaching bob, maths, 2026-12-02 "
        "10:00-11:00, booked) outside alice's availability: cancel or move them first, or "
        "repeat with --force (the lessons stay)"
    )
    assert "10:00" in open_hours(desk, NEXT_WEEK, WED)  # nothing was closed
    forced = change(desk, [NEXT_WEEK], [WED], "10:00-12:00", open_=False, force=True)
    assert (forced.changed_slots, forced.lessons_kept) == (2, [lesson])
    assert "10:00" not in open_hours(desk, NEXT_WEEK, WED)
    assert desk.read(lambda tx: lessons_by_id(tx, [lesson]))[lesson].status == LessonStatus.BOOKED
    # the student's week, with the teacher's availability overlaid
    ten = week(desk, NEXT_WEEK, "bob", "alice").days[WED].slots[10]
    assert (ten.time, ten.lesson_ids, ten.open, ten.with_open) == ("10:00", [lesson], False, False)


def test_a_stale_stamp_is_refused(desk: School) -> None:
    stamp = week(desk, NEXT_WEEK).stamp
    with pytest.raises(RuleError, match=rf"changed since it was shown \(stamp {stamp}, you had {stamp - 1}\)"):  # fmt: skip
        change(desk, [NEXT_WEEK], [MON], "09:00-10:00", open_=False, if_stamp=stamp - 1)
    done = change(desk, [NEXT_WEEK], [MON], "09:00-10:00", open_=False, if_stamp=stamp)
    assert done.stamps == {"2026-W49": stamp + 1} and week(desk, NEXT_WEEK).stamp == stamp + 1
    with pytest.raises(InputError, match="give a single --week"):
        change(desk, [WEEK, NEXT_WEEK], [MON], "09:00-10:00", open_=True, if_stamp=stamp + 1)


def test_a_week_is_copied_onto_others(desk: School) -> None:
    later = [NEXT_WEEK + timedelta(weeks=1), NEXT_WEEK + timedelta(weeks=2)]
    copied = desk.write(lambda tx: schedule.copy_availability(tx, "alice", WEEK, later))
    assert copied.changed_slots == 90 and copied.weeks == ["2026-W50", "2026-W51"]  # 2 × 5 × 9
    assert open_hours(desk, later[1], TUE) == open_hours(desk, WEEK, TUE)
    again = desk.write(lambda tx: schedule.copy_availability(tx, "alice", WEEK, [NEXT_WEEK]))
    assert again.changed_slots == 0
    with pytest.raises(InputError, match="--to includes the source week 2026-W48"):
        desk.write(lambda tx: schedule.copy_availability(tx, "alice", WEEK, [WEEK, NEXT_WEEK]))


def test_the_hour_the_clocks_skip_is_never_opened(desk: School) -> None:
    opened = change(desk, [SPRING], [SUN], "01:00-04:00", open_=True)
    assert (opened.changed_slots, opened.skipped) == (2, ["Sun 2027-03-28 02:00-03:00"])
    assert open_hours(desk, SPRING, SUN) == ["01:00", "03:00"]
    two = week(desk, SPRING).days[SUN].slots[2]
    assert (two.time, two.exists, two.open) == ("02:00", False, False)
    with pytest.raises(RuleError, match="cannot open Sun 2027-03-28 02:00-03:00: that time does not exist in Europe/Paris"):  # fmt: skip
        change(desk, [SPRING], [SUN], "02:00-03:00", open_=True)

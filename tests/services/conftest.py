"""Services tested directly: a real database per test (SQLite, and PostgreSQL through the
shared ``db_url`` fixture), each call one transaction at a fixed clock, and small builders.

    def test_x(school: School) -> None:
        school.write(lambda tx: booking.reserve(tx, "alice", "bob", "maths", WEEK, 2, 20, 22))
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from typing import TypeVar

import pytest

from tests.conftest import NOW
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.views import BookingResultView
from tutorctl.db.engine import dispose_engines
from tutorctl.db.uow import Database, Tx
from tutorctl.services import accounts, booking, check, schedule, settlement, users

T = TypeVar("T")
START = parse_now(NOW)  # Tuesday 2026-11-24 09:00 in Paris
WEEK = date(2026, 11, 23)  # its ISO week's Monday
NEXT_WEEK = WEEK + timedelta(weeks=1)


class School:
    """One database at a clock that moves only when told (``advance``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.now = START
        self.db = Database(url, Clock(self.now), actor="tester")

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)
        self.db = Database(self.url, Clock(self.now), actor="tester")

    def write(self, fn: Callable[[Tx], T], command: str = "test") -> T:
        """Run ``fn`` as one writing transaction (committed unless it raises)."""
        return self.db.write(command, fn)

    def read(self, fn: Callable[[Tx], T]) -> T:
        return self.db.read(fn)

    # -- builders ---------------------------------------------------------------------------

    def teacher(
        self, handle: str = "alice", weeks: int = 2, hours: tuple[int, int] = (9, 18)
    ) -> None:
        """A teacher open Monday to Friday, ``hours`` (whole hours), from this week on."""
        self.write(lambda tx: users.add_user(tx, handle, handle.title(), "teacher"))
        self.write(
            lambda tx: schedule.set_availability(
                tx,
                handle,
                [WEEK + timedelta(weeks=i) for i in range(weeks)],
                [0, 1, 2, 3, 4],
                tx.settings.grid.parse_time(f"{hours[0]:02d}:00"),
                tx.settings.grid.parse_time(f"{hours[1]:02d}:00", is_end=True),
                open_=True,
            )
        )

    def student(self, handle: str = "bob", balance_cents: int = 0) -> None:
        self.write(lambda tx: users.add_user(tx, handle, handle.title(), "student"))
        if balance_cents:
            self.write(lambda tx: accounts.credit(tx, handle, balance_cents, "test"))

    def category(self, name: str = "maths", price_cents: int = 4000) -> None:
        self.write(lambda tx: users.add_category(tx, name, price_cents))

    def slots(self, tx: Tx, time: str) -> tuple[int, int]:
        """``"10:00-11:00"`` on the school's slot grid."""
        return tx.settings.grid.parse_range(time)

    def reserve(
        self,
        time: str = "10:00-11:00",
        day: int = 2,
        week: date = NEXT_WEEK,
        student: str = "bob",
        teacher: str = "alice",
    ) -> BookingResultView:
        """A maths lesson held in the student's open session (Wednesday next week)."""

        def run(tx: Tx) -> BookingResultView:
            start, end = self.slots(tx, time)
            return booking.reserve(tx, teacher, student, "maths", week, day, start, end)

        return self.write(run)

    def book(
        self, time: str = "10:00-11:00", day: int = 2, student: str = "bob", week: date = NEXT_WEEK
    ) -> int:
        """A lesson reserved and confirmed (funded by packages, then the balance): its id."""
        held = self.reserve(time, day, week, student=student)
        self.write(lambda tx: settlement.confirm(tx, held.session_id))
        assert held.reservation_id is not None
        return held.reservation_id


@pytest.fixture
def school(db_url: str) -> Iterator[School]:
    """An initialised database (default settings) with no one in it."""
    yield School(db_url)
    dispose_engines()


@pytest.fixture
def invariants(school: School) -> Iterator[None]:
    """After the test, every invariant of ``check`` holds (``pytestmark = usefixtures``)."""
    yield
    assert school.read(check.check).violations == []


@pytest.fixture
def desk(school: School) -> School:
    """alice teaches (Mon-Fri 09-18, two weeks), bob has 100.00, maths costs 40.00 an hour."""
    school.teacher("alice")
    school.student("bob", balance_cents=10_000)
    school.category("maths", 4000)
    return school


def at(day: date, hour: int) -> datetime:
    """A wall-clock hour in Paris as an aware instant (for comparisons)."""
    from zoneinfo import ZoneInfo

    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo("Europe/Paris"))

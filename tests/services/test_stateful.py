"""A hypothesis state machine drives the services against a simple model of occupancy.

The model knows which (person, day, hour) each held or booked lesson occupies and predicts
whether a reserve must succeed; after every step the database must agree with it and
`check` must pass.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from tests.conftest import NOW, PgServer, fresh_database
from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.errors import RuleError
from tutorctl.db.uow import Database, Tx
from tutorctl.services import booking, check, payments, schedule, users

WEEK = date(2026, 11, 30)  # next week
DAYS = (2, 3)  # wed, thu
HOURS = (10, 11, 12)
TEACHERS = ("alice", "bruno")
STUDENTS = ("bob", "carl")


def setup_school(db: Database) -> None:
    def people(tx: Tx) -> None:
        for handle in TEACHERS:
            users.add_user(tx, handle, handle.title(), "teacher")
        for handle in STUDENTS:
            users.add_user(tx, handle, handle.title(), "student")
        users.add_category(tx, "maths", 4000)

    db.write("setup", people)
    for teacher in TEACHERS:
        db.write(
            "setup",
            lambda tx, t=teacher: schedule.set_availability(
                tx, t, [WEEK], list(DAYS), 10, 13, open_=True
            ),
        )


class BookingMachine(RuleBasedStateMachine):
    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        self.live: dict[
            int, tuple[str, str, int, int]
        ] = {}  # lesson → (teacher, student, day, hour)
        self.status: dict[int, str] = {}  # held | booked
        self.pending_cancel: set[int] = set()

    def _occupied(self, person: str, day: int, hour: int) -> bool:
        return any(day == d and hour == h and person in (t, s) for t, s, d, h in self.live.values())

    def _session(self, student: str) -> int | None:
        sessions = self.db.read(lambda tx: booking.list_sessions(tx, student, "open")).sessions
        return sessions[0].id if sessions else None

    @rule(
        teacher=st.sampled_from(TEACHERS),
        student=st.sampled_from(STUDENTS),
        day=st.sampled_from(DAYS),
        hour=st.sampled_from(HOURS),
    )
    def reserve(self, teacher: str, student: str, day: int, hour: int) -> None:
        expected = not (self._occupied(teacher, day, hour) or self._occupied(student, day, hour))
        try:
            result = self.db.write(
                "reserve",
                lambda tx: booking.reserve(
                    tx, teacher, student, "maths", WEEK, day, hour, hour + 1
                ),
            )
        except RuleError:
            assert not expected, (
                f"reserve {teacher}/{student} {day} {hour} was refused but the slot is free"
            )
            return
        assert expected, f"reserve {teacher}/{student} {day} {hour} double-booked"
        assert result.reservation_id is not None
        self.live[result.reservation_id] = (teacher, student, day, hour)
        self.status[result.reservation_id] = "held"

    @rule(student=st.sampled_from(STUDENTS), succeed=st.booleans())
    def pay_or_confirm(self, student: str, succeed: bool) -> None:
        sid = self._session(student)
        if sid is None:
            return
        to_pay = self.db.read(lambda tx: payments.show_resume(tx, sid)).to_pay_cents
        held = [
            lid
            for lid, (_t, s, _d, _h) in self.live.items()
            if s == student and self.status[lid] == "held"
        ]
        cancels = {lid for lid in self.pending_cancel if self.live[lid][1] == student}
        if to_pay == 0:
            self.db.write("confirm", lambda tx: payments.confirm(tx, sid))
            succeed = True
        else:
            started = self.db.write(
                "pay", lambda tx: payments.start_payment(tx, sid, "card", None, None)
            )
            assert started.payment_id is not None
            pid = started.payment_id
            self.db.write("result", lambda tx: payments.finish_payment(tx, sid, pid, succeed))
            if not succeed:
                self.db.write("confirm", lambda tx: payments.confirm(tx, sid, cancels=True))
        for lid in held:
            if succeed:
                self.status[lid] = "booked"
            else:
                del self.live[lid], self.status[lid]
        for lid in cancels:
            del self.live[lid], self.status[lid]
        self.pending_cancel -= cancels

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        candidates = sorted(
            lid
            for lid, s in self.status.items()
            if s == "booked" and lid not in self.pending_cancel
        )
        if not candidates:
            return
        lid = data.draw(st.sampled_from(candidates))
        self.db.write("cancel", lambda tx: booking.cancel(tx, lid))
        self.pending_cancel.add(lid)

    @rule(student=st.sampled_from(STUDENTS))
    def abandon(self, student: str) -> None:
        sid = self._session(student)
        if sid is None:
            return
        self.db.write("abandon", lambda tx: booking.abandon(tx, sid))
        for lid in [
            lid
            for lid, (_t, s, _d, _h) in self.live.items()
            if s == student and self.status[lid] == "held"
        ]:
            del self.live[lid], self.status[lid]
        self.pending_cancel -= {lid for lid in self.pending_cancel if self.live[lid][1] == student}

    @rule(student=st.sampled_from(STUDENTS), cents=st.integers(1, 10_000))
    def credit(self, student: str, cents: int) -> None:
        self.db.write("credit", lambda tx: payments.credit(tx, student, cents))

    @invariant()
    def database_agrees_with_the_model(self) -> None:
        def live(tx: Tx) -> dict[int, str]:
            found: dict[int, str] = {}
            for teacher in TEACHERS:
                for lesson in schedule.show_schedule(tx, teacher, WEEK).lessons:
                    if lesson.status in ("held", "booked"):
                        found[lesson.id] = lesson.status
            return found

        assert self.db.read(live) == self.status

    @invariant()
    def every_invariant_holds(self) -> None:
        report = self.db.read(check.check)
        assert report.ok, report.violations


@pytest.mark.slow
def test_state_machine(backend: str, pg_server: PgServer) -> None:
    def make() -> Any:
        context = fresh_database(backend, pg_server)
        url = context.__enter__()
        db = Database(url, Clock(parse_now(NOW)), actor="machine")
        setup_school(db)
        machine = BookingMachine(db)
        machine.teardown = lambda: context.__exit__(None, None, None)  # type: ignore[method-assign]
        return machine

    run_state_machine_as_test(
        make,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )

"""The PostgreSQL backstop is exact over every instant SPEC §6 allows (years 1900–2999).

Up to schema version 6 it packed person × 10^10 + epoch seconds into one int8range, so a
lesson after 2286 (or before 1970) of one person collided with a lesson of a neighbouring
person 10^10 seconds (about 317 years) away: valid bookings were refused as double bookings.
Issue 23.5. The scenarios run on both databases (SQLite has no backstop and must agree)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Cli, booked, school
from tests.db.test_migrations import drop_version_8
from tests.helpers import move_args, schedule_set_args
from tutorctl.db import backstop
from tutorctl.db.engine import get_engine
from tutorctl.db.migrations import SCHEMA_VERSION

PARIS = ZoneInfo("Europe/Paris")
PACK = 10**10  # the old packing's stride per person, in seconds
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Lesson:
    """A lesson of ``teacher`` and ``student`` at a local wall-clock time, as the CLI books it."""

    def __init__(self, teacher: str, student: str, start: datetime, hours: int) -> None:
        self.teacher, self.student = teacher, student
        self.start, self.end = start, start + timedelta(hours=hours)

    def packed(self, person: int) -> tuple[int, int]:
        """This lesson's span for ``person`` as versions 2–6 packed it."""
        return (
            person * PACK + int(self.start.timestamp()),
            person * PACK + int(self.end.timestamp()),
        )

    def book(self, cli: Cli) -> int:
        week = self.start.date().isoformat()
        day = DAYS[self.start.weekday()]
        span = f"{self.start:%H:%M}-{self.end:%H:%M}"
        cli.ok(*schedule_set_args(self.teacher, week, day, span), "--open")
        return booked(
            cli, teacher=self.teacher, student=self.student, week=week, day=day, time=span
        )


def _partner(lesson: Lesson, shift: int, teacher: str, student: str) -> Lesson:
    """A three-hour lesson around ``lesson``'s start shifted by ``shift`` seconds, on the
    hour grid of its own local day."""
    moment = (lesson.start + timedelta(seconds=shift)).astimezone(PARIS)
    start = moment.replace(minute=0, second=0) - timedelta(hours=1)
    return Lesson(teacher, student, start, 3)


def _ids(cli: Cli) -> dict[str, int]:
    return {u["handle"]: u["id"] for u in cli.json("user", "list")["users"]}


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _far_school(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    monkeypatch.setenv("TUTORCTL_NOW", "1905-01-02T09:00:00Z")  # everything below is ahead
    school(cli)
    cli.ok("account", "credit", "bob", "1000")
    cli.ok("account", "credit", "carl", "1000")
    ids = _ids(cli)
    assert [ids[h] for h in ("alice", "bruno", "bob", "carl")] == [1, 2, 3, 4]  # neighbours
    return ids


def _far_pairs(ids: dict[str, int]) -> list[tuple[Lesson, Lesson]]:
    """Two pairs of lessons of different people that the old packing made collide: bob in
    1905 against bruno (bob's id - 1) 10^10 s later (2222); alice in 2990 against bruno
    (alice's id + 1) 10^10 s earlier (2673)."""
    early = Lesson("alice", "bob", datetime(1905, 3, 15, 16, tzinfo=PARIS), 1)
    late = Lesson("alice", "bob", datetime(2990, 6, 13, 8, tzinfo=PARIS), 1)
    pairs = [
        (early, _partner(early, PACK, "bruno", "carl")),
        (late, _partner(late, -PACK, "bruno", "carl")),
    ]
    # the scenario really is the collision: bob's 1905 span against bruno's 2222 one, alice's
    # 2990 span against bruno's 2673 one, each person packed as the old backstop did
    assert ids["bruno"] == ids["bob"] - 1
    assert _overlap(early.packed(ids["bob"]), pairs[0][1].packed(ids["bruno"]))
    assert _overlap(late.packed(ids["alice"]), pairs[1][1].packed(ids["bruno"]))
    return pairs


def test_far_bookings_of_neighbouring_people_are_not_double_bookings(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _far_school(cli, monkeypatch)
    for first, second in _far_pairs(ids):
        first.book(cli)
        second.book(cli)  # refused as a double booking by the packed backstop
    for handle in ("alice", "bob", "bruno", "carl"):  # each person has exactly their two
        shown = [cli.json("schedule", "show", handle, "--week", week)["lessons"]
                 for week in ("1905-03-15", "2222-02-02", "2673-07-24", "2990-06-13")]  # fmt: skip
        assert sum(len(lessons) for lessons in shown) == 2, (handle, shown)


RAW = text(
    "INSERT INTO reservations (teacher_id, student_id, category_id, week, day, start_slot,"
    " end_slot, starts_at, ends_at, status, price_cents, unfunded, late_cancel, created_at)"
    " VALUES (:t, :s, 1, :week, :day, :a, :b, :sa, :ea, 'booked', 0, true, false, :sa)"
)


def _raw(url: str, teacher: int, student: int, lesson: Lesson) -> None:
    utc = ZoneInfo("UTC")
    start, end = lesson.start.astimezone(utc), lesson.end.astimezone(utc)
    with get_engine(url).begin() as conn:
        conn.execute(
            RAW,
            {
                "t": teacher,
                "s": student,
                "week": lesson.start.date() - timedelta(days=lesson.start.weekday()),
                "day": lesson.start.weekday(),
                "a": lesson.start.hour,
                "b": lesson.end.hour,
                "sa": start.replace(tzinfo=None),
                "ea": end.replace(tzinfo=None),
            },
        )


def _pg_only(cli: Cli) -> None:
    if not cli.url.startswith("postgresql"):
        pytest.skip("the exclusion backstop is PostgreSQL's; SQLite relies on BEGIN IMMEDIATE")


def _far_pg_school(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, int], list[tuple[Lesson, Lesson]]]:
    """On PostgreSQL only: the far school's ids and its pairs of neighbouring lessons."""
    _pg_only(cli)
    ids = _far_school(cli, monkeypatch)
    return ids, _far_pairs(ids)


def test_a_raw_overlapping_insert_far_from_1970_still_fails_at_commit(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, ((early, _), (late, _)) = _far_pg_school(cli, monkeypatch)
    for lesson in (early, late):
        lesson.book(cli)
        with pytest.raises(IntegrityError, match="no_double_booking"):  # bob is taken
            _raw(cli.url, ids["bruno"], ids["bob"], lesson)
        with pytest.raises(IntegrityError, match="no_double_booking"):  # alice is taken
            _raw(cli.url, ids["alice"], ids["carl"], lesson)
    _raw(cli.url, ids["bruno"], ids["carl"], late)  # other people, the same time: fine
    with get_engine(cli.url).begin() as conn:  # the closing check is about tutorctl's rows
        conn.execute(text("DELETE FROM reservations WHERE unfunded"))


def _as_version_6(conn: Any) -> None:
    """Put back the packed int8range backstop of versions 2–6 (its own statements), without
    what version 8 added."""
    drop_version_8(conn)
    for event in ("inserted", "updated"):
        conn.execute(text(f"DROP TRIGGER reservations_occupancy_{event} ON reservations"))
        conn.execute(text(f"DROP FUNCTION tutorctl_occupancy_{event}()"))
    conn.execute(text("DROP TRIGGER operations_move_lineage ON operations"))
    conn.execute(text("DROP FUNCTION tutorctl_move_lineage()"))
    conn.execute(text("DROP FUNCTION tutorctl_lineage(integer)"))
    conn.execute(text("DROP TABLE lesson_occupancy"))
    for statement in (
        *backstop.PG_BACKSTOP,
        *backstop.PG_BACKSTOP_LIVE,
        *backstop.PG_BACKSTOP_SET_BASED,
    ):
        conn.exec_driver_sql(statement)
    conn.execute(text("UPDATE tutorctl_schema SET version = 6"))


OCCUPANCY = text(
    "SELECT reservation_id, person_id, lower(span), upper(span), lineage FROM lesson_occupancy"
)
LIVE = text(
    "SELECT id, p, starts_at, ends_at FROM reservations,"
    " unnest(ARRAY[teacher_id, student_id]) AS p WHERE status IN ('held', 'booked')"
)


def test_upgrade_from_version_6_makes_the_backstop_exact_and_backfills_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids, ((early, early_partner), (late, late_partner)) = _far_pg_school(cli, monkeypatch)
    lesson = early.book(cli)
    late.book(cli)
    cli.ok(*schedule_set_args("alice", "1905-03-15", "wed", "16:00-18:00"), "--open")
    # a pending move: its held replacement overlaps the lesson it moves (one lineage)
    moved = cli.json(*move_args(lesson, week="1905-03-15", day="wed", time="16:00-18:00"))
    with get_engine(cli.url).begin() as conn:
        _as_version_6(conn)
        packed = conn.execute(text("SELECT count(*) FROM lesson_occupancy")).scalar()
    assert packed == 6  # three live lessons (two booked, the move's hold), two people each
    assert "older" in cli.fails(4, "user", "list").err
    upgraded = cli.json("db", "init")
    assert (upgraded["schema_version_before"], upgraded["schema_version"]) == (6, SCHEMA_VERSION)
    assert cli.json("db", "init")["schema_version_before"] == SCHEMA_VERSION  # re-run: no-op
    with get_engine(cli.url).begin() as conn:
        rows = conn.execute(OCCUPANCY).all()
        live = {(r, p, s, e) for r, p, s, e in conn.execute(LIVE)}
        kind = conn.execute(
            text("SELECT pg_typeof(span)::text FROM lesson_occupancy LIMIT 1")
        ).scalar()
    assert kind == "tsrange"
    assert {(r, p, s, e) for r, p, s, e, _lineage in rows} == live  # backfilled, exactly
    lineage = {r: g for r, _p, _s, _e, g in rows}
    assert lineage[moved["reservation_id"]] == lineage[lesson]  # the move keeps its lineage
    with pytest.raises(IntegrityError, match="no_double_booking"):
        _raw(cli.url, ids["bruno"], ids["bob"], late)  # bob is taken, in 2990
    early_partner.book(cli)  # valid at last
    late_partner.book(cli)
    cli.ok("session", "confirm", str(moved["session_id"]))

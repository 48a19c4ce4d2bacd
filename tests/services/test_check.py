"""``check`` called directly: each invariant is its own function, run in a fixed order, each
query capped at ``LIMIT`` rows (constant memory at any size)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import NOW, Cli, booked, school
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db.engine import get_engine
from tutorctl.db.uow import Database
from tutorctl.services import check

BOB = 3  # school(): alice, bruno, bob, carl


def _db(cli: Cli, *statements: str) -> None:
    with get_engine(cli.url).begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


def test_a_clean_school_passes_and_is_counted(cli: Cli) -> None:
    school(cli)
    booked(cli)
    view = Database(cli.url, Clock(parse_now(NOW))).read(check.check)
    assert view.ok and view.violations == []
    assert view.checked == {"reservations": 1, "accounts": 2, "purchases": 0, "sessions": 1}


def test_each_invariant_reports_in_order_and_at_most_limit_rows(cli: Cli) -> None:
    school(cli)
    lesson = booked(cli)
    _db(cli, f"UPDATE fundings SET minutes = 30 WHERE reservation_id = {lesson}",
        f"UPDATE accounts SET balance_cents = balance_cents + 1 WHERE student_id = {BOB}")  # fmt: skip
    db = Database(cli.url, Clock(parse_now(NOW)))
    found = db.read(check.check).violations
    assert [v.split(":")[0] for v in found] == ["balance", "funding", "money"]
    assert found[1] == f"funding: lesson {lesson} lasts 60 min but 30 min are funded"
    assert db.read(check.funding) == [found[1]] and db.read(check.overlaps) == []
    # many faults of one kind: the first LIMIT are listed, the query never loads them all
    copies = ", ".join(
        f"({lesson + n}, 1, {BOB}, 1, '2026-11-23', 2, 10, 11, '2026-11-25 09:00:00',"
        " '2026-11-25 10:00:00', 'done', 4000, false, false, '2026-11-20 09:00:00')"
        for n in range(1, check.LIMIT + 11)
    )
    _db(cli, "INSERT INTO reservations (id, teacher_id, student_id, category_id, week, day,"
             " start_slot, end_slot, starts_at, ends_at, status, price_cents, unfunded,"
             f" late_cancel, created_at) VALUES {copies}")  # fmt: skip
    assert len(db.read(check.funding)) == check.LIMIT
    _db(cli, f"DELETE FROM reservations WHERE id > {lesson}",
        f"UPDATE fundings SET minutes = 60 WHERE reservation_id = {lesson}",
        f"UPDATE accounts SET balance_cents = balance_cents - 1 WHERE student_id = {BOB}")  # fmt: skip

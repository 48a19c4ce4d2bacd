"""The resume as the desk's page (issue 18): sections 2 and 4 as tables with the seed's columns,
moves with what they change (a same-length move included), totals, the same figures in JSON,
plain and aligned when piped or with NO_COLOR."""

from __future__ import annotations

import pytest

from tests.conftest import Cli, reserve, school
from tests.helpers import move_args, purchase_args


def test_moves_cancels_and_new_lessons_as_tables(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    school(cli)
    cli.ok(
        *purchase_args("2", "76.00"),
        "--paid-hours",
        "1",
    )
    cli.ok("account", "credit", "bob", "200.00")
    a = reserve(cli, "--json", day="wed", time="10:00-11:00").json()
    b = reserve(cli, "--json", day="thu", time="10:00-11:00").json()
    c = reserve(cli, "--json", day="fri", time="10:00-12:00").json()
    d = reserve(cli, "--json", day="fri", time="15:00-16:00").json()
    cli.ok("session", "confirm", str(a["session_id"]))
    same, longer, shorter = a["reservation_id"], b["reservation_id"], c["reservation_id"]
    cli.ok(*move_args(same, week="next", day="mon", time="10:00-11:00"))
    cli.ok(*move_args(longer, week="next", day="thu", time="14:00-16:00"))
    cli.ok(*move_args(shorter, week="next", day="fri", time="14:00-15:00"))
    cli.ok("cancel", str(d["reservation_id"]))
    new = reserve(cli, "--json", teacher="bruno", category="piano", week="next", day="tue")
    sid = new.json()["session_id"]

    resume = cli.json("session", "resume", str(sid))
    moves = {m["lesson_id"]: m for m in resume["moves"]}
    assert set(moves) == {same, longer, shorter}
    assert moves[same]["change"] == "same length"
    assert (moves[same]["old_minutes"], moves[same]["new_minutes"]) == (60, 60)
    assert moves[same]["kept_purchase_minutes"] == 60 and moves[same]["kept_cents"] == 0
    assert moves[same]["from_time"] == "10:00-11:00" and moves[same]["to_date"] == "2026-11-30"
    assert moves[longer]["change"] == "longer" and moves[longer]["new_minutes"] == 120
    assert moves[shorter]["change"] == "shorter" and moves[shorter]["kept_cents"] == 4000
    # the cut hour of the shortened move and the cancelled lesson come back to the balance
    (cancels,) = resume["cancellations"]
    assert cancels["refunded_cents_to_balance"] == 4000 + 4000
    assert resume["cancellation_totals"] == {
        "lessons": 2,
        "minutes": 120,
        "refunded_minutes_to_purchases": 0,
        "refunded_cents_to_balance": 8000,
        "late_lessons": 0,
    }
    groups = {(g["teacher"], g["category"]): g for g in resume["new_lessons"]}
    # the extra hour of the longer move is a new lesson's worth of alice/maths
    assert groups[("alice", "maths")]["minutes"] == 60
    assert groups[("bruno", "piano")]["price_cents"] == 4550
    totals = resume["new_lesson_totals"]
    assert totals["minutes"] == 120 and totals["price_cents"] == 4000 + 4550
    assert totals["from_balance_cents"] + totals["external_cents"] == 8550

    monkeypatch.setenv("NO_COLOR", "1")
    text = cli.ok("session", "resume", str(sid)).out
    assert "\x1b" not in text
    lines = [line.rstrip() for line in text.splitlines()]
    assert "2. Cancellations and moves (amounts in EUR)" in lines
    head = next(i for i, line in enumerate(lines) if line.split()[:2] == ["lesson", "from"])
    rows = {line.split()[0]: line for line in lines[head + 2 : head + 5]}
    assert rows[str(same)].endswith("Mon 11-30 10:00-11:00   same length")
    assert rows[str(longer)].endswith("Thu 12-03 14:00-16:00   +1 h: see 4.")
    assert rows[str(shorter)].endswith("Fri 12-04 14:00-15:00   -1 h: refunded")
    # section 4: a row per teacher and category, a totals line, the money columns aligned
    start = lines.index("4. New lessons (amounts in EUR)")
    table = [line for line in lines[start:] if line.startswith(("  alice", "  bruno", "  total"))]
    assert [line.split()[0] for line in table] == ["alice", "bruno", "total"]
    assert len({len(line) for line in table}) == 1, table  # right-aligned "to pay" / account
    assert table[-1].split()[1:4] == ["2", "2", "h"]
    assert "85.50" in table[-1]

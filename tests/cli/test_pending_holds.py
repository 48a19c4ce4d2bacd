"""What a pending payment reserves (SPEC §4 reserved balance, §7 invariant 9), on both
databases: package hours and balance money its plan takes are nobody else's until the payment
is settled, and they are counted net of what the session's own cancels give back.

Every scenario ends with `tutorctl check` (the `cli` fixture)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli, reserve, school
from tests.helpers import purchase_args


def _package(cli: Cli, hours: str, price: str = "80.00") -> None:
    cli.ok(
        *purchase_args(hours, price),
    )  # fmt: skip


def _pending(cli: Cli, sid: int | str) -> None:
    started = cli.json("session", "pay", str(sid), "--method", "card", "--simulate", "pending")
    assert started["status"] == "awaiting_payment" and started["payment_status"] == "pending"


def _rows(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "lessons.csv"
    path.write_text(
        "teacher,student,category,date,start,end,status,history,purchase\n"
        + "".join(f"{row}\n" for row in rows)
    )
    return str(path)


def test_an_import_cannot_spend_package_hours_a_pending_payment_holds(
    cli: Cli, tmp_path: Path
) -> None:
    """Issue 23.1: 2 h of package 1 held by a pending 3 h lesson; an imported 1 h lesson funded
    by package 1 is refused (nothing written), and the payment then books the family's lesson."""
    school(cli)
    _package(cli, "2")
    held = reserve(cli, "--json", time="10:00-13:00").json()
    sid = held["session_id"]
    assert (
        cli.json("session", "resume", str(sid))["new_lesson_totals"]["from_purchases_minutes"]
        == 120
    )
    _pending(cli, sid)
    result = cli(
        "import",
        "reservations",
        _rows(tmp_path, "alice,bob,maths,2026-11-26,10:00,11:00,booked,false,1"),
    )
    assert result.code == 2, result.err
    assert "purchase 1 has 0 min left (120 min held by a payment in progress)" in result.err
    assert "the file uses 60" in result.err
    assert cli("check").code == 0
    assert [p["consumed_minutes"] for p in cli.json("purchase", "list")["purchases"]] == [0]
    done = cli.json("session", "pay", str(sid), "--method", "card")
    assert done["status"] == "paid" and done["payment_status"] == "succeeded"
    assert cli.json("account", "show", "bob")["balance_cents"] == 0
    lessons = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    assert [(x["id"], x["status"]) for x in lessons] == [(held["reservation_id"], "booked")]
    assert [p["consumed_minutes"] for p in cli.json("purchase", "list")["purchases"]] == [120]


def test_check_counts_a_pending_payments_package_hours_net_of_its_own_cancels(cli: Cli) -> None:
    """Issue 23.3: cancel a 2 h package lesson and book a 3 h one, paid pending: the session
    gives its 2 h back before it takes them again, so it holds nothing beyond what it used."""
    school(cli)
    _package(cli, "2")
    first = reserve(cli, "--json", time="10:00-12:00").json()
    cli.ok("session", "confirm", str(first["session_id"]))
    cancel = cli.json("cancel", str(first["reservation_id"]))
    sid = cancel["session_id"]
    new = reserve(cli, "--json", "--session", str(sid), day="thu", time="10:00-13:00").json()
    resume = cli.json("session", "resume", str(sid))
    assert resume["new_lesson_totals"]["from_purchases_minutes"] == 120
    assert resume["to_pay_cents"] == 4000
    _pending(cli, sid)
    checked = cli("check", "--json")
    assert checked.json()["violations"] == [] and checked.code == 0
    assert cli.json("account", "show", "bob")["reserved_cents"] == 0
    done = cli.json("session", "pay", str(sid), "--method", "card")
    assert done["status"] == "paid"
    thursday = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    assert [(x["id"], x["status"]) for x in thursday] == [(new["reservation_id"], "booked")]
    assert [p["consumed_minutes"] for p in cli.json("purchase", "list")["purchases"]] == [120]


def test_a_pending_payment_holds_what_it_takes_beyond_its_own_cancels(
    cli: Cli, tmp_path: Path
) -> None:
    """Net, not nothing: 4 h bought, a 2 h lesson booked; the session cancels it and books 3 h
    from the package (and a piano lesson by card): it holds 1 h beyond the 2 h it gives back,
    so 1 h is left to others, and an import may take exactly that."""
    school(cli)
    _package(cli, "4", "160.00")
    first = reserve(cli, "--json", time="10:00-12:00").json()
    cli.ok("session", "confirm", str(first["session_id"]))
    sid = cli.json("cancel", str(first["reservation_id"]))["session_id"]
    reserve(cli, "--json", "--session", str(sid), day="thu", time="10:00-13:00")
    reserve(cli, "--session", str(sid), teacher="bruno", category="piano", day="fri")
    _pending(cli, sid)
    assert cli("check").code == 0
    two = _rows(
        tmp_path,
        "alice,bob,maths,2026-11-30,10:00,11:00,booked,false,1",
        "alice,bob,maths,2026-11-30,11:00,12:00,booked,false,1",
    )
    refused = cli("import", "reservations", two)
    assert refused.code == 2, refused.err
    assert "purchase 1 has 60 min left (60 min held by a payment in progress)" in refused.err
    assert "the file uses 120" in refused.err
    one = _rows(tmp_path, "alice,bob,maths,2026-11-30,10:00,11:00,booked,false,1")
    cli.ok("import", "reservations", one)
    assert cli("check").code == 0
    refused = cli(
        "import",
        "reservations",
        _rows(tmp_path, "alice,bob,maths,2026-12-01,10:00,11:00,booked,false,1"),
    )
    assert refused.code == 2 and "purchase 1 has 0 min left (60 min held" in refused.err
    assert cli.json("session", "pay", str(sid), "--method", "card")["status"] == "paid"
    assert [p["consumed_minutes"] for p in cli.json("purchase", "list")["purchases"]] == [240]

"""Money going out and packages sold on credit (SPEC §4 money, §7 invariants 5 and 9)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Cli, booked, reserve, school
from tests.helpers import purchase_args
from tutorctl.db.engine import get_engine


def _db(cli: Cli, sql: str, **params: Any) -> list[Any]:
    with get_engine(cli.url).begin() as conn:
        result = conn.execute(text(sql), params)
        return list(result) if result.returns_rows else []


# -- account debit --------------------------------------------------------------------------------


@pytest.mark.pooled
def test_debit_pays_money_out_and_keeps_money_conserved(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "100.00")
    shown = cli.json("account", "debit", "bob", "30.00", "--reason", "refund to the family")
    assert shown["balance_cents"] == 7000
    ledger = cli.json("account", "history", "bob")["entries"]
    assert ledger[-1]["amount_cents"] == -3000 and ledger[-1]["reason"] == "refund to the family"
    entries = cli.json("history", "--user", "bob")["entries"]
    assert entries[-1]["command"] == "account debit"
    assert cli.json("check")["ok"] is True


def test_debit_never_goes_below_zero_nor_into_reserved_money(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "50.00")
    assert "insufficient funds" in cli.fails(1, "account", "debit", "bob", "60.00",
                                             "--reason", "x").err  # fmt: skip
    held = reserve(cli, "--json", day="wed").json()
    assert reserve(cli, day="thu").code == 0
    cli.ok("session", "pay", str(held["session_id"]), "--method", "card", "--simulate", "pending")
    assert cli.json("account", "show", "bob")["reserved_cents"] == 5000  # all of it
    cli.ok("account", "credit", "bob", "20.00")
    refused = cli.fails(1, "account", "debit", "bob", "25.00", "--reason", "x")
    assert "reserved for a payment in progress" in refused.err
    cli.ok("account", "debit", "bob", "20.00", "--reason", "the part not reserved")
    cli.fails(2, "account", "debit", "bob", "1.00")  # --reason is required
    cli.fails(2, "account", "debit", "bob", "-1.00", "--reason", "x")
    assert cli.json("account", "show", "bob")["balance_cents"] == 5000
    paid = cli.json("session", "pay", str(held["session_id"]), "--method", "card")
    assert paid["status"] == "paid"  # the reserved money was still there


def test_check_finds_money_that_left_without_a_debit(cli: Cli) -> None:
    school(cli)
    cli.ok("account", "credit", "bob", "50.00")
    cli.ok("account", "debit", "bob", "20.00", "--reason", "x")
    _db(cli, "UPDATE ledger SET kind = 'lesson' WHERE kind = 'debit'")
    violations = cli("check", "--json").json()["violations"]
    assert any(v.startswith("money:") for v in violations)
    _db(cli, "UPDATE ledger SET kind = 'debit' WHERE kind = 'lesson'")


# -- packages sold on credit ------------------------------------------------------------------------


def _package(cli: Cli, *extra: str) -> dict[str, Any]:
    return dict(cli.json(*purchase_args("3", "100.00"), *extra))


def test_purchase_records_the_payment_of_its_paid_hours(cli: Cli) -> None:
    school(cli)
    bought = _package(cli, "--paid-hours", "1", "--method", "card", "--reference", "T-1")
    assert bought["owed_minutes"] == 120 and bought["owed_cents"] == 6667
    ((amount, method, ref),) = _db(
        cli, "SELECT amount_cents, method, reference FROM package_payments"
    )
    assert (amount, method, ref) == (3333, "card", "T-1")


@pytest.mark.pooled
def test_settle_owed_hours_pro_rata_to_the_cent(cli: Cli) -> None:
    school(cli)
    package = _package(cli, "--paid-hours", "0")
    pid = str(package["id"])
    first = cli.json("purchase", "settle", pid, "--hours", "1", "--method", "cash")
    assert first["paid_minutes"] == 60 and first["owed_cents"] == 6667
    cli.fails(1, "purchase", "settle", pid, "--hours", "2.5", "--method", "cash")  # owes 2 h
    last = cli.json("purchase", "settle", pid, "--method", "transfer")  # the rest
    assert last["owed_minutes"] == 0 and last["owed_cents"] == 0
    amounts = [row[0] for row in _db(cli, "SELECT amount_cents FROM package_payments ORDER BY id")]
    assert amounts == [3333, 6667] and sum(amounts) == 10000
    assert "owes nothing" in cli.fails(1, "purchase", "settle", pid, "--method", "cash").err
    cli.fails(3, "purchase", "settle", "999", "--method", "cash")
    cli.fails(2, "purchase", "settle", pid, "--method", "bitcoin")
    history = cli.json("history", "--user", "bob")["entries"]
    assert [e["command"] for e in history[-2:]] == ["purchase settle", "purchase settle"]


def test_owed_hours_funding_lessons_are_said_on_credit_in_the_resume(cli: Cli) -> None:
    school(cli)
    _package(cli, "--paid-hours", "1")
    held = reserve(cli, "--json", time="10:00-12:00").json()
    resume = cli.json("session", "resume", str(held["session_id"]))
    (group,) = resume["new_lessons"]
    assert group["from_purchases_minutes"] == 120 and group["on_credit_minutes"] == 60
    shown = cli("session", "resume", str(held["session_id"])).out
    assert "(1 h on credit)" in shown


def test_check_finds_a_package_whose_payments_do_not_match(cli: Cli) -> None:
    school(cli)
    _package(cli, "--paid-hours", "2")
    _db(cli, "UPDATE package_payments SET amount_cents = amount_cents - 1")
    violations = cli("check", "--json").json()["violations"]
    assert any(v.startswith("package ") for v in violations)
    _db(cli, "UPDATE package_payments SET amount_cents = amount_cents + 1")
    _db(cli, "UPDATE purchases SET paid_minutes = 60")
    violations = cli("check", "--json").json()["violations"]
    assert any(v.startswith("package ") for v in violations)
    _db(cli, "UPDATE purchases SET paid_minutes = 120")


@pytest.mark.pooled
def test_imported_packages_record_their_payments(cli: Cli, tmp_path: Any) -> None:
    school(cli)
    rows = tmp_path / "purchases.csv"
    rows.write_text(
        "student,teacher,category,hours,price,paid_hours,method\n"
        "bob,alice,maths,3,100.00,1,card\n"
        "carl,alice,maths,2,80.00,,\n"
    )
    cli.ok("import", "purchases", str(rows))
    got = _db(cli, "SELECT minutes, amount_cents, method FROM package_payments ORDER BY id")
    assert [tuple(r) for r in got] == [(60, 3333, "card"), (120, 8000, "cash")]
    bad = tmp_path / "bad.csv"
    bad.write_text("student,teacher,category,hours,price,method\nbob,alice,maths,1,10.00,iou\n")
    assert "column method" in cli("import", "purchases", str(bad)).err


def test_a_lesson_paid_by_a_package_on_credit_keeps_every_invariant(cli: Cli) -> None:
    school(cli)
    package = _package(cli, "--paid-hours", "0")
    lesson = booked(cli)
    assert cli.json("purchase", "list")["purchases"][0]["consumed_minutes"] == 60
    cli.ok("purchase", "settle", str(package["id"]), "--method", "card")
    planned = cli.json("cancel", str(lesson))
    cli.ok("session", "confirm", str(planned["session_id"]))
    assert cli.json("purchase", "list")["purchases"][0]["consumed_minutes"] == 0

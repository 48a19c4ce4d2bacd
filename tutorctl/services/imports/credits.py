"""``import credits``: money put on a student's account (a ledger entry each)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert

from tutorctl.core.money import parse_amount
from tutorctl.core.status import LedgerKind, Role
from tutorctl.db.tables import ledger as L
from tutorctl.db.uow import Tx
from tutorctl.services.imports.driver import Job, Keys, Parsed
from tutorctl.services.imports.fields import handle, need, wrap
from tutorctl.services.users import check_name


class Credits:
    name = "credits"
    columns: tuple[str, ...] = ("student", "amount", "reason")
    handles: tuple[str, ...] = ("student",)

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        student = handle(row, "student")
        keys.account(student)
        return {
            "student": student,
            "amount": wrap("amount", lambda: parse_amount(need(row, "amount"))),
            "reason": wrap("reason", lambda: check_name(row.get("reason") or "import", "reason")),
        }

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        accounts = tx.locked_account_ids
        entries: list[dict[str, Any]] = []
        totals: dict[int, int] = {}
        for p in batch:
            uid, role, _active = job.people[p.values["student"]]
            if role != Role.STUDENT:
                job.problems.add(
                    p.line, "student", f"{p.values['student']!r} is a {role}, not a student"
                )
                continue
            account_id = accounts[uid]
            entries.append(
                {
                    "account_id": account_id,
                    "amount_cents": p.values["amount"],
                    "kind": LedgerKind.CREDIT,
                    "reason": p.values["reason"],
                    "actor": tx.actor,
                    "at": tx.now,
                }
            )
            totals[account_id] = totals.get(account_id, 0) + p.values["amount"]
        if entries:
            tx.run(insert(L), entries)
            for account in tx.accounts().values():
                if account.id in totals:
                    account.balance_cents += totals[account.id]
                    tx.orm.add(account)
            job.details["amount_cents"] = job.details.get("amount_cents", 0) + sum(totals.values())
        return len(entries)

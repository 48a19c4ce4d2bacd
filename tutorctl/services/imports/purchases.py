"""``import purchases``: packages of hours a student bought from a teacher, and what was paid."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import insert

from tutorctl.core.calendar import parse_date
from tutorctl.core.money import paid_price, parse_hours
from tutorctl.core.status import PaymentMethod
from tutorctl.db.schema import Purchase
from tutorctl.db.tables import package_payments as PP
from tutorctl.db.tables import purchases as P
from tutorctl.db.uow import Tx
from tutorctl.services.imports.categories import category_ids, price
from tutorctl.services.imports.driver import Job, Keys, Parsed
from tutorctl.services.imports.fields import RowError, handle, need, wrap


class Purchases:
    name = "purchases"
    columns: tuple[str, ...] = (
        "student",
        "teacher",
        "category",
        "hours",
        "price",
        "paid_hours",
        "date",
        "method",
    )
    handles: tuple[str, ...] = ("student", "teacher")

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        values = {
            "student": handle(row, "student"),
            "teacher": handle(row, "teacher"),
            "category": need(row, "category"),
            "bought": wrap("hours", lambda: parse_hours(need(row, "hours"))),
            "price_cents": price(row),
        }
        paid = row.get("paid_hours", "")
        values["paid"] = wrap("paid_hours", lambda: parse_hours(paid)) if paid else values["bought"]
        if not 0 <= values["paid"] <= values["bought"] or values["bought"] == 0:
            raise RowError("paid_hours", "between 0 and the hours bought, and hours > 0")
        on = row.get("date", "")
        values["date"] = wrap("date", lambda: parse_date(on)) if on else tx.today
        values["method"] = (row.get("method") or PaymentMethod.CASH).strip().lower()
        if values["method"] not in tuple(PaymentMethod):
            raise RowError("method", f"use one of {', '.join(PaymentMethod)} (default cash)")
        keys.person(values["teacher"])
        keys.account(values["student"])
        return values

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        categories = category_ids(tx, {p.values["category"] for p in batch})
        rows, methods = [], []
        for p in batch:
            v = p.values
            if v["category"] not in categories:
                job.problems.add(p.line, "category", f"no category {v['category']!r}")
                continue
            wrong = [
                (column, f"{v[column]!r} is a {job.people[v[column]][1]}, not a {column}")
                for column in ("student", "teacher")
                if job.people[v[column]][1] != column
            ]
            if wrong:
                job.problems.add(p.line, *wrong[0])
                continue
            rows.append(
                {
                    "student_id": job.people[v["student"]][0],
                    "teacher_id": job.people[v["teacher"]][0],
                    "category_id": categories[v["category"]],
                    "bought_minutes": v["bought"],
                    "paid_minutes": v["paid"],
                    "consumed_minutes": 0,
                    "price_cents": v["price_cents"],
                    "purchased_on": v["date"],
                    "created_at": tx.now,
                }
            )
            methods.append(v["method"])
        if not rows:
            return 0
        ids = tx.allocate_ids(Purchase, len(rows))
        for purchase_id, row in zip(ids, rows, strict=True):
            row["id"] = purchase_id
        tx.run(insert(P), rows)
        # each package's paid hours are money received: one payment each, pro rata to the
        # cent, received on the package's date (an import brings past sales: their money
        # belongs to the month they were sold in, not to the day of the import)
        zone = tx.settings.zone
        paid = [
            {
                "purchase_id": row["id"],
                "method": method,
                "minutes": row["paid_minutes"],
                "amount_cents": paid_price(
                    row["price_cents"], row["paid_minutes"], row["bought_minutes"]
                ),
                "reference": None,
                "actor": tx.actor,
                "at": min(datetime.combine(row["purchased_on"], time(), tzinfo=zone), tx.now),
            }
            for row, method in zip(rows, methods, strict=True)
            if row["paid_minutes"]
        ]
        if paid:
            tx.run(insert(PP), paid)
        return len(rows)

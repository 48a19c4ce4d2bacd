"""``import categories``: name and price; and how the other kinds find a category."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from tutorctl.core.limits import as_id, is_digits
from tutorctl.core.money import parse_amount
from tutorctl.db.tables import categories as C
from tutorctl.db.uow import Tx
from tutorctl.services.imports.driver import Job, Keys, Parsed
from tutorctl.services.imports.fields import RowError, need, wrap
from tutorctl.services.users import check_name


def price(row: dict[str, str]) -> int:
    return int(
        wrap("price", lambda: parse_amount(need(row, "price"), allow_zero=True, what="price"))
    )


class Categories:
    name = "categories"
    columns: tuple[str, ...] = ("name", "price")
    handles: tuple[str, ...] = ()

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        name = wrap("name", lambda: check_name(need(row, "name"), "category name", 100))
        if name in seen:
            raise RowError("name", f"{name!r} appears twice in the file")
        seen.add(name)
        return {"name": name, "price_cents": price(row)}

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        names = [p.values["name"] for p in batch]
        existing = {n for (n,) in tx.run(select(C.c.name).where(C.c.name.in_(names)))}
        for p in batch:
            if p.values["name"] in existing:
                job.problems.add(p.line, "name", f"category {p.values['name']!r} already exists")
        fresh = [{**p.values, "active": True} for p in batch if p.values["name"] not in existing]
        if fresh:
            tx.run(insert(C), fresh)
        return len(fresh)


def category_ids(tx: Tx, names: set[str]) -> dict[str, int]:
    """name (or id, in ASCII digits) → id, of the categories that exist."""
    ids = {n: i for i, n in tx.run(select(C.c.id, C.c.name).where(C.c.name.in_(sorted(names))))}
    for name in names:
        if name in ids or not is_digits(name) or int(name) == 0:
            continue  # a name, or an id no row has: the row reports the unknown category
        row = tx.run(select(C.c.id).where(C.c.id == as_id(name))).first()  # over 2**31-1: -1
        if row:
            ids[name] = row[0]
    return ids

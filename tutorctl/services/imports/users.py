"""``import users``: handle, name, role; a student gets an account."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, literal, select

from tutorctl.core.addresses import check_email
from tutorctl.core.status import Role
from tutorctl.db.tables import accounts as A
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.imports.driver import Job, Keys, Parsed
from tutorctl.services.imports.fields import RowError, handle, need, wrap
from tutorctl.services.users import ROLES, check_name


def _email(text: str | None) -> str | None:
    """The optional ``email`` column: empty is none."""
    return check_email(text, "email") if text and text.strip() else None


class Users:
    name = "users"
    columns: tuple[str, ...] = ("handle", "name", "role", "email")
    handles: tuple[str, ...] = ()  # a new user is not resolved: it must not exist yet

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        value = handle(row, "handle")
        if value in seen:
            raise RowError("handle", f"{value!r} appears twice in the file")
        seen.add(value)
        role = need(row, "role")
        if role not in ROLES:
            raise RowError("role", f"bad role {role!r}: use teacher or student")
        return {
            "handle": value,
            "name": wrap("name", lambda: check_name(need(row, "name"))),
            "role": role,
            "email": wrap("email", lambda: _email(row.get("email"))),
        }

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        handles = [p.values["handle"] for p in batch]
        existing = {h for (h,) in tx.run(select(U.c.handle).where(U.c.handle.in_(handles)))}
        fresh = [p for p in batch if p.values["handle"] not in existing]
        for p in batch:
            if p.values["handle"] in existing:
                job.problems.add(p.line, "handle", f"user {p.values['handle']!r} already exists")
        if not fresh:
            return 0
        tx.run(insert(U), [{**p.values, "active": True, "created_at": tx.now} for p in fresh])
        students = [p.values["handle"] for p in fresh if p.values["role"] == Role.STUDENT]
        if students:
            tx.run(
                insert(A).from_select(
                    ["student_id", "balance_cents"],
                    select(U.c.id, literal(0)).where(U.c.handle.in_(students)),
                )
            )
        job.details["students"] = job.details.get("students", 0) + len(students)
        return len(fresh)

"""``import availability``: a teacher's slots of some days of a week, opened or closed."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tutorctl.core.availability import WeekAvailability
from tutorctl.core.calendar import parse_days, parse_week
from tutorctl.core.status import Role
from tutorctl.db.schema import CalendarWeek
from tutorctl.db.uow import Tx
from tutorctl.services.imports.driver import Job, Keys, Parsed
from tutorctl.services.imports.fields import RowError, boolean, handle, need, wrap


class Availability:
    name = "availability"
    columns: tuple[str, ...] = ("teacher", "week", "days", "hours", "action", "force")
    handles: tuple[str, ...] = ("teacher",)

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        teacher = handle(row, "teacher")
        week = wrap("week", lambda: parse_week(need(row, "week"), tx.today))
        days = wrap("days", lambda: parse_days(need(row, "days")))
        start, end = wrap("hours", lambda: tx.settings.grid.parse_range(need(row, "hours")))
        action = row.get("action", "open").lower() or "open"
        if action not in ("open", "close"):
            raise RowError("action", f"bad action {action!r}: use open or close")
        keys.week(teacher, week)
        return {
            "teacher": teacher,
            "week": week,
            "days": days,
            "start": start,
            "end": end,
            "open": action == "open",
            "force": boolean(row, "force", False),
        }

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        from tutorctl.services.lessons import overlapping

        grid, zone = tx.settings.grid, tx.settings.zone
        for p in batch:
            v = p.values
            uid, role, _active = job.people[v["teacher"]]
            if role != Role.TEACHER:
                job.problems.add(p.line, "teacher", f"{v['teacher']!r} is a {role}, not a teacher")
                continue
            row = tx.orm.exec(
                select(CalendarWeek).where(
                    CalendarWeek.user_id == uid, CalendarWeek.week == v["week"]
                )
            ).one()  # locked by the driver; the ORM keeps one object per week
            week = WeekAvailability.from_row(row)
            for day in v["days"]:
                missing = set(grid.missing_slots(zone, v["week"], day, v["start"], v["end"]))
                existing = [s for s in range(v["start"], v["end"]) if s not in missing]
                week = week.with_slots(day, existing, open_=v["open"])
                if (
                    not v["open"]
                    and not v["force"]
                    and overlapping(
                        tx, [uid], v["week"], day, v["start"], v["end"], as_teacher_only=True
                    )
                ):
                    job.problems.add(
                        p.line, "hours", "closing slots under lessons: add force=true to keep them"
                    )
            week.apply_to(row)
        return len(batch)

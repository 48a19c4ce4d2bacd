"""Bulk import: one file, one locked unit of work, all or nothing.

Pass 1 streams the file and validates every row on its own (forms, values, duplicates inside
the file), collecting the calendar weeks and accounts the file will touch. Any bad row: every
one is reported with its line and column (exit 2), nothing is written. Pass 2 locks all those
keys at once, streams the file again and writes in batches (multi-row INSERTs), checking what
needs the database (existing handles, overlaps, availability, packages) set-based per batch;
a refusal there rolls the whole file back. Memory depends on the batch and on the number of
distinct people and weeks, not on the number of rows.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, literal, select, union_all, update

from tutorctl.core.errors import InputError
from tutorctl.core.limits import MAX_ID, as_id, is_digits
from tutorctl.core.money import METHODS, paid_price, parse_amount, parse_hours, prorate
from tutorctl.core.timegrid import SlotGrid, parse_date, parse_days, parse_week
from tutorctl.core.views import ImportView
from tutorctl.db.schema import (
    Account,
    Category,
    Funding,
    LedgerEntry,
    PackagePayment,
    Purchase,
    Reservation,
    User,
)
from tutorctl.db.uow import Prepared, Tx
from tutorctl.services.lessons import NEW_LESSON_COLUMNS
from tutorctl.services.users import HANDLE, ROLES, check_name

KINDS = ("users", "categories", "availability", "purchases", "credits", "reservations")
HANDLE_COLUMNS = {
    "availability": ("teacher",),
    "purchases": ("student", "teacher"),
    "credits": ("student",),
    "reservations": ("teacher", "student"),
}
BATCH = 1000
MAX_REPORTED = 100

U = User.__table__  # type: ignore[attr-defined]
C = Category.__table__  # type: ignore[attr-defined]
R = Reservation.__table__  # type: ignore[attr-defined]
A = Account.__table__  # type: ignore[attr-defined]
P = Purchase.__table__  # type: ignore[attr-defined]
F = Funding.__table__  # type: ignore[attr-defined]
L = LedgerEntry.__table__  # type: ignore[attr-defined]
# the bulk insert of lessons: one executemany on the driver (ids allocated up front)
NEW_RESERVATION = Prepared(insert(R).inline(), keys=("id", *NEW_LESSON_COLUMNS))

Row = tuple[int, dict[str, str]]
Progress = Callable[[int], None]


# -- reading files -------------------------------------------------------------------------------


def detect_format(path: str, given: str | None) -> str:
    if given:
        if given not in ("csv", "jsonl"):
            raise InputError(f"bad --format {given!r}: use csv or jsonl")
        return given
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(
        f"cannot tell the format of {path!r}: name it .csv or .jsonl, or give --format"
    )


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    """Stream (line number, row) from a CSV file (header line 1) or a JSON Lines file.

    A UTF-8 byte order mark (what spreadsheets write as "CSV UTF-8") is skipped. In JSON, money
    (``price``, ``amount``) is a string such as ``"45.50"`` or an integer, never a float.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            if fmt == "csv":
                reader = csv.reader(handle)
                header = [name.strip() for name in next(reader, [])]
                width = len(header)
                for values in reader:
                    if not values:
                        continue  # a blank line, as DictReader skips them
                    line = reader.line_num
                    if len(values) > width:
                        yield line, {"__error__": "more values than columns"}
                        continue
                    row = dict(zip(header, map(str.strip, values), strict=False))
                    for name in header[len(values) :]:
                        row[name] = ""  # a short line: the missing values are empty
                    yield line, row
            else:
                for line, text in enumerate(handle, 1):
                    if not text.strip():
                        continue
                    try:
                        value = json.loads(text)
                    except json.JSONDecodeError as exc:
                        yield line, {"__error__": f"not JSON ({exc.msg})"}
                        continue
                    except (ValueError, RecursionError):  # a 5000-digit number, deep nesting
                        yield line, {"__error__": "not JSON this tool reads"}
                        continue
                    if not isinstance(value, dict):
                        yield line, {"__error__": "not a JSON object"}
                        continue
                    floats = [k for k in MONEY_COLUMNS if isinstance(value.get(k), float)]
                    if floats:
                        yield line, _json_float(floats[0], value[floats[0]])
                        continue
                    yield (
                        line,
                        {str(k): "" if v is None else str(v).strip() for k, v in value.items()},
                    )
        except UnicodeDecodeError:
            raise InputError(
                f'{path.name} is not UTF-8 text: save it as UTF-8 (spreadsheets: "CSV UTF-8")'
            ) from None
        except csv.Error as exc:  # a field over csv.field_size_limit(), a broken quote
            raise InputError(f"{path.name}: line {reader.line_num}: bad CSV ({exc})") from None


MONEY_COLUMNS = ("price", "amount")


def _json_float(column: str, value: float) -> dict[str, str]:
    return {
        "__error__": f"{value!r} is a JSON float: write money as a string such as "
        '"45.50" (or a whole number)',
        "__column__": column,
    }


# -- row validation -----------------------------------------------------------------------------------


class RowError(Exception):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


@dataclass
class Problems:
    file: str
    items: list[tuple[int, str]] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, column: str | None, reason: str) -> None:
        self.count += 1
        if len(self.items) < MAX_REPORTED:
            where = (f"line {line}" if line else "file") + (f", column {column}" if column else "")
            self.items.append((line, f"{where}: {reason}"))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        more = f"\n  … and {self.count - MAX_REPORTED} more" if self.count > MAX_REPORTED else ""
        raise InputError(
            f"{self.count} bad row(s) in {self.file}; nothing was written"
            + "".join(f"\n  {text}" for _line, text in sorted(self.items))
            + more
        )


def _need(row: dict[str, str], column: str) -> str:
    value = row.get(column, "")
    if value == "":
        raise RowError(column, "missing")
    return value


def _handle(row: dict[str, str], column: str) -> str:
    value = _need(row, column)
    if not HANDLE.match(value):
        raise RowError(column, f"bad handle {value!r}")
    if is_digits(value):
        raise RowError(column, f"bad handle {value!r}: never all digits (it would read as an id)")
    return value


def _bool(row: dict[str, str], column: str, default: bool) -> bool:
    value = row.get(column, "").lower()
    if value == "":
        return default
    if value in ("1", "true", "yes", "y"):
        return True
    if value in ("0", "false", "no", "n"):
        return False
    raise RowError(column, f"bad boolean {value!r}: use true or false")


def _wrap(column: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InputError as exc:
        raise RowError(column, exc.message) from None


@dataclass(frozen=True)
class Parsed:
    line: int
    values: dict[str, Any]


@dataclass
class Plan:
    """What pass 1 learned: rows are valid; these keys will be locked."""

    rows: int = 0
    handles: set[str] = field(default_factory=set)
    week_keys: set[tuple[str, date]] = field(default_factory=set)  # (handle, monday)
    students: set[str] = field(default_factory=set)  # accounts locked: money or packages change


def _parse(tx: Tx, kind: str, row: dict[str, str], plan: Plan, seen: set[str]) -> dict[str, Any]:
    if "__error__" in row:
        raise RowError(row.get("__column__", ""), row["__error__"])
    grid = tx.settings.grid
    if kind == "users":
        handle = _handle(row, "handle")
        if handle in seen:
            raise RowError("handle", f"{handle!r} appears twice in the file")
        seen.add(handle)
        role = _need(row, "role")
        if role not in ROLES:
            raise RowError("role", f"bad role {role!r}: use teacher or student")
        return {
            "handle": handle,
            "name": _wrap("name", lambda: check_name(_need(row, "name"))),
            "role": role,
        }
    if kind == "categories":
        name = _wrap("name", lambda: check_name(_need(row, "name"), "category name", 100))
        if name in seen:
            raise RowError("name", f"{name!r} appears twice in the file")
        seen.add(name)
        return {
            "name": name,
            "price_cents": _wrap(
                "price", lambda: parse_amount(_need(row, "price"), allow_zero=True, what="price")
            ),
        }
    if kind == "availability":
        teacher = _handle(row, "teacher")
        week = _wrap("week", lambda: parse_week(_need(row, "week"), tx.today))
        days = _wrap("days", lambda: parse_days(_need(row, "days")))
        start, end = _wrap("hours", lambda: grid.parse_range(_need(row, "hours")))
        action = row.get("action", "open").lower() or "open"
        if action not in ("open", "close"):
            raise RowError("action", f"bad action {action!r}: use open or close")
        plan.handles.add(teacher)
        plan.week_keys.add((teacher, week))
        return {
            "teacher": teacher,
            "week": week,
            "days": days,
            "start": start,
            "end": end,
            "open": action == "open",
            "force": _bool(row, "force", False),
        }
    if kind == "purchases":
        values = {
            "student": _handle(row, "student"),
            "teacher": _handle(row, "teacher"),
            "category": _need(row, "category"),
            "bought": _wrap("hours", lambda: _minutes(_need(row, "hours"))),
            "price_cents": _wrap(
                "price", lambda: parse_amount(_need(row, "price"), allow_zero=True, what="price")
            ),
        }
        paid = row.get("paid_hours", "")
        values["paid"] = _wrap("paid_hours", lambda: _minutes(paid)) if paid else values["bought"]
        if not 0 <= values["paid"] <= values["bought"] or values["bought"] == 0:
            raise RowError("paid_hours", "between 0 and the hours bought, and hours > 0")
        on = row.get("date", "")
        values["date"] = _wrap("date", lambda: parse_date(on)) if on else tx.today
        values["method"] = (row.get("method") or "cash").strip().lower()
        if values["method"] not in METHODS:
            raise RowError("method", f"use one of {', '.join(METHODS)} (default cash)")
        plan.handles.update((values["student"], values["teacher"]))
        plan.students.add(values["student"])
        return values
    if kind == "credits":
        student = _handle(row, "student")
        plan.handles.add(student)
        plan.students.add(student)
        return {
            "student": student,
            "amount": _wrap("amount", lambda: parse_amount(_need(row, "amount"))),
            "reason": _wrap("reason", lambda: check_name(row.get("reason") or "import", "reason")),
        }
    return _parse_reservation(tx, row, plan)


def _parse_reservation(tx: Tx, row: dict[str, str], plan: Plan) -> dict[str, Any]:
    """The hot row kind (a big import parses every row twice): the date and time columns,
    which repeat across rows, are worked out once per distinct value."""
    teacher, student = _handle(row, "teacher"), _handle(row, "student")
    monday, weekday, start, end, starts_at, ends_at = _when(
        tx.settings.grid,
        tx.settings.zone,
        _need(row, "date"),
        _need(row, "start"),
        _need(row, "end"),
    )
    status = row.get("status") or "booked"
    if status not in ("booked", "done"):
        raise RowError("status", f"bad status {status!r}: use booked or done")
    purchase = row.get("purchase", "")
    if purchase and (not is_digits(purchase) or int(purchase) == 0):
        raise RowError("purchase", f"bad purchase id {purchase!r}")
    if purchase and int(purchase) > MAX_ID:
        raise RowError("purchase", f"no purchase {purchase} (ids go up to {MAX_ID})")
    history = _bool(row, "history", status == "done" or starts_at < tx.now)
    if status == "done" and not history:
        raise RowError("history", "a done lesson is history")
    if status == "done" and ends_at > tx.now:
        raise RowError("status", "a done lesson has ended: this one ends later (import it booked)")
    plan.handles.add(teacher)
    plan.handles.add(student)
    plan.week_keys.add((teacher, monday))
    plan.week_keys.add((student, monday))
    if purchase:  # it consumes the student's package: lock their account, as the desk does
        plan.students.add(student)
    return {
        "teacher": teacher,
        "student": student,
        "category": _need(row, "category"),
        "week": monday,
        "day": weekday,
        "start": start,
        "end": end,
        "status": status,
        "history": history,
        "purchase": int(purchase) if purchase else None,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


@lru_cache(maxsize=16384)  # bounded: a hostile file of distinct dates keeps memory flat
def _when(
    grid: SlotGrid, zone: ZoneInfo, day_text: str, start_text: str, end_text: str
) -> tuple[date, int, int, int, datetime, datetime]:
    """(monday, weekday, start slot, end slot, starts at, ends at) of a lesson's date and times."""
    column = "date"
    try:
        day = parse_date(day_text)
        column = "start"
        start = grid.parse_time(start_text)
        column = "end"
        end = grid.parse_time(end_text, is_end=True)
    except InputError as exc:
        raise RowError(column, exc.message) from None
    if end <= start:
        raise RowError("end", "the end must be after the start")
    weekday = day.weekday()
    monday = day - timedelta(days=weekday)
    missing = grid.missing_slots(zone, monday, weekday, start, end)
    if missing:
        raise RowError("start", f"{grid.format_slot(missing[0])} does not exist on {day} (DST)")
    starts_at = grid.instant(zone, monday, weekday, start)
    ends_at = grid.instant(zone, monday, weekday, end)
    if ends_at - starts_at != timedelta(minutes=grid.minutes(start, end)):
        raise RowError(
            "end",
            f"spans a change of the clocks on {day}: it would last "
            f"{int((ends_at - starts_at).total_seconds()) // 60} real minutes but be billed "
            f"{grid.minutes(start, end)}",
        )
    return monday, weekday, start, end, starts_at, ends_at


def _minutes(text: str) -> int:
    """Hours (``10``, ``7.5``; at most 10,000) → whole minutes."""
    return parse_hours(text)


# -- the import ---------------------------------------------------------------------------------------


def run_import(
    tx: Tx,
    kind: str,
    file_label: str,
    rows: Callable[[], Iterator[Row]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportView:
    if kind not in KINDS:
        raise InputError(f"bad kind {kind!r}: use one of {', '.join(KINDS)}")
    problems = Problems(file_label)
    plan = Plan()
    seen: set[str] = set()
    for line, row in rows():  # pass 1: every row on its own, and the keys to lock
        plan.rows += 1
        try:
            _parse(tx, kind, row, plan, seen)
        except RowError as err:
            problems.add(line, err.column, err.reason)
    people = _resolve(tx, plan.handles)
    tx.lock(
        accounts=[people[h][0] for h in plan.students if h in people and people[h][1] == "student"],
        weeks={(people[h][0], week) for h, week in plan.week_keys if h in people},
    )
    writer = WRITERS[kind]
    details: dict[str, int] = {}
    written = 0
    batch: list[Parsed] = []

    def flush() -> None:
        nonlocal written
        if batch:
            written += writer(tx, batch, people, problems, details)
            if progress:
                progress(len(batch))
            batch.clear()

    seen.clear()
    for line, row in rows():  # pass 2: write in batches, check against the database
        try:
            values = _parse(tx, kind, row, Plan(), seen)
        except RowError:
            continue  # already reported by pass 1; the file will be rolled back
        unknown = [c for c in HANDLE_COLUMNS.get(kind, ()) if values[c] not in people]
        for column in unknown:
            problems.add(line, column, f"no user {values[column]!r}")
        if not unknown:
            batch.append(Parsed(line, values))
        if len(batch) >= BATCH:
            flush()
    flush()
    problems.raise_if_any()  # raising rolls the whole file back
    tx.audit(  # linked to every person the file names (history --user finds the import)
        f"import {kind}",
        users=[uid for uid, _role, _active in people.values()],
        file=file_label,
        rows=plan.rows,
        written=written,
        counts=dict(details),
    )
    if dry_run:
        tx.discard()
    return ImportView(
        kind=kind,
        file=file_label,
        rows=plan.rows,
        written=written,
        dry_run=dry_run,
        details=details,
    )


def _resolve(tx: Tx, handles: set[str]) -> dict[str, tuple[int, str, bool]]:
    found: dict[str, tuple[int, str, bool]] = {}
    names = sorted(handles)
    for i in range(0, len(names), BATCH):
        for uid, handle, role, active in tx.session.execute(
            select(U.c.id, U.c.handle, U.c.role, U.c.active).where(
                U.c.handle.in_(names[i : i + BATCH])
            )
        ):
            found[handle] = (uid, role, active)
    return found


Writer = Callable[
    [Tx, list[Parsed], dict[str, tuple[int, str, bool]], Problems, dict[str, int]], int
]


def _write_users(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    handles = [p.values["handle"] for p in batch]
    existing = {h for (h,) in tx.session.execute(select(U.c.handle).where(U.c.handle.in_(handles)))}
    fresh = [p for p in batch if p.values["handle"] not in existing]
    for p in batch:
        if p.values["handle"] in existing:
            problems.add(p.line, "handle", f"user {p.values['handle']!r} already exists")
    if not fresh:
        return 0
    tx.session.execute(
        insert(U), [{**p.values, "active": True, "created_at": tx.now} for p in fresh]
    )
    students = [p.values["handle"] for p in fresh if p.values["role"] == "student"]
    if students:
        tx.session.execute(
            insert(A).from_select(
                ["student_id", "balance_cents"],
                select(U.c.id, literal(0)).where(U.c.handle.in_(students)),
            )
        )
    details["students"] = details.get("students", 0) + len(students)
    return len(fresh)


def _write_categories(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    names = [p.values["name"] for p in batch]
    existing = {n for (n,) in tx.session.execute(select(C.c.name).where(C.c.name.in_(names)))}
    for p in batch:
        if p.values["name"] in existing:
            problems.add(p.line, "name", f"category {p.values['name']!r} already exists")
    fresh = [{**p.values, "active": True} for p in batch if p.values["name"] not in existing]
    if fresh:
        tx.session.execute(insert(C), fresh)
    return len(fresh)


def _write_availability(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    from tutorctl.services.lessons import overlapping

    grid, zone = tx.settings.grid, tx.settings.zone
    for p in batch:
        v = p.values
        uid, role, _active = people[v["teacher"]]
        if role != "teacher":
            problems.add(p.line, "teacher", f"{v['teacher']!r} is a {role}, not a teacher")
            continue
        row = tx.locked_weeks[(uid, v["week"])]
        for day in v["days"]:
            slots = list(getattr(row, f"d{day}"))
            missing = set(grid.missing_slots(zone, v["week"], day, v["start"], v["end"]))
            for slot in range(v["start"], v["end"]):
                if slot not in missing:
                    slots[slot] = "1" if v["open"] else "0"
            if (
                not v["open"]
                and not v["force"]
                and overlapping(
                    tx, [uid], v["week"], day, v["start"], v["end"], as_teacher_only=True
                )
            ):
                problems.add(
                    p.line, "hours", "closing slots under lessons: add force=true to keep them"
                )
            setattr(row, f"d{day}", "".join(slots))
    return len(batch)


def _category_ids(tx: Tx, names: set[str]) -> dict[str, int]:
    ids = {
        n: i
        for i, n in tx.session.execute(select(C.c.id, C.c.name).where(C.c.name.in_(sorted(names))))
    }
    for name in names:
        number = as_id(name)  # ASCII digits; over 2**31-1 it names nothing (-1)
        if number is not None and name not in ids:
            row = tx.session.execute(select(C.c.id).where(C.c.id == number)).first()
            if row:
                ids[name] = row[0]
    return ids


def _write_purchases(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    categories = _category_ids(tx, {p.values["category"] for p in batch})
    rows, methods = [], []
    for p in batch:
        v = p.values
        if v["category"] not in categories:
            problems.add(p.line, "category", f"no category {v['category']!r}")
            continue
        if people[v["student"]][1] != "student" or people[v["teacher"]][1] != "teacher":
            problems.add(p.line, "student", "student must be a student and teacher a teacher")
            continue
        rows.append(
            {
                "student_id": people[v["student"]][0],
                "teacher_id": people[v["teacher"]][0],
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
    if rows:
        ids = tx.allocate_ids(Purchase, len(rows))
        for purchase_id, row in zip(ids, rows, strict=True):
            row["id"] = purchase_id
        tx.session.execute(insert(P), rows)
        # each package's paid hours are money received: one payment each, pro rata to the cent
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
                "at": tx.now,
            }
            for row, method in zip(rows, methods, strict=True)
            if row["paid_minutes"]
        ]
        if paid:
            tx.session.execute(insert(PackagePayment.__table__), paid)  # type: ignore[attr-defined]
    return len(rows)


def _write_credits(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    accounts = tx.locked_account_ids
    entries: list[dict[str, Any]] = []
    totals: dict[int, int] = {}
    for p in batch:
        uid, role, _active = people[p.values["student"]]
        if role != "student":
            problems.add(p.line, "student", f"{p.values['student']!r} is a {role}, not a student")
            continue
        account_id = accounts[uid]
        entries.append(
            {
                "account_id": account_id,
                "amount_cents": p.values["amount"],
                "kind": "credit",
                "reason": p.values["reason"],
                "actor": tx.actor,
                "at": tx.now,
            }
        )
        totals[account_id] = totals.get(account_id, 0) + p.values["amount"]
    if entries:
        tx.session.execute(insert(L), entries)
        for account in tx.accounts().values():
            if account.id in totals:
                account.balance_cents += totals[account.id]
                tx.session.add(account)
        details["amount_cents"] = details.get("amount_cents", 0) + sum(totals.values())
    return len(entries)


def _write_reservations(
    tx: Tx, batch: list[Parsed], people: Any, problems: Problems, details: dict[str, int]
) -> int:
    categories = _category_ids(tx, {p.values["category"] for p in batch})
    prices = dict(
        tx.session.execute(
            select(C.c.id, C.c.price_cents).where(C.c.id.in_(list(categories.values())))
        ).all()
    )
    grid = tx.settings.grid
    good: list[Parsed] = []
    for p in batch:
        v = p.values
        teacher, student = people[v["teacher"]], people[v["student"]]
        if teacher[1] != "teacher" or student[1] != "student":
            problems.add(p.line, "teacher", "teacher must be a teacher and student a student")
        elif v["category"] not in categories:
            problems.add(p.line, "category", f"no category {v['category']!r}")
        elif not v["history"] and not (teacher[2] and student[2]):
            problems.add(p.line, "student", "inactive people take no new lessons")
        elif not v["history"] and tx.locked_weeks.availability((teacher[0], v["week"]), v["day"])[
            v["start"] : v["end"]
        ] != "1" * (v["end"] - v["start"]):
            problems.add(p.line, "start", f"{v['teacher']} is not available then")
        else:
            good.append(p)
    if not good:
        return 0
    minutes = {id(p): grid.minutes(p.values["start"], p.values["end"]) for p in good}
    rows = [
        {
            "teacher_id": people[p.values["teacher"]][0],
            "student_id": people[p.values["student"]][0],
            "category_id": categories[p.values["category"]],
            "week": p.values["week"],
            "day": p.values["day"],
            "start_slot": p.values["start"],
            "end_slot": p.values["end"],
            "starts_at": p.values["starts_at"],
            "ends_at": p.values["ends_at"],
            "status": p.values["status"],
            "price_cents": prorate(prices[categories[p.values["category"]]], minutes[id(p)]),
            "rate_cents": prices[categories[p.values["category"]]],
            "session_id": None,  # imported lessons belong to no booking session
            "unfunded": p.values["purchase"] is None,
            "late_cancel": False,
            "created_at": tx.now,
        }
        for p in good
    ]
    ids = tx.allocate_ids(Reservation, len(rows))
    for row, lesson_id in zip(rows, ids, strict=True):
        row["id"] = lesson_id
    tx.run_many(NEW_RESERVATION, rows)
    line_of = dict(zip(ids, (p.line for p in good), strict=True))
    _overlaps(tx, ids, line_of, problems)
    _fund_from_purchases(tx, good, ids, minutes, rows, problems, details)
    details["lessons"] = details.get("lessons", 0) + len(ids)
    return len(ids)


def _overlaps(tx: Tx, ids: list[int], line_of: dict[int, int], problems: Problems) -> None:
    # done rows are checked too (SPEC §6): a lesson that took place occupied its teacher and
    # its student, so imported rows (booked or done) may overlap neither each other nor any
    # held, booked or done lesson of the same person
    live = R.c.status.in_(("held", "booked", "done"))
    occupancy = union_all(
        select(
            R.c.id, R.c.teacher_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(live),
        select(
            R.c.id, R.c.student_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(live),
    ).subquery()
    mine = union_all(
        select(
            R.c.id, R.c.teacher_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(R.c.id.in_(ids), live),
        select(
            R.c.id, R.c.student_id.label("person"), R.c.week, R.c.day, R.c.start_slot, R.c.end_slot
        ).where(R.c.id.in_(ids), live),
    ).subquery()
    clashes = tx.session.execute(
        select(mine.c.id, func.min(occupancy.c.id))
        .select_from(
            mine.join(
                occupancy,
                and_(
                    occupancy.c.person == mine.c.person,
                    occupancy.c.week == mine.c.week,
                    occupancy.c.day == mine.c.day,
                    occupancy.c.id != mine.c.id,
                    occupancy.c.start_slot < mine.c.end_slot,
                    mine.c.start_slot < occupancy.c.end_slot,
                ),
            )
        )
        .group_by(mine.c.id)
    )
    for lesson, other in clashes:
        where = f"line {line_of[other]}" if other in line_of else f"lesson {other}"
        problems.add(line_of[lesson], "start", f"overlaps {where}")


def _fund_from_purchases(
    tx: Tx,
    good: list[Parsed],
    ids: list[int],
    minutes: dict[int, int],
    rows: list[dict[str, Any]],
    problems: Problems,
    details: dict[str, int],
) -> None:
    wanted: dict[int, int] = {}
    for p in good:
        if p.values["purchase"] is not None:
            wanted[p.values["purchase"]] = wanted.get(p.values["purchase"], 0) + minutes[id(p)]
    if not wanted:
        return
    stock = {row.id: row for row in tx.session.execute(select(P).where(P.c.id.in_(list(wanted))))}
    fundings = []
    for p, lesson_id, row in zip(good, ids, rows, strict=True):
        pid = p.values["purchase"]
        if pid is None:
            continue
        purchase = stock.get(pid)
        if purchase is None or (purchase.student_id, purchase.teacher_id, purchase.category_id) != (
            row["student_id"],
            row["teacher_id"],
            row["category_id"],
        ):
            problems.add(
                p.line,
                "purchase",
                f"purchase {pid} is not this student's package for this teacher and category",
            )
            continue
        fundings.append(
            {
                "reservation_id": lesson_id,
                "source": "purchase",
                "purchase_id": pid,
                "minutes": minutes[id(p)],
                "amount_cents": 0,
            }
        )
    for pid, total in wanted.items():
        purchase = stock.get(pid)
        if purchase is not None and purchase.consumed_minutes + total > purchase.bought_minutes:
            problems.add(
                0,
                "purchase",
                f"purchase {pid} has {purchase.bought_minutes - purchase.consumed_minutes} min left, the file uses {total}",
            )
    if problems.count:
        return
    if fundings:
        tx.session.execute(insert(F), fundings)
    for pid, total in wanted.items():
        tx.session.execute(
            update(P).where(P.c.id == pid).values(consumed_minutes=P.c.consumed_minutes + total)
        )
    details["funded_minutes"] = details.get("funded_minutes", 0) + sum(wanted.values())


WRITERS: dict[str, Writer] = {
    "users": _write_users,
    "categories": _write_categories,
    "availability": _write_availability,
    "purchases": _write_purchases,
    "credits": _write_credits,
    "reservations": _write_reservations,
}

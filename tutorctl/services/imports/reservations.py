"""``import reservations``: lessons, booked or done (history), each funded or not.

A row's ``funding`` gives the lesson's whole funding, part by part (``imports.funding``):
package minutes are consumed from the package, as the desk does; money (from the balance or a
payment, in the database the lesson was exported from) came in before the import, so it
enters the student's account as a credit spent at once on the lesson (two ledger entries, the
balance unchanged) and is recorded as the lesson's funding: every invariant holds in the new
database, and a cancel refunds it as any lesson's money. Files written before the ``funding``
column name one ``purchase`` that funds the whole lesson; that column is still read. A row's
``rate`` (or ``rate_cents``) is the lesson's hourly price (absent: its category's price now),
and its money must be that price's share of the minutes it pays (``funding.money_problem``).

The hot kind (a big import is millions of these rows, parsed twice): the date and time columns,
which repeat across rows, are worked out once per distinct value; lessons go in with one
executemany per batch, then overlaps and packages are checked set-based in the database.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, func, insert, select, union_all, update

from tutorctl.core.calendar import SlotGrid, parse_date
from tutorctl.core.errors import InputError
from tutorctl.core.limits import MAX_ID, is_digits
from tutorctl.core.money import prorate
from tutorctl.core.status import FundingSource, LedgerKind, LessonStatus
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import Reservation
from tutorctl.db.tables import categories as C
from tutorctl.db.tables import fundings as F
from tutorctl.db.tables import ledger as L
from tutorctl.db.tables import purchases as P
from tutorctl.db.tables import reservations as R
from tutorctl.db.uow import Tx
from tutorctl.services import placement
from tutorctl.services.imports import funding
from tutorctl.services.imports.categories import category_ids
from tutorctl.services.imports.driver import Job, Keys, Parsed, Problems
from tutorctl.services.imports.fields import RowError, boolean, handle, need
from tutorctl.services.imports.funding import Part
from tutorctl.services.imports.weeks import availability
from tutorctl.services.lessons import NEW_LESSON_COLUMNS, new_lesson_row
from tutorctl.services.packages import package_stock

# the bulk insert of lessons: one executemany on the driver (ids allocated up front); an
# imported lesson is booked when it is imported (its reminder: SPEC §11, `notify send`)
NEW_RESERVATION = Prepared(insert(R).inline(), keys=("id", *NEW_LESSON_COLUMNS, "booked_at"))
IMPORTED = (LessonStatus.BOOKED, LessonStatus.DONE)


class Reservations:
    name = "reservations"
    columns: tuple[str, ...] = (
        "teacher", "student", "category", "date", "start", "end", "status", "history", "funding",
        "rate", "rate_cents", "purchase",
    )  # fmt: skip
    handles: tuple[str, ...] = ("teacher", "student")

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        teacher, student = handle(row, "teacher"), handle(row, "student")
        monday, weekday, start, end, starts_at, ends_at = _when(
            tx.settings.grid,
            tx.settings.zone,
            need(row, "date"),
            need(row, "start"),
            need(row, "end"),
        )
        status = row.get("status") or LessonStatus.BOOKED
        if status not in IMPORTED:
            raise RowError("status", f"bad status {status!r}: use booked or done")
        column, parts = _funding(row, tx.settings.grid.minutes(start, end))
        done = status == LessonStatus.DONE
        history = boolean(row, "history", done or starts_at < tx.now)
        if done and not history:
            raise RowError("history", "a done lesson is history")
        if done and ends_at > tx.now:
            raise RowError(
                "status", "a done lesson has ended: this one ends later (import it booked)"
            )
        keys.week(teacher, monday)
        keys.week(student, monday)
        if parts:  # package minutes or money of the student: lock their account, as the desk does
            keys.account(student)
        return {
            "teacher": teacher,
            "student": student,
            "category": need(row, "category"),
            "week": monday,
            "day": weekday,
            "start": start,
            "end": end,
            "status": str(status),
            "history": history,
            "funding": parts,
            "funding_column": column,  # where a problem with the funding is reported
            "rate": funding.rate(row),  # None: the category's price when the file is read
            "starts_at": starts_at,
            "ends_at": ends_at,
        }

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        categories = category_ids(tx, {p.values["category"] for p in batch})
        prices = dict(
            tx.run(
                select(C.c.id, C.c.price_cents).where(C.c.id.in_(list(categories.values())))
            ).all()
        )
        weeks = availability(  # new bookings only: history is not checked against it
            tx,
            {
                (job.people[p.values["teacher"]][0], p.values["week"])
                for p in batch
                if not p.values["history"]
            },
        )
        grid = tx.settings.grid
        good: list[Parsed] = []
        for p in batch:
            v = p.values
            teacher, student = job.people[v["teacher"]], job.people[v["student"]]
            if not placement.roles_fit(teacher[1], student[1]):
                job.problems.add(
                    p.line, "teacher", "teacher must be a teacher and student a student"
                )
            elif v["category"] not in categories:
                job.problems.add(p.line, "category", f"no category {v['category']!r}")
            elif problem := funding.money_problem(
                v["funding"],
                _rate(v, prices[categories[v["category"]]]),
                grid.minutes(v["start"], v["end"]),
            ):
                job.problems.add(p.line, v["funding_column"], problem)
            elif not v["history"] and not placement.take_new_lessons(teacher[2], student[2]):
                job.problems.add(p.line, "student", "inactive people take no new lessons")
            elif not v["history"] and not weeks[(teacher[0], v["week"])].open_between(
                v["day"], v["start"], v["end"]
            ):
                job.problems.add(p.line, "start", f"{v['teacher']} is not available then")
            else:
                good.append(p)
        if not good:
            return 0
        minutes = {id(p): grid.minutes(p.values["start"], p.values["end"]) for p in good}
        rows = []
        for p in good:
            v = p.values
            category = categories[v["category"]]
            rate = _rate(v, prices[category])
            rows.append(
                new_lesson_row(
                    tx,
                    job.people[v["teacher"]][0],
                    job.people[v["student"]][0],
                    category,
                    v["week"],
                    v["day"],
                    v["start"],
                    v["end"],
                    status=v["status"],
                    price_cents=prorate(rate, minutes[id(p)]),
                    rate_cents=rate,
                    session_id=None,  # imported lessons belong to no booking session
                    unfunded=not v["funding"],
                    span=(v["starts_at"], v["ends_at"]),
                )
            )
        ids = tx.allocate_ids(Reservation, len(rows))
        for row, lesson_id in zip(rows, ids, strict=True):
            row["id"], row["booked_at"] = lesson_id, tx.now
        tx.run_many(NEW_RESERVATION, rows)
        line_of = dict(zip(ids, (p.line for p in good), strict=True))
        _overlaps(tx, ids, line_of, job.problems)
        _fund(tx, good, ids, rows, job)
        job.details["lessons"] = job.details.get("lessons", 0) + len(ids)
        return len(ids)


def _rate(values: dict[str, Any], category_price: int) -> int:
    """The row's hourly price: its own (an export's ``rate``), else its category's now."""
    rate: int | None = values["rate"]
    return category_price if rate is None else rate


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
    missing = placement.missing_slot(grid, zone, monday, weekday, start, end)
    if missing is not None:
        raise RowError("start", f"{grid.format_slot(missing)} does not exist on {day} (DST)")
    real = placement.real_minutes(grid, zone, monday, weekday, start, end)
    if real is not None:
        raise RowError(
            "end",
            f"spans a change of the clocks on {day}: it would last {real} real minutes but be "
            f"billed {grid.minutes(start, end)}",
        )
    starts_at = grid.instant(zone, monday, weekday, start)
    ends_at = grid.instant(zone, monday, weekday, end)
    return monday, weekday, start, end, starts_at, ends_at


# done rows are checked too (SPEC §6): a lesson that took place occupied its teacher and its
# student, so imported rows (booked or done) may overlap neither each other nor any held,
# booked or done lesson of the same person
OCCUPYING = {LessonStatus.HELD, LessonStatus.BOOKED, LessonStatus.DONE}
FREEING = sorted(set(LessonStatus) - OCCUPYING)
_MINE, _OTHER = R.alias("mine"), R.alias("other")


def _clashes_as(mine: Any, other: Any) -> Any:
    """(new lesson, a lesson it overlaps) where ``mine`` and ``other`` name the same person:
    driven from the batch's ids through the person's (teacher or student, week, day) index."""
    return (
        select(_MINE.c.id, _OTHER.c.id.label("other"))
        .select_from(
            _MINE.join(
                _OTHER,
                and_(
                    other == mine,
                    _OTHER.c.week == _MINE.c.week,
                    _OTHER.c.day == _MINE.c.day,
                    _OTHER.c.id != _MINE.c.id,
                    _OTHER.c.start_slot < _MINE.c.end_slot,
                    _MINE.c.start_slot < _OTHER.c.end_slot,
                    # NOT IN: an IN list would lure SQLite's planner (no statistics in the
                    # middle of an import) into scanning the status index first
                    _OTHER.c.status.not_in(FREEING),
                ),
            )
        )
        .where(_MINE.c.id.in_(bindparam("ids", expanding=True)))  # all booked or done
    )


# a user's role never changes: a teacher is never a lesson's student, so a new lesson can only
# clash through its teacher's lessons or through its student's
_PAIRS = union_all(
    _clashes_as(_MINE.c.teacher_id, _OTHER.c.teacher_id),
    _clashes_as(_MINE.c.student_id, _OTHER.c.student_id),
).subquery()
CLASHES = select(_PAIRS.c.id, func.min(_PAIRS.c.other)).group_by(_PAIRS.c.id)


def _overlaps(tx: Tx, ids: list[int], line_of: dict[int, int], problems: Problems) -> None:
    for lesson, other in tx.run(CLASHES, {"ids": ids}):
        where = f"line {line_of[other]}" if other in line_of else f"lesson {other}"
        problems.add(line_of[lesson], "start", f"overlaps {where}")


def _funding(row: dict[str, str], minutes: int) -> tuple[str, tuple[Part, ...]]:
    """(the column it came from, the parts) of a row's funding; () for an unfunded lesson."""
    text, purchase = row.get("funding", ""), row.get("purchase", "")
    if text and purchase:
        raise RowError("funding", "give the funding or the purchase, not both")
    if purchase:  # a file written before the funding column: one package, the whole lesson
        if not is_digits(purchase) or int(purchase) == 0:
            raise RowError("purchase", f"bad purchase id {purchase!r}")
        if int(purchase) > MAX_ID:
            raise RowError("purchase", f"no purchase {purchase} (ids go up to {MAX_ID})")
        return "purchase", (Part(FundingSource.PURCHASE, minutes, 0, int(purchase)),)
    parts = funding.parse(text)
    covered = sum(part.minutes for part in parts)
    if parts and covered != minutes:
        raise RowError("funding", f"the funding covers {covered} of the lesson's {minutes} min")
    return "funding", parts


def _fund(tx: Tx, good: list[Parsed], ids: list[int], rows: list[dict[str, Any]], job: Job) -> None:
    """Record each lesson's funding: package minutes (at most what is left, counted over the
    whole file, a problem named on the line that runs a package out) and money."""
    funded = [
        (p, lesson_id, row)
        for p, lesson_id, row in zip(good, ids, rows, strict=True)
        if p.values["funding"]
    ]
    if not funded:
        return
    pids = {
        part.purchase_id
        for p, _lesson, _row in funded
        for part in p.values["funding"]
        if part.purchase_id is not None
    }
    stock = {r.id: r for r in tx.run(select(P).where(P.c.id.in_(sorted(pids))))} if pids else {}
    # minutes left in each package when the file first names it, and what the file uses so far:
    # across batches, whatever was written (a batch with problems writes nothing)
    left: dict[int, int] = job.memo.setdefault("left", {})
    wanted: dict[int, int] = job.memo.setdefault("wanted", {})
    held: dict[int, int] = job.memo.setdefault("held", {})
    # what is left now, less what payments in progress hold (their student's account is locked)
    first_named = [pid for pid in stock if pid not in left]
    for pid, known in (package_stock(tx, purchase_ids=first_named) if first_named else {}).items():
        left[pid], held[pid] = known.available_minutes, known.held_minutes
    fundings: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    used: dict[int, int] = {}
    money_in = 0
    for p, lesson_id, row in funded:
        column, money = p.values["funding_column"], 0
        owner = (row["student_id"], row["teacher_id"], row["category_id"])
        for part in p.values["funding"]:
            pid = part.purchase_id
            if pid is not None:
                purchase = stock.get(pid)
                if (
                    purchase is None
                    or (purchase.student_id, purchase.teacher_id, purchase.category_id) != owner
                ):
                    job.problems.add(
                        p.line,
                        column,
                        f"purchase {pid} is not this student's package for this teacher and "
                        "category",
                    )
                    continue
                wanted[pid] = wanted.get(pid, 0) + part.minutes
                if wanted[pid] > left[pid]:
                    job.problems.add(
                        p.line,
                        column,
                        f"purchase {pid} has {left[pid]} min left"
                        + (f" ({held[pid]} min held by a payment in progress)" if held[pid] else "")
                        + f", the file uses {wanted[pid]} by this line",
                    )
                used[pid] = used.get(pid, 0) + part.minutes
            money += part.amount_cents
            fundings.append(
                {
                    "reservation_id": lesson_id,
                    "source": part.source,
                    "purchase_id": pid,
                    "payment_id": None,  # a payment of another database
                    "minutes": part.minutes,
                    "amount_cents": part.amount_cents,
                }
            )
        if money:
            account = tx.locked_account_ids[row["student_id"]]
            for kind, amount, reason in (
                (LedgerKind.CREDIT, money, f"lesson {lesson_id}: paid before the import"),
                (LedgerKind.LESSON, -money, f"lesson {lesson_id}"),
            ):
                ledger.append(
                    {
                        "account_id": account,
                        "amount_cents": amount,
                        "kind": kind,
                        "reason": reason,
                        "reservation_id": lesson_id,
                        "actor": tx.actor,
                        "at": tx.now,
                    }
                )
            money_in += money
    if job.problems.count:
        return
    tx.run(insert(F), fundings)
    for pid, total in used.items():
        tx.run(update(P).where(P.c.id == pid).values(consumed_minutes=P.c.consumed_minutes + total))
    if ledger:  # the balance is unchanged: each credit is spent at once on its lesson
        tx.run(insert(L), ledger)
    details = job.details
    if used:
        details["funded_minutes"] = details.get("funded_minutes", 0) + sum(used.values())
    if money_in:
        details["funded_cents"] = details.get("funded_cents", 0) + money_in

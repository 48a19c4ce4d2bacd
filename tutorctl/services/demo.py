"""A small demo school, built through the same services staff use (each step one transaction).

Re-running refreshes it: people, categories and packages are added once, availability is set
again, and lessons are booked only if the demo has none in the coming days.

The demo never writes into a real school (issue 18). It builds only in a database that is
empty (no tables at all, or a tutorctl schema whose history holds nothing but ``db init``) or
that holds a previous demo: one whose history has the demo's marker entry (command ``demo``,
subject ``demo school``, written when the demo first builds), or, for demos built before the
marker existed, one whose every history entry was written by ``db init`` or ``demo``. Every
mutation is in the history (invariant 7), so a school with anything staff did is refused.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlmodel import col, func, select

from tutorctl.core.calendar import monday_of
from tutorctl.core.config import mask_url
from tutorctl.core.errors import RuleError
from tutorctl.core.status import PaymentMethod
from tutorctl.core.views import ScheduleView
from tutorctl.db.schema import Category, History, LedgerEntry, Purchase, Reservation, User
from tutorctl.db.uow import Database, Tx
from tutorctl.services import accounts, booking, packages, resume, schedule, settlement, users
from tutorctl.services import settings as school

TEACHERS = [("alice", "Alice Martin"), ("bruno", "Bruno Costa")]
STUDENTS = [("chloe", "Chloé Dubois"), ("david", "David Kim"), ("emma", "Emma Rossi")]
CATEGORIES = [("maths", 4000), ("piano", 4550), ("english", 3500)]


MARKER = "demo school"  # the subject of the history entry that marks a demo database
DEMO_COMMANDS = ("db init", "demo", "demo reserve", "demo confirm", "demo pay", "demo payment")


def what_it_holds(conn: Connection) -> str | None:
    """None when the demo may build here (empty, or a previous demo); else what is there."""
    tables = set(sa_inspect(conn).get_table_names())
    if not tables:
        return None
    if "history" not in tables or "tutorctl_schema" not in tables:
        return f"{len(tables)} table(s) that are not a tutorctl school's"
    entries = select(func.count()).select_from(History)
    marked = conn.execute(
        entries.where(History.command == "demo", History.subject == MARKER)
    ).scalar_one()
    if marked:
        return None
    other = conn.execute(entries.where(col(History.command).not_in(DEMO_COMMANDS))).scalar_one()
    if other == 0:
        return None
    users = conn.execute(select(func.count()).select_from(User)).scalar_one()
    return f"a school that is not a demo ({users} user(s), {other} history entries of its own)"


def refuse_unless_demo(db: Database, fresh_hint: str) -> None:
    """Refuse (exit 1) a database that holds anything but a previous demo, saying how to point
    the demo elsewhere."""
    held = db.inspect(what_it_holds)
    if held is not None:
        raise RuleError(
            f"refused: {mask_url(db.url)} holds {held}; the demo never writes into it. "
            f"Run `tutorctl demo --fresh` (its own file, {fresh_hint}) or "
            "`tutorctl --db sqlite:///PATH demo` with a new PATH"
        )


def _mark(tx: Tx) -> None:
    found = tx.orm.exec(
        select(func.count())
        .select_from(History)
        .where(History.command == "demo", History.subject == MARKER)
    ).one()
    if found:
        tx.unchanged()
    else:
        tx.audit(MARKER, note="built by tutorctl demo; demo may refresh this database")


def _people(tx: Tx) -> None:
    for handle, name in TEACHERS:
        if tx.orm.exec(select(User).where(User.handle == handle)).first() is None:
            users.add_user(tx, handle, name, "teacher")
    for handle, name in STUDENTS:
        if tx.orm.exec(select(User).where(User.handle == handle)).first() is None:
            users.add_user(tx, handle, name, "student")
    for name, price in CATEGORIES:
        if tx.orm.exec(select(Category).where(Category.name == name)).first() is None:
            users.add_category(tx, name, price)


def _availability(tx: Tx, teacher: str, days: list[int], start: str, end: str) -> None:
    grid = tx.settings.grid
    monday = monday_of(tx.today)
    schedule.set_availability(
        tx,
        teacher,
        [monday + timedelta(weeks=i) for i in range(3)],
        days,
        grid.parse_time(start),
        grid.parse_time(end, is_end=True),
        open_=True,
    )


def _package(tx: Tx) -> None:
    chloe = users.find_user(tx, "chloe")
    if tx.orm.exec(select(Purchase).where(Purchase.student_id == chloe.id)).first() is None:
        packages.add_purchase(tx, "chloe", "alice", "maths", 10 * 60, 38000, 8 * 60)


def _credit(tx: Tx) -> None:
    david = users.find_user(tx, "david")
    account = accounts.account_of(tx, david)
    if (
        tx.orm.exec(select(LedgerEntry).where(LedgerEntry.account_id == account.id)).first()
        is None
    ):
        accounts.credit(tx, "david", 10000, "demo top-up")


def _future_weekdays(tx: Tx, count: int) -> list[tuple[int, int]]:
    """(week offset from this Monday, day) of the next ``count`` weekdays after today."""
    today = tx.today
    found: list[tuple[int, int]] = []
    day = today + timedelta(days=1)
    while len(found) < count:
        if day.weekday() < 5:
            found.append(((monday_of(day) - monday_of(today)).days // 7, day.weekday()))
        day += timedelta(days=1)
    return found


LESSONS = [  # (student, teacher, category, start, end, how: confirm, hold or a payment method)
    ("chloe", "alice", "maths", "10:00", "11:00", "confirm"),
    ("david", "alice", "maths", "14:00", "16:00", PaymentMethod.CARD),
    ("emma", "bruno", "piano", "11:00", "12:00", PaymentMethod.CASH),
    ("emma", "alice", "english", "16:00", "17:00", "hold"),
]


def build(db: Database, fresh_hint: str = "") -> ScheduleView:
    """Create or refresh the demo school; return this week's grid of alice. Refuses (exit 1)
    a database that holds anything but a previous demo."""
    refuse_unless_demo(db, fresh_hint)
    db.init_schema(lambda tx: school.init_settings(tx, {}))
    db.write("demo", _mark)
    db.write("demo", _people)
    db.write("demo", lambda tx: _availability(tx, "alice", [0, 1, 2, 3, 4], "09:00", "18:00"))
    db.write("demo", lambda tx: _availability(tx, "bruno", [1, 2, 3, 4, 5], "10:00", "19:00"))
    db.write("demo", _package)
    db.write("demo", _credit)
    has_lessons = db.read(
        lambda tx: tx.orm.exec(
            select(func.count()).select_from(Reservation).where(col(Reservation.starts_at) > tx.now)
        ).one()
    )
    if not has_lessons:
        places = db.read(lambda tx: _future_weekdays(tx, len(LESSONS)))
        for (student, teacher, category, start, end, how), (offset, day) in zip(
            LESSONS, places, strict=True
        ):
            _book(db, student, teacher, category, offset, day, start, end, how)
    return db.read(lambda tx: schedule.show_schedule(tx, "alice", monday_of(tx.today)))


def _book(
    db: Database,
    student: str,
    teacher: str,
    category: str,
    offset: int,
    day: int,
    start: str,
    end: str,
    how: str,
) -> None:
    def hold(tx: Tx) -> int:
        grid = tx.settings.grid
        week = monday_of(tx.today) + timedelta(weeks=offset)
        result = booking.reserve(
            tx,
            teacher,
            student,
            category,
            week,
            day,
            grid.parse_time(start),
            grid.parse_time(end, is_end=True),
        )
        return result.session_id

    try:
        session_id = db.write("demo reserve", hold)
    except RuleError:
        return  # the place is taken or closed (e.g. late on a Friday): the demo does without it
    if how == "hold":
        return  # left open: staff see a held lesson in the grid
    to_pay = db.read(lambda tx: resume.show_resume(tx, session_id).to_pay_cents)
    if to_pay == 0:
        db.write("demo confirm", lambda tx: settlement.confirm(tx, session_id))
        return
    started = db.write(
        "demo pay", lambda tx: settlement.start_payment(tx, session_id, how, None, None)
    )
    if started.payment_id is not None:
        payment_id = started.payment_id
        db.write(
            "demo payment", lambda tx: settlement.finish_payment(tx, session_id, payment_id, True)
        )

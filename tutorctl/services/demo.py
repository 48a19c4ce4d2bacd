"""A small demo school, built through the same services staff use (each step one transaction).

Re-running refreshes it: people, categories and packages are added once, availability is set
again, and lessons are booked only if the demo has none in the coming days.

The demo never writes into a real school (issues 18 and 23). It builds only in a database that
holds nothing but the demo's own work. Every mutation is in the history (invariant 7), so the
history says whose work a database holds:

- the demo's own work is every history entry written by ``demo`` itself (its commands
  ``DEMO_COMMANDS``), and the ``db init`` entries written before the demo first wrote (the
  empty database someone initialised for it);
- an entry of any other command (``user add``, ``account credit``, ``schedule set``, a later
  ``db init``, cron's ``expire``…) makes it a school: the demo refuses it from then on.
  Playing in a demo is using it; ``demo --fresh`` builds a new one.

It also refuses any table that is not tutorctl's, in any schema (PostgreSQL: every schema but
the system's), so another application's database is never touched.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.engine import Connection
from sqlmodel import col, func, select

from tutorctl.core.calendar import monday_of
from tutorctl.core.config import default_db_path, mask_url
from tutorctl.core.errors import RuleError
from tutorctl.core.status import PaymentMethod, Role
from tutorctl.core.views import ScheduleView
from tutorctl.db.catalog import foreign_tables
from tutorctl.db.engine import create_sqlite_file, dispose_engines
from tutorctl.db.schema import (
    Category,
    History,
    LedgerEntry,
    Purchase,
    Reservation,
    Settings,
    User,
)
from tutorctl.db.uow import Database, Tx
from tutorctl.services import accounts, booking, packages, resume, schedule, settlement, users
from tutorctl.services import settings as school

TEACHERS = [("alice", "Alice Martin"), ("bruno", "Bruno Costa")]
STUDENTS = [("chloe", "Chloé Dubois"), ("david", "David Kim"), ("emma", "Emma Rossi")]
CATEGORIES = [("maths", 4000), ("piano", 4550), ("english", 3500)]


MARKER = "demo school"  # the subject of the history entry the demo writes when it first builds
DEMO_COMMANDS = ("demo", "demo reserve", "demo confirm", "demo pay", "demo payment")


def what_it_holds(conn: Connection) -> str | None:
    """None when the demo may build here (empty, or nothing but the demo's own work); else
    what is there."""
    foreign, ours = foreign_tables(conn)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        return f"{len(foreign)} table(s) that are not a tutorctl school's ({shown})"
    if not ours:
        return None
    demo = col(History.command).in_(DEMO_COMMANDS)
    first_demo = conn.execute(select(func.min(History.id)).where(demo)).scalar()
    setup: Any = col(History.command) == "db init"  # the empty database initialised for it
    if first_demo is not None:
        setup = and_(setup, col(History.id) < first_demo)
    not_demo = ~or_(demo, setup)
    other = conn.execute(select(func.count()).select_from(History).where(not_demo)).scalar_one()
    if other == 0:
        return None
    if first_demo is None:
        people = conn.execute(select(func.count()).select_from(User)).scalar_one()
        return f"a school that is not a demo ({people} user(s), {other} history entries of its own)"
    first = conn.execute(
        select(History.id, History.command, History.subject, History.at)
        .where(not_demo)
        .order_by(col(History.id))
        .limit(1)
    ).one()
    return (
        f"a demo that was used since it was built ({other} history entries not written by "
        f"`demo`, the first #{first.id} `{first.command}` {first.subject!r} at "
        f"{first.at:%Y-%m-%d %H:%M} UTC): a school now"
    )


def refuse_unless_demo(db: Database, fresh_hint: str, *, own_file: bool = False) -> None:
    """Refuse (exit 1) a database that holds anything but the demo's own work, saying how to
    point the demo elsewhere (``own_file``: the database is ``demo --fresh``'s own file)."""
    held = db.inspect(what_it_holds)
    if held is None:
        return
    if own_file:
        raise RuleError(
            f"refused: {mask_url(db.url)} holds {held}; `demo --fresh` never replaces it. "
            f"Move it away (`mv {fresh_hint} {fresh_hint}.old`), or delete it if it was only "
            "a trial, then run `tutorctl demo --fresh` again"
        )
    raise RuleError(
        f"refused: {mask_url(db.url)} holds {held}; the demo never writes into it. "
        f"Run `tutorctl demo --fresh` (its own file, {fresh_hint}) or "
        "`tutorctl --db sqlite:///PATH demo` with a new PATH"
    )


def own_file() -> Path:
    """``demo --fresh``'s own file: ``demo.db`` next to the default database."""
    return default_db_path().parent / "demo.db"


def clear_own_file(db: Database, own: Path) -> None:
    """Make way for a fresh demo in its own file ``own`` (``db``): a previous demo there is
    deleted with its write-ahead log; one used since is refused like any school (exit 1)."""
    if not own.exists():
        return
    refuse_unless_demo(db, str(own), own_file=True)
    dispose_engines()  # the check's connections must not outlive the file they are open on
    for path in (own, own.with_name(own.name + "-wal"), own.with_name(own.name + "-shm")):
        path.unlink(missing_ok=True)


def _settings(tx: Tx) -> None:
    """The school's settings on a database the demo starts; kept as they are on a refresh."""
    if tx.orm.get(Settings, 1) is None:
        school.init_settings(tx, {})
    else:
        tx.unchanged()


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
            users.add_user(tx, handle, name, Role.TEACHER)
    for handle, name in STUDENTS:
        if tx.orm.exec(select(User).where(User.handle == handle)).first() is None:
            users.add_user(tx, handle, name, Role.STUDENT)
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
    if tx.orm.exec(select(LedgerEntry).where(LedgerEntry.account_id == account.id)).first() is None:
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
    a database that holds anything but the demo's own work. The demo may start a new SQLite
    file (no other command but ``db init`` may)."""
    create_sqlite_file(db.url)
    refuse_unless_demo(db, fresh_hint)
    db.init_schema(_settings, command="demo")
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

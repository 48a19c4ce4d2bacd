"""Row locks: student accounts, then calendar weeks, each kind in one statement in key order.

One statement per kind of lock: ensure the rows, lock them in key order, (for weeks) add each
key's increment to its stamp, and return what the transaction reads from them (INSERT … ORDER BY
key ON CONFLICT DO UPDATE … RETURNING). The order between kinds (accounts before weeks) is kept
by ``Tx.lock`` in the unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Date, Integer, MetaData, String, Table, bindparam, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from tutorctl.core.availability import DAY_COLUMNS, WeekAvailability
from tutorctl.db import statements, tables
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import CalendarWeek

if TYPE_CHECKING:
    from tutorctl.db.uow import Tx

WeekKey = tuple[int, date]

CHUNK = 400  # keys per statement where SQLite reads in chunks (it holds the write lock anyway)
_WEEKS = tables.calendar_weeks
_ACCOUNTS = tables.accounts
_WEEK_COLUMNS = ("id", "user_id", "week", *DAY_COLUMNS)  # what the week lock reads

SQLITE_LOCK_ACCOUNTS = (
    sqlite_insert(_ACCOUNTS)
    .on_conflict_do_update(
        index_elements=["student_id"], set_={"balance_cents": _ACCOUNTS.c.balance_cents}
    )
    .returning(_ACCOUNTS.c.student_id, _ACCOUNTS.c.id)
)
_SQLITE_UPSERT_WEEK = sqlite_insert(_WEEKS)
SQLITE_LOCK_WEEKS = _SQLITE_UPSERT_WEEK.on_conflict_do_update(
    index_elements=["user_id", "week"],
    set_={"stamp": _WEEKS.c.stamp + _SQLITE_UPSERT_WEEK.excluded.stamp},
).returning(*(_WEEKS.c[name] for name in _WEEK_COLUMNS))

# A few keys (a reserve: one account, two weeks) go as prepared statements: the account one
# row at a time (SQLite holds the one write lock since BEGIN IMMEDIATE, nothing can
# interleave), the weeks in one statement with a row of parameters per key.
FEW = 8
SQLITE_LOCK_ACCOUNT = Prepared(SQLITE_LOCK_ACCOUNTS, keys=("student_id", "balance_cents"))


@cache
def sqlite_lock_weeks(count: int) -> Prepared:
    """SQLITE_LOCK_WEEKS for ``count`` rows as one prepared statement (parameters ``u0, w0,
    b0, u1, …`` and ``empty``)."""
    rows = [
        {
            "user_id": bindparam(f"u{i}", type_=Integer),
            "week": bindparam(f"w{i}", type_=Date),
            "stamp": bindparam(f"b{i}", type_=Integer),
            **{day: bindparam("empty", type_=String) for day in DAY_COLUMNS},
        }
        for i in range(count)
    ]
    upsert = sqlite_insert(_WEEKS).values(rows)
    return Prepared(
        upsert.on_conflict_do_update(
            index_elements=["user_id", "week"],
            set_={"stamp": _WEEKS.c.stamp + upsert.excluded.stamp},
        ).returning(*(_WEEKS.c[name] for name in _WEEK_COLUMNS))
    )


@cache
def pg_statements() -> dict[str, Prepared]:
    """The PostgreSQL lock statements, built on first use (a SQLite run never imports the
    PostgreSQL dialect: start-up time)."""
    from sqlalchemy.dialects.postgresql import ARRAY

    ints = ARRAY(Integer)
    return {
        "lock_accounts": Prepared(
            text(
                "INSERT INTO accounts (student_id, balance_cents) "
                "SELECT s, 0 FROM unnest(:students) AS s ORDER BY s "
                "ON CONFLICT (student_id) DO UPDATE SET balance_cents = accounts.balance_cents "
                "RETURNING student_id, id"
            )
            .bindparams(bindparam("students", type_=ints))
            .columns(student_id=Integer, id=Integer),
            dialect="postgresql",
        ),
        "lock_weeks": Prepared(
            text(
                "INSERT INTO calendar_weeks AS c (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp) "
                "SELECT k.u, k.w, :empty, :empty, :empty, :empty, :empty, :empty, :empty, k.b "
                "FROM unnest(:users, :weeks, :bumps) AS k(u, w, b) ORDER BY k.u, k.w "
                "ON CONFLICT (user_id, week) DO UPDATE SET stamp = c.stamp + excluded.stamp "
                "RETURNING c.id, c.user_id, c.week, c.d0, c.d1, c.d2, c.d3, c.d4, c.d5, c.d6"
            )
            .bindparams(
                bindparam("users", type_=ints),
                bindparam("weeks", type_=ARRAY(Date)),
                bindparam("bumps", type_=ints),
                bindparam("empty", type_=String),
            )
            .columns(*(_WEEKS.c[name] for name in _WEEK_COLUMNS)),
            dialect="postgresql",
        ),
    }


statements.on_first_use(pg_statements)
statements.on_first_use(lambda: [sqlite_lock_weeks(n) for n in range(1, FEW + 1)])

WEEK_ROWS_BY_ID = (
    select(CalendarWeek)
    .where(col(CalendarWeek.id).in_(bindparam("ids", expanding=True)))
    .execution_options(populate_existing=True)
)


def lock_accounts(tx: Tx, students: list[int]) -> dict[int, int]:
    """Ensure and lock the accounts of ``students`` (sorted) in one upsert: student id →
    account id.

    The no-op ``DO UPDATE`` is what takes the row lock on PostgreSQL (in the order of the
    sorted keys) and makes both new and existing rows come back.
    """
    rows: Iterable[Any]
    if tx.dialect == "postgresql":
        rows = tx.run(pg_statements()["lock_accounts"], {"students": students})
    elif len(students) <= FEW:
        rows = [
            row
            for s in students
            for row in tx.run(SQLITE_LOCK_ACCOUNT, {"student_id": s, "balance_cents": 0})
        ]
    else:
        values = [{"student_id": s, "balance_cents": 0} for s in students]
        rows = tx.run(SQLITE_LOCK_ACCOUNTS, values)
    return {row[0]: row[1] for row in rows}  # student id → account id


def lock_weeks(tx: Tx, keys: list[WeekKey], touched: set[WeekKey]) -> None:
    """Ensure, lock and read the rows of ``keys`` (sorted), bump the stamps of ``touched``;
    the rows read go to ``tx.locked_weeks``.

    One upsert whatever the number of keys: new rows come in with stamp 1 if touched (0 if
    only read), existing ones get ``stamp + 1`` (or ``+ 0``), and every row comes back with
    its id and availability. PostgreSQL: the keys go as three arrays through
    ``unnest(…) ORDER BY user_id, week``, so rows are locked in key order. SQLite already
    holds the one write lock since ``BEGIN IMMEDIATE`` and runs it in chunks. Statements
    are built once with bound parameters: a reserve locks two weeks, and building SQL per
    call cost more than running it.
    """
    empty = tx.settings.empty_day()
    if tx.dialect == "postgresql":
        arrays = {
            "users": [u for u, _ in keys],
            "weeks": [w for _, w in keys],
            "bumps": [int(key in touched) for key in keys],
            "empty": empty,
        }
        for rows in tx.stream(pg_statements()["lock_weeks"], arrays):
            tx.locked_weeks.take(rows)
        return
    if len(keys) <= FEW:
        params: dict[str, Any] = {"empty": empty}
        for i, (u, w) in enumerate(keys):
            params.update({f"u{i}": u, f"w{i}": w, f"b{i}": int((u, w) in touched)})
        tx.locked_weeks.take(tx.run(sqlite_lock_weeks(len(keys)), params))
        return
    days = dict.fromkeys(DAY_COLUMNS, empty)
    for start in range(0, len(keys), CHUNK):
        values = [
            {"user_id": u, "week": w, "stamp": int((u, w) in touched), **days}
            for u, w in keys[start : start + CHUNK]
        ]
        tx.locked_weeks.take(tx.run(SQLITE_LOCK_WEEKS, values))


class LockedWeeks:
    """The locked calendar weeks: ``key → id`` and each one's availability, read by the lock.

    ORM rows (for services that change availability) load on first use: a big import locks
    tens of thousands of weeks and a reserve only reads its teacher's week, neither needs ORM
    objects.
    """

    def __init__(self, orm: Callable[[], Session]) -> None:
        self._orm = orm
        self.ids: dict[WeekKey, int] = {}
        self._days: dict[WeekKey, tuple[str, ...]] = {}
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._rows: dict[WeekKey, CalendarWeek] = {}

    def __contains__(self, key: object) -> bool:
        return key in self.ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, key: WeekKey) -> CalendarWeek:
        """The ORM row (loaded on first use, fresh from the database): its stamp, or for a
        service that changes it (prefer ``week``/``store``)."""
        row = self._rows.get(key)
        if row is None:
            params = {"ids": [self.ids[key]]}
            row = self._rows[key] = self._orm().exec(WEEK_ROWS_BY_ID, params=params).one()
        return row

    def week(self, key: WeekKey) -> WeekAvailability:
        """The availability of a locked week (as changed in this transaction)."""
        row = self._rows.get(key)
        return (
            WeekAvailability.from_row(row) if row is not None else WeekAvailability(self._days[key])
        )

    def store(self, key: WeekKey, week: WeekAvailability) -> None:
        """Give a locked week this availability (written with the transaction's ORM writes)."""
        week.apply_to(self[key])

    def take(self, rows: Iterable[Any]) -> None:
        """Take ``(id, user_id, week, d0 … d6)`` rows read by the lock itself."""
        shared = self._shared
        for row in rows:
            key = (row[1], row[2])
            self.ids[key] = row[0]
            # one object per distinct week of availability (most repeat: a big import locks
            # tens of thousands of weeks, mostly empty or alike)
            days = tuple(row[3:10])
            self._days[key] = shared.setdefault(days, days)


SPOOL = 10_000  # distinct keys buffered before they go to the temporary table


@cache
def _keys_table() -> Table:
    """The temporary table of spooled keys; built on first use, since its PostgreSQL option
    loads that dialect, which a command on SQLite should not pay for at start-up."""
    return Table(
        "import_weeks",
        MetaData(),
        Column("handle", String, primary_key=True),
        Column("week", Date, primary_key=True),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
        sqlite_with_rowid=False,  # the key is the row: one b-tree, not two
    )


DROP_KEYS = {
    "sqlite": text("DROP TABLE IF EXISTS temp.import_weeks"),
    "postgresql": text("DROP TABLE IF EXISTS pg_temp.import_weeks"),
}
# ``WHERE true``: SQLite reads ``ON CONFLICT`` after a join as the join's ON without it
LOCK_WEEKS = text(
    "INSERT INTO calendar_weeks (user_id, week, d0, d1, d2, d3, d4, d5, d6, stamp) "
    "SELECT u.id, k.week, :empty, :empty, :empty, :empty, :empty, :empty, :empty, 1 "
    "FROM import_weeks AS k JOIN users AS u ON u.handle = k.handle WHERE true "
    "ORDER BY u.id, k.week "
    "ON CONFLICT (user_id, week) DO UPDATE SET stamp = calendar_weeks.stamp + 1"
)
PG_SPOOL = text(
    "INSERT INTO import_weeks (handle, week) "
    "SELECT * FROM unnest(CAST(:handles AS text[]), CAST(:weeks AS date[])) "
    "ON CONFLICT DO NOTHING"
)


class WeekSpool:
    """The (handle, monday) keys of a big import, on their way to a temporary table, then
    locked in one statement.

    A big import names about a million (person, week) keys: they are not kept in Python. Its
    first pass spools them (deduplicated within a window) into a temporary table; ``lock``
    then ensures every week row, bumps its stamp and takes its row lock in the global order
    (user id, then week: the order of ``Tx.lock``), reading nothing back. The temporary table
    lives in this transaction only (PostgreSQL drops it at commit or rollback; SQLite's is
    dropped by ``drop``, and rolled back with everything else on error).
    """

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.pending: set[tuple[str, date]] = set()
        self.created = False

    def add(self, handle: str, monday: date) -> None:
        self.pending.add((handle, monday))
        if len(self.pending) >= SPOOL:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        tx = self.tx
        if not self.created:
            tx.run(DROP_KEYS[tx.dialect])
            _keys_table().create(tx.conn)
            self.created = True
        keys = sorted(self.pending)
        if tx.dialect == "postgresql":
            tx.run(PG_SPOOL, {"handles": [h for h, _ in keys], "weeks": [w for _, w in keys]})
        else:  # plain tuples on the driver: SQLite stores a date as its ISO text
            tx.conn.exec_driver_sql(
                "INSERT OR IGNORE INTO temp.import_weeks (handle, week) VALUES (?, ?)",
                [(h, w.isoformat()) for h, w in keys],
            )
        self.pending.clear()

    def lock(self) -> None:
        """Ensure, stamp and lock the week rows of every spooled key (of a user that exists)."""
        self.flush()
        if not self.created:
            return
        self.tx.run(LOCK_WEEKS, {"empty": self.tx.settings.empty_day()})

    def drop(self) -> None:
        if self.created:
            self.tx.run(DROP_KEYS[self.tx.dialect])
            self.created = False

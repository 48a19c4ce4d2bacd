"""The calendar weeks an import writes: collected in pass 1, locked before pass 2.

A big import names about a million (person, week) keys: they are not kept in Python. Pass 1
spools them (deduplicated within a window) into a temporary table; the lock is then one
statement that ensures every week row, bumps its stamp and takes its row lock in the global
order (user id, then week: the order of ``Tx.lock``), reading nothing back. What pass 2 needs
from those rows (a teacher's availability) it reads per batch.

The temporary table lives in this transaction only (PostgreSQL drops it at commit or rollback;
SQLite's is dropped here, and rolled back with everything else on error).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Column, Date, MetaData, String, Table, and_, or_, text
from sqlalchemy import select as core_select

from tutorctl.db.tables import calendar_weeks as W
from tutorctl.db.uow import Tx

SPOOL = 10_000  # distinct keys buffered before they go to the temporary table

DAYS = tuple(f"d{day}" for day in range(7))
KEYS = Table(
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
    """The (handle, monday) keys of pass 1, on their way to the temporary table."""

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
            KEYS.create(tx.conn)
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


def availability(tx: Tx, keys: set[tuple[int, date]]) -> dict[tuple[int, date], tuple[str, ...]]:
    """(user id, monday) → the seven days' availability, of the locked weeks among ``keys``.

    One query per batch, a week's users at a time (``week = … AND user_id IN …`` terms joined
    by OR): both databases look each term up in the (user, week) index, where a row-value IN
    list would make SQLite scan every week of the school.
    """
    by_week: dict[date, list[int]] = {}
    for user, week in sorted(keys):
        by_week.setdefault(week, []).append(user)
    found: dict[tuple[int, date], tuple[str, ...]] = {}
    if not by_week:
        return found
    query = core_select(W.c.user_id, W.c.week, *(W.c[day] for day in DAYS)).where(
        or_(*(and_(W.c.week == week, W.c.user_id.in_(users)) for week, users in by_week.items()))
    )
    for row in tx.run(query):
        found[(row[0], row[1])] = tuple(row[2:])
    return found

"""The unit of work keeps the ORM's cached rows true (``db/identity.py``): services never
refresh or forget a row by hand."""

from __future__ import annotations

from sqlalchemy import insert, inspect, update
from sqlmodel import select

from tests.conftest import Cli
from tutorctl.core.clock import Clock, parse_now
from tutorctl.db import tables
from tutorctl.db.engine import get_engine
from tutorctl.db.schema import Account, User
from tutorctl.db.uow import Database, Tx

NOW = parse_now("2026-11-24T09:00:00+01:00")


def _student(cli: Cli) -> tuple[Database, int]:
    cli.ok("user", "add", "bob", "--name", "Bob Li", "--role", "student")
    db = Database(cli.url, Clock(NOW), actor="tester")
    student = db.read(lambda tx: tx.orm.exec(select(User.id).where(User.handle == "bob")).one())
    return db, student


def _account(tx: Tx, student: int) -> Account:
    return tx.orm.exec(select(Account).where(Account.student_id == student)).one()


def test_a_core_write_is_seen_by_the_rows_the_orm_holds(cli: Cli) -> None:
    db, student = _student(cli)

    def body(tx: Tx) -> tuple[int, int]:
        account = _account(tx, student)
        before = account.balance_cents
        tx.run(update(tables.accounts).values(balance_cents=tables.accounts.c.balance_cents + 700))
        tx.discard()  # the balance has no ledger entry: leave nothing
        return before, account.balance_cents

    assert db.write("test", body) == (0, 700)


def test_a_plain_insert_and_another_table_leave_cached_rows_alone(cli: Cli) -> None:
    db, student = _student(cli)

    def body(tx: Tx) -> tuple[bool, bool]:
        account = _account(tx, student)
        tx.run(insert(tables.categories).values(name="chess", price_cents=1000))
        tx.run(update(tables.users).values(name="Bob L."))
        tx.discard()
        return "balance_cents" in inspect(account).expired_attributes, account in tx.orm

    assert db.write("test", body) == (False, True)


def test_rows_read_before_a_lock_are_read_again_under_it(cli: Cli) -> None:
    """Another transaction changes the account between our read and our lock (PostgreSQL runs
    them side by side; SQLite's BEGIN IMMEDIATE would make the other wait, so it writes through
    the same file's second connection only before ours begins): what we use is what the lock
    guards."""
    db, student = _student(cli)
    other = get_engine(cli.url)
    is_pg = cli.url.startswith("postgresql")

    def body(tx: Tx) -> tuple[int, int, bool]:
        account = _account(tx, student)
        person = tx.orm.exec(select(User).where(User.id == student)).one()
        before = account.balance_cents
        if is_pg:  # committed by someone else while we hold no lock
            with other.begin() as conn:
                conn.execute(update(tables.accounts).values(balance_cents=900))
        tx.lock(accounts=[student])
        after = account.balance_cents
        tx.discard()
        return before, after, bool(inspect(person).expired_attributes)

    before, after, user_expired = db.write("test", body)
    assert before == 0
    assert after == (900 if is_pg else 0)
    assert not user_expired  # people are not guarded by the calendar locks: not read again
    if is_pg:
        with other.begin() as conn:
            conn.execute(update(tables.accounts).values(balance_cents=0))

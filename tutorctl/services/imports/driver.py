"""The two-pass driver every kind of import runs under: one file, one locked unit of work,
all or nothing.

Pass 1 streams the file and parses every row on its own (forms, values, duplicates inside the
file), collecting the people the file names and the keys it will lock. Then the keys are locked
in the global order (accounts, then calendar weeks). Pass 2 streams the file again and hands
the rows to the kind in batches, which checks what needs the database (existing handles,
overlaps, availability, packages) set-based per batch and writes. Any bad row, in either pass:
every one is reported with its line and column (exit 2) and raising rolls the whole file back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import select

from tutorctl.core.errors import InputError
from tutorctl.core.status import Role
from tutorctl.core.views import ImportView
from tutorctl.db.locks import WeekSpool
from tutorctl.db.tables import users as U
from tutorctl.db.uow import Tx
from tutorctl.services.imports.fields import RowError
from tutorctl.services.imports.reader import Row

BATCH = 1000  # rows written (and checked against the database) together
MAX_REPORTED = 100

People = dict[str, tuple[int, str, bool]]  # handle → (id, role, active)
Progress = Callable[[int], None]


@dataclass
class Problems:
    """Every bad row of the file (the first MAX_REPORTED shown), raised together at the end."""

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


@dataclass
class Job:
    """What every batch of one import shares."""

    people: People
    problems: Problems
    details: dict[str, int] = field(default_factory=dict)  # counts shown at the end
    memo: dict[str, Any] = field(default_factory=dict)  # what a kind carries across batches


@dataclass(frozen=True)
class Parsed:
    line: int
    values: dict[str, Any]


class Keys:
    """What pass 1 learns while parsing: the people the file names and the keys to lock.

    People and accounts are at most the school's users; the (person, week) keys grow with the
    history, so they go to the database (db.locks.WeekSpool), not to a Python set.
    """

    def __init__(self, tx: Tx) -> None:
        self.handles: set[str] = set()
        self.weeks = WeekSpool(tx)  # (handle, monday): its week is written
        self.students: set[str] = set()  # accounts locked: money or packages change

    def person(self, handle: str) -> None:
        self.handles.add(handle)

    def week(self, handle: str, monday: date) -> None:
        self.handles.add(handle)
        self.weeks.add(handle, monday)

    def account(self, handle: str) -> None:
        self.handles.add(handle)
        self.students.add(handle)


class _Ignored(Keys):
    """Pass 2 parses again: the keys are already known."""

    def person(self, handle: str) -> None:
        pass

    def week(self, handle: str, monday: date) -> None:
        pass

    def account(self, handle: str) -> None:
        pass


class Kind(Protocol):
    """One kind of row: its columns, how one row parses and how a batch of them is written."""

    name: str
    columns: tuple[str, ...]  # what a row may name (the first ones are required)
    handles: tuple[str, ...]  # columns naming a user, resolved before the batch is written

    def parse(self, tx: Tx, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
        """One row's values (RowError if bad); the keys it needs go to ``keys``; ``seen``
        holds what must be unique within the file."""
        ...

    def write(self, tx: Tx, batch: list[Parsed], job: Job) -> int:
        """Check a batch against the database and write it; the number of rows written."""
        ...


def run(
    tx: Tx,
    kind: Kind,
    file_label: str,
    rows: Callable[[], Iterator[Row]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportView:
    problems = Problems(file_label)
    keys = Keys(tx)
    count = 0
    seen: set[str] = set()
    for line, row in rows():  # pass 1: every row on its own, and the keys to lock
        count += 1
        try:
            _parse(tx, kind, row, keys, seen)
        except RowError as err:
            problems.add(line, err.column, err.reason)
    people = resolve(tx, keys.handles)
    keys.handles.clear()  # a chain's hundred thousand people: kept once, in ``people``
    # the global lock order: accounts (sorted), then weeks (sorted by user id and week)
    tx.lock(
        accounts=[
            people[h][0] for h in keys.students if h in people and people[h][1] == Role.STUDENT
        ]
    )
    keys.weeks.lock()
    job = Job(people, problems)
    written = 0
    batch: list[Parsed] = []

    def flush() -> None:
        nonlocal written
        if batch:
            written += kind.write(tx, batch, job)
            if progress:
                progress(len(batch))
            batch.clear()

    seen.clear()
    ignored = _Ignored(tx)
    for line, row in rows():  # pass 2: write in batches, check against the database
        try:
            values = _parse(tx, kind, row, ignored, seen)
        except RowError:
            continue  # already reported by pass 1; the file will be rolled back
        unknown = [c for c in kind.handles if values[c] not in people]
        for column in unknown:
            problems.add(line, column, f"no user {values[column]!r}")
        if not unknown:
            batch.append(Parsed(line, values))
        if len(batch) >= BATCH:
            flush()
    flush()
    problems.raise_if_any()  # raising rolls the whole file back
    keys.weeks.drop()
    tx.audit(  # linked to every person the file names (history --user finds the import)
        f"import {kind.name}",
        users=[uid for uid, _role, _active in people.values()],
        file=file_label,
        rows=count,
        written=written,
        counts=dict(job.details),
    )
    if dry_run:
        tx.discard()
    return ImportView(
        kind=kind.name,
        file=file_label,
        rows=count,
        written=written,
        dry_run=dry_run,
        details=job.details,
    )


def _parse(tx: Tx, kind: Kind, row: dict[str, str], keys: Keys, seen: set[str]) -> dict[str, Any]:
    if "__error__" in row:
        raise RowError(row.get("__column__", ""), row["__error__"])
    return kind.parse(tx, row, keys, seen)


def resolve(tx: Tx, handles: set[str]) -> People:
    """The users named by ``handles`` that exist."""
    found: People = {}
    names = sorted(handles)
    for i in range(0, len(names), BATCH):
        for uid, handle, role, active in tx.run(
            select(U.c.id, U.c.handle, U.c.role, U.c.active).where(
                U.c.handle.in_(names[i : i + BATCH])
            )
        ):
            found[handle] = (uid, role, active)
    return found

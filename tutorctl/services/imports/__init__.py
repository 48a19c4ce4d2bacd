"""Bulk import: one file of one kind, all or nothing, every bad row reported with its line.

Each kind is one object (its columns, how a row parses, how a batch is written) registered in
KIND below; the driver runs any of them in two passes under one locked unit of work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tutorctl.core.errors import InputError
from tutorctl.core.views import ImportView
from tutorctl.db.uow import Tx
from tutorctl.services.imports import driver
from tutorctl.services.imports.availability import Availability
from tutorctl.services.imports.categories import Categories
from tutorctl.services.imports.credits import Credits
from tutorctl.services.imports.driver import MAX_REPORTED, Kind, Problems, Progress
from tutorctl.services.imports.fields import RowError
from tutorctl.services.imports.purchases import Purchases
from tutorctl.services.imports.reader import Row, detect_format, read_rows
from tutorctl.services.imports.reservations import Reservations
from tutorctl.services.imports.users import Users

KIND: dict[str, Kind] = {
    kind.name: kind
    for kind in (Users(), Categories(), Availability(), Purchases(), Credits(), Reservations())
}
KINDS = tuple(KIND)

__all__ = [
    "KIND",
    "KINDS",
    "MAX_REPORTED",
    "Problems",
    "RowError",
    "detect_format",
    "read_rows",
    "run_import",
]


def run_import(
    tx: Tx,
    kind: str,
    file_label: str,
    rows: Callable[[], Iterator[Row]],
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportView:
    if kind not in KIND:
        raise InputError(f"bad kind {kind!r}: use one of {', '.join(KINDS)}")
    return driver.run(tx, KIND[kind], file_label, rows, dry_run=dry_run, progress=progress)

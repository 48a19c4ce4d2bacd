"""The column readers every kind's row parser uses; a bad value raises RowError."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tutorctl.core.errors import InputError
from tutorctl.core.limits import is_digits
from tutorctl.services.users import HANDLE


class RowError(Exception):
    """One bad value in one row: reported with its line and column, the file is not written."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def need(row: dict[str, str], column: str) -> str:
    value = row.get(column, "")
    if value == "":
        raise RowError(column, "missing")
    return value


def handle(row: dict[str, str], column: str) -> str:
    value = need(row, column)
    if not HANDLE.match(value):
        raise RowError(column, f"bad handle {value!r}")
    if is_digits(value):
        raise RowError(column, f"bad handle {value!r}: never all digits (it would read as an id)")
    return value


def boolean(row: dict[str, str], column: str, default: bool) -> bool:
    value = row.get(column, "").lower()
    if value == "":
        return default
    if value in ("1", "true", "yes", "y"):
        return True
    if value in ("0", "false", "no", "n"):
        return False
    raise RowError(column, f"bad boolean {value!r}: use true or false")


def wrap(column: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, its InputError turned into a RowError of ``column``."""
    try:
        return fn()
    except InputError as exc:
        raise RowError(column, exc.message) from None

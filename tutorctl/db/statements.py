"""The registry of prepared statements: every ``Prepared`` adds itself here when created.

The fast path's rules (plain bound parameters, constant defaults, declared result columns) are
checked when a statement is compiled. ``tests/db/test_statements.py`` imports every module of
tutorctl, builds the statements made on first use (``on_first_use``) and compiles each one
registered here on SQLite and PostgreSQL, so a statement breaking a rule fails the tests, not
the first command that happens to run it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tutorctl.db.prepared import Prepared

_REGISTERED: weakref.WeakSet[Prepared] = weakref.WeakSet()
_BUILDERS: list[Callable[[], object]] = []


def register(prepared: Prepared) -> None:
    _REGISTERED.add(prepared)


def on_first_use(builder: Callable[[], object]) -> None:
    """Register a function that builds statements made on first use (a cached builder, called
    with the arguments that make each of its shapes): the check calls it, so they are checked
    up front too."""
    _BUILDERS.append(builder)


def registered(package: str = "tutorctl.") -> list[Prepared]:
    """Every statement defined in ``package`` (the statements a test makes are left out), the
    ones made on first use built first; in a stable order (where they are defined)."""
    for builder in _BUILDERS:
        builder()
    found = [p for p in list(_REGISTERED) if p.origin.startswith(package)]
    return sorted(found, key=lambda p: (p.origin, p.serial))

"""Every prepared statement of tutorctl compiles on SQLite and PostgreSQL under the fast
path's rules (tutorctl/db/prepared.py), checked up front rather than the first time a command
runs the statement. No database is needed: compiling takes a dialect only."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Table,
    create_engine,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.sql.expression import bindparam

import tutorctl
from tutorctl.db import statements
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import User

# the dialects (and drivers) the engines of db/engine.py use; creating an engine connects nothing
DIALECTS = {
    "sqlite": create_engine("sqlite://").dialect,
    "postgresql": create_engine("postgresql+psycopg://probe@localhost/probe").dialect,
}


def _import_everything() -> list[str]:
    names = []
    for module in pkgutil.walk_packages(tutorctl.__path__, "tutorctl."):
        if module.name.startswith(("tutorctl.services", "tutorctl.db")):
            importlib.import_module(module.name)
            names.append(module.name)
    return names


def _problems(prepared: list[Prepared]) -> list[str]:
    found = []
    for p in prepared:
        for name in p.dialects:
            dialect = DIALECTS[name]
            try:
                sql = p.check(dialect)
            except Exception as exc:  # noqa: BLE001 - each statement's failure is reported
                found.append(f"{p!r} on {name}: {exc}")
                continue
            if not sql.strip():
                found.append(f"{p!r} on {name}: no SQL")
    return found


def test_every_prepared_statement_compiles_on_both_dialects() -> None:
    modules = _import_everything()
    assert "tutorctl.db.locks" in modules and "tutorctl.services.booking" in modules
    found = statements.registered()
    origins = {p.origin for p in found}
    # the statements of the lock, the history and the hot paths of the services are all in
    assert {"tutorctl.db.locks", "tutorctl.db.audit", "tutorctl.db.settings"} <= origins
    assert any(o.startswith("tutorctl.services.") for o in origins)
    assert len(found) >= 15
    assert _problems(found) == []


_U = User.__table__  # type: ignore[attr-defined]
_PROBE = Table(
    "probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("n", Integer, default=lambda: 1),  # a Python-side default: not a constant
    Column("m", Integer, onupdate=lambda: 2),  # a Python-side onupdate: not a constant
    Column("k", Integer, default=0, onupdate=3),  # constants: the fast path writes them
)


@pytest.mark.parametrize(
    ("statement", "keys", "rule"),
    [
        (
            select(_U.c.id).where(_U.c.id.in_(bindparam("ids", expanding=True))),
            (),
            "plain bound parameters",
        ),
        (text("SELECT id FROM users WHERE handle = :h"), (), "must declare its columns"),
        (text("UPDATE users SET active = :a RETURNING id"), (), "must declare its columns"),
        (insert(_PROBE), ("id", "m"), "needs a value for n"),
        (
            select(_U.c.id).where(_U.c.id == bindparam("i", literal_execute=True)),
            (),
            "plain bound parameters",
        ),
        (
            update(_PROBE).where(_PROBE.c.id == bindparam("i")).values(n=bindparam("v")),
            (),
            "needs a value for m",
        ),
    ],
    ids=[
        "expanding-in",
        "undeclared-select",
        "undeclared-returning",
        "python-default",
        "literal-execute",
        "python-onupdate",
    ],
)
def test_a_statement_breaking_a_rule_is_found(
    statement: Any, keys: tuple[str, ...], rule: str
) -> None:
    """A rule broken once: the check of every registered statement reports it."""
    broken = Prepared(statement, keys=keys)
    broken.origin = "tutorctl.services.probe"  # as if defined in a service
    try:
        problems = _problems(statements.registered())
        assert len(problems) == 2 and all(rule in p for p in problems), problems
    finally:
        broken.origin = "tests"  # out of the registry's check again


def _sent(prepared: Prepared, dialect: Any, params: dict[str, Any]) -> dict[str, Any]:
    """What the fast path sends the driver, by parameter name."""
    compiled = prepared.compiled(dialect)
    values = compiled.parameters(params)
    return dict(zip(compiled.names, values, strict=True)) if compiled.positional else values


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_constant_onupdate_and_default_are_sent(dialect: str) -> None:
    """A constant default or onupdate is allowed: the fast path sends its value, not NULL."""
    d = DIALECTS[dialect]
    changed = Prepared(update(_PROBE).where(_PROBE.c.id == bindparam("i")).values(n=1, m=2))
    assert _sent(changed, d, {"i": 9}) == {"n": 1, "m": 2, "k": 3, "i": 9}
    added = Prepared(insert(_PROBE), keys=("id", "n", "m"))
    assert _sent(added, d, {"id": 1, "n": 2, "m": 3}) == {"id": 1, "n": 2, "m": 3, "k": 0}


def test_statements_made_by_tests_are_left_out() -> None:
    Prepared(select(_U.c.id).where(_U.c.id.in_(bindparam("ids", expanding=True))))
    assert all(p.origin.startswith("tutorctl.") for p in statements.registered())

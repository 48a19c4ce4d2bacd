"""Ids on the read side: a stored row has one; a missing row is "not found" (exit 3)."""

from __future__ import annotations

import pytest

from tests.services.conftest import School
from tutorctl.core.errors import NotFoundError
from tutorctl.db.schema import User
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_get, must_id


def test_must_id_refuses_a_row_never_flushed() -> None:
    with pytest.raises(RuntimeError, match="never flushed"):
        must_id(User(handle="x", name="X", role="student"))


def test_must_get_reads_a_stored_row_or_says_what_is_missing(desk: School) -> None:
    def run(tx: Tx) -> tuple[int, str]:
        user = tx.orm.exec(User.__table__.select().where(User.__table__.c.handle == "bob")).one()
        row = must_get(tx, User, user.id, "no such user")
        return must_id(row), row.handle

    user_id, handle = desk.read(run)
    assert handle == "bob" and user_id > 0
    with pytest.raises(NotFoundError, match="no lesson 999"):
        desk.read(lambda tx: must_get(tx, User, 999_999, "no lesson 999"))

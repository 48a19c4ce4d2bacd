"""Idempotency keys: a retried booking call returns its first result instead of booking twice."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from tutorctl.core.errors import InputError, RuleError
from tutorctl.core.status import OperationKind
from tutorctl.core.views import BookingResultView, LessonView
from tutorctl.db.schema import IdempotencyKey, Operation
from tutorctl.db.uow import Tx
from tutorctl.services.lessons import lessons_by_id

_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


def idempotent(
    tx: Tx,
    key: str | None,
    request: dict[str, Any],
    student_id: int,
    action: Callable[[], BookingResultView],
) -> BookingResultView:
    """Run ``action`` once per key: a retry returns the first result; another request is refused.

    The key is read after the student's account is locked (the lock that serialises their
    sessions), so concurrent retries of one call queue there and the later ones find the key
    the first one stored; a key reused for another student's request collides on the key's
    primary key, the transaction is retried and then finds the key.
    """
    if key is None:
        return action()
    if not _KEY.match(key):
        raise InputError(
            f"bad idempotency key {key!r}: use 1-200 printable characters without spaces"
        )
    canonical = json.dumps(request, sort_keys=True, default=str)
    tx.lock(accounts=[student_id])
    row = tx.orm.get(IdempotencyKey, key)
    if row is not None:
        if row.request != canonical:
            raise RuleError(f"idempotency key {key!r} was already used for a different request")
        stored = json.loads(row.result)
        # the first call's ids, with what became of them since (a hold may have expired)
        ids = [lesson["id"] for lesson in stored["lessons"]]
        now = lessons_by_id(tx, ids)
        stored["lessons"] = [
            now.get(i) or LessonView(**old) for i, old in zip(ids, stored["lessons"], strict=True)
        ]
        if stored["kind"] == OperationKind.CANCEL:
            operation = tx.orm.get(Operation, stored["operation_id"])
            stored["status"] = operation.status if operation is not None else stored["status"]
        else:
            stored["status"] = stored["lessons"][0].status
        stored["replayed"] = True
        tx.audit(f"replay {key}", key=key)
        return BookingResultView(**stored)
    result = action()
    tx.orm.add(
        IdempotencyKey(
            key=key, request=canonical, result=json.dumps(asdict(result)), created_at=tx.now
        )
    )
    return result

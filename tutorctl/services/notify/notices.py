"""Looking at and fixing messages (SPEC §11): `notify list|show|retry`, `session receipt`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from tutorctl.core.errors import InputError, NotFoundError, RuleError
from tutorctl.core.views import (
    MessageListView,
    MessageShowView,
    MessageView,
    ReceiptView,
    RetryView,
)
from tutorctl.db import tables
from tutorctl.db.uow import Tx
from tutorctl.services.notify.messages import Templates, compose, context, row_of
from tutorctl.services.sessions import get_session
from tutorctl.services.users import find_user

_O, _U = tables.outbox, tables.users
STATUSES = ("queued", "sending", "sent", "failed", "obsolete")
LIST_LIMIT = 1000


def _iso(tx: Tx, at: datetime | None) -> str | None:
    """An instant in the school's zone, as every view gives them (None stays None)."""
    return at.astimezone(tx.settings.zone).isoformat() if at else None


def _view(tx: Tx, raw: Any, templates: Templates | None = None) -> MessageView:
    subject = ""
    if tx.settings.mail_from:
        message = compose(row_of(raw), tx.settings, templates or Templates(None), tx.now)
        subject = str(message["Subject"])
    return MessageView(
        id=raw.id,
        kind=raw.kind,
        status=raw.status,
        user=raw.handle,
        to_address=raw.to_address,
        session_id=raw.session_id,
        lesson_id=raw.lesson_id,
        subject=subject,
        created_at=_iso(tx, raw.created_at) or "",
        attempts=raw.attempts,
        # only a message waiting has a next attempt (sent, failed, obsolete: None)
        next_attempt_at=_iso(tx, raw.next_attempt_at) if raw.status == "queued" else None,
        sent_at=_iso(tx, raw.sent_at),
        last_error=raw.last_error,
    )


def _query() -> Any:
    return select(*_O.c, _U.c.handle).join(_U, _U.c.id == _O.c.user_id)


def list_messages(tx: Tx, status: str | None, user: str | None) -> MessageListView:
    query = _query().order_by(_O.c.id.desc()).limit(LIST_LIMIT)
    if status is not None:
        if status not in STATUSES:
            raise InputError(f"bad --status {status!r}: use {', '.join(STATUSES)}")
        query = query.where(_O.c.status == status)
    if user is not None:
        query = query.where(_O.c.user_id == find_user(tx, user).id)
    return MessageListView(messages=[_view(tx, raw) for raw in tx.run(query)])


def show_message(tx: Tx, message_id: int, templates: Templates) -> MessageShowView:
    raw = tx.run(_query().where(_O.c.id == message_id)).first()
    if raw is None:
        raise NotFoundError(f"no message {message_id}: see `tutorctl notify list`")
    if not tx.settings.mail_from:
        raise RuleError("no --mail-from: run `tutorctl db init --mail-from ADDR`")
    message = compose(row_of(raw), tx.settings, templates, tx.now)
    return MessageShowView(message=_view(tx, raw, templates), text=message.as_string())


def retry(tx: Tx, message_id: int | None, failed: bool) -> RetryView:
    """Queue again one message (failed or obsolete) or every failed one, due now."""
    if (message_id is None) == (not failed):
        raise InputError("give a message id or --failed")
    where = _O.c.status == "failed" if failed else _O.c.id == message_id
    if message_id is not None:
        found = tx.run(select(_O.c.status).where(where)).first()
        if found is None:
            raise NotFoundError(f"no message {message_id}: see `tutorctl notify list`")
        if found.status not in ("failed", "obsolete"):
            raise RuleError(f"message {message_id} is {found.status}: only a failed or "
                            "obsolete one can be retried")  # fmt: skip
    ids = [
        row.id
        for row in tx.run(
            update(_O)
            .where(where)
            .values(status="queued", attempts=0, next_attempt_at=tx.now, claimed_by=None)
            .returning(_O.c.id)
        )
    ]
    tx.audit("notify retry", messages=sorted(ids))
    return RetryView(ids=sorted(ids))


def receipt(tx: Tx, session_id: int) -> ReceiptView:
    """The receipt of a session, from its queued message's facts (or why there is none): the
    receipt of its payment; else the message of a payment taken that booked nothing (it
    tells the money, gone to the balance)."""
    booking = get_session(tx, session_id)
    student = find_user(tx, booking.student_id)
    told = (
        _query()
        .where(_O.c.session_id == session_id, _O.c.kind.in_(("receipt", "payment_failed")))
        .order_by(_O.c.id)
    )
    rows = [r for r in tx.run(told) if r.kind == "receipt" or "money" in json.loads(r.payload)]
    raw = min(rows, key=lambda r: (r.kind != "receipt", r.id), default=None)
    if raw is None:
        raise NotFoundError(
            f"session {session_id} has no receipt: it was not applied while notifications "
            f"were on, or {student.handle} has no email or opted out"
        )
    row = row_of(raw)
    ctx = context(row, tx.settings)
    payload = json.loads(raw.payload)
    text = compose(row, tx.settings, Templates(None), tx.now).get_body(("plain",))
    return ReceiptView(
        session_id=session_id,
        student=student.handle,
        status=booking.status,
        currency=tx.settings.currency,
        lessons=[{k: v for k, v in line.items()} for line in ctx["lessons"]],
        not_applied=[{k: v for k, v in line.items()} for line in ctx["not_applied"]],
        money=payload.get("money", {}),
        text=text.get_content() if text is not None else "",
    )

"""The audit trail (``tutorctl history``): entries by user, session, date, paged back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from tutorctl.core.views import HistoryEntryView, HistoryView
from tutorctl.db.schema import History, HistoryUser
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_id
from tutorctl.services.users import find_user


def history(
    tx: Tx,
    user_ref: str | None = None,
    session_id: int | None = None,
    since: datetime | None = None,
    limit: int = 1000,
    before: int | None = None,
) -> HistoryView:
    """The newest ``limit`` entries matching (older than entry ``before``), oldest first."""
    query = select(History)
    entry: Any = col(History.id)
    if user_ref is not None:
        # through the (user, entry) link: its primary key is read newest first, from ``before``
        user = find_user(tx, user_ref)
        entry = col(HistoryUser.history_id)
        query = query.join(HistoryUser, entry == col(History.id)).where(
            HistoryUser.user_id == user.id
        )
    if before is not None:
        query = query.where(entry < before)
    if session_id is not None:
        query = query.where(History.session_id == session_id)
    if since is not None:
        query = query.where(col(History.at) >= since)
    rows = list(tx.orm.exec(query.order_by(entry.desc()).limit(limit)))
    zone = tx.settings.zone
    return HistoryView(
        entries=[
            HistoryEntryView(
                id=must_id(h),
                at=h.at.astimezone(zone).isoformat(),
                actor=h.actor,
                command=h.command,
                subject=h.subject,
                session_id=h.session_id,
                user_ids=[int(u) for u in h.user_ids.strip(",").split(",") if u],
                details=json.loads(h.details),
            )
            for h in reversed(rows)
        ]
    )

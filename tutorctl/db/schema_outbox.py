"""The outbox table (SPEC §11), beside the tables of ``schema.py`` (same conventions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from tutorctl.db.schema import Table, _instant


class Outbox(Table, table=True):
    """A message to one person (SPEC §11), queued by the change it tells, sent by ``notify
    send``: ``payload`` holds its facts (JSON), rendered and checked when sent."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_user", "user_id", "id"),
        Index("ix_outbox_session", "session_id"),  # uq_outbox_reminder: in migrations.py
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)
    user_id: int = Field(foreign_key="users.id")
    to_address: str = Field(max_length=254)
    to_name: str = Field(max_length=200)
    session_id: int | None = None
    lesson_id: int | None = None  # a reminder's lesson
    payload: str = "{}"
    created_at: datetime = _instant()
    next_attempt_at: datetime = _instant()
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = _instant(nullable=True)
    sent_at: datetime | None = _instant(nullable=True)
    last_error: str | None = Field(default=None, max_length=500)

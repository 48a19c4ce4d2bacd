"""The append-only history (`history`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HistoryEntryView:
    """One append-only history row: who changed what, when."""

    id: int
    at: str
    actor: str
    command: str
    subject: str
    session_id: int | None
    user_ids: list[int]
    details: dict[str, object]


@dataclass(frozen=True)
class HistoryView:
    """`history`."""

    entries: list[HistoryEntryView]

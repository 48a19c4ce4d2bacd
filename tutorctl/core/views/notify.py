"""Messages to people (SPEC §11): `notify list|show|send|retry`, `session receipt`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MessageView:
    """One outbox message."""

    id: int
    kind: str
    status: str
    user: str
    to_address: str
    session_id: int | None
    lesson_id: int | None
    subject: str
    created_at: str
    attempts: int
    next_attempt_at: str | None
    sent_at: str | None
    last_error: str | None


@dataclass(frozen=True)
class MessageListView:
    messages: list[MessageView] = field(default_factory=list)


@dataclass(frozen=True)
class MessageShowView:
    """The whole message as it will be (or was) sent."""

    message: MessageView
    text: str  # the RFC 5322 message


@dataclass(frozen=True)
class SendOutcomeView:
    id: int
    kind: str
    to_address: str
    status: str  # sent | queued (retried later) | failed | obsolete | would send
    answer: str | None = None


@dataclass(frozen=True)
class NotifySendView:
    """What one `notify send` run queued and sent."""

    smtp: str | None
    dry_run: bool
    reminders_queued: int
    sent: int
    retried: int
    failed: int
    obsolete: int
    messages: list[SendOutcomeView] = field(default_factory=list)
    stopped: str | None = None  # why the run stopped early (server unreachable or gone: exit 4)
    unlisted: int = 0  # messages past the first LISTED, counted but not listed


@dataclass(frozen=True)
class RetryView:
    ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ReceiptView:
    """`session receipt`: what a session did, with the money."""

    session_id: int
    student: str
    status: str
    currency: str
    lessons: list[dict[str, Any]] = field(default_factory=list)
    money: dict[str, int] = field(default_factory=dict)
    text: str = ""
    # what the payment left out (time overtook it), and why
    not_applied: list[dict[str, Any]] = field(default_factory=list)

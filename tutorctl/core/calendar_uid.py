"""A lesson's calendar identity (SPEC §11): the one UID and SEQUENCE that the messages'
calendar parts and the ICS export both write, so a calendar client that is sent the messages
and imports the export holds one event per lesson, updated in place across its moves.

The UID names the lesson's lineage (``reservations.lineage_id``, or the row's own id when it
was never moved) under the domain of the school's ``mail_from`` address:
``lesson-12@school.example``. A school without a ``mail_from`` (no messages at all) gets the
domain ``tutorctl``. The SEQUENCE is the row's ``revision`` (it grows with each move), one more
for its cancel.
"""

from __future__ import annotations

NO_MAIL_DOMAIN = "tutorctl"  # the domain of the UIDs of a school without a mail_from


def uid_domain(mail_from: str | None) -> str:
    """The domain of the school's calendar UIDs: its ``mail_from`` address's."""
    return mail_from.rpartition("@")[2] if mail_from else NO_MAIL_DOMAIN


def lesson_uid(lineage: int | str, mail_from: str | None) -> str:
    """``lesson-<lineage>@<domain>``: the same for every row of a lesson moved several times.
    (``lineage`` may be a placeholder string: the composer fills its templates in later.)"""
    return f"lesson-{lineage}@{uid_domain(mail_from)}"


def lesson_sequence(revision: int, cancelled: bool = False) -> int:
    """The SEQUENCE of a lesson row: its revision, one more once it is cancelled."""
    return revision + (1 if cancelled else 0)

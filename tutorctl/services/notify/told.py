"""Who was told of a lesson (SPEC §11: each person hears once about the lesson as it now
stands), read when a message is claimed.

A person was told of a lesson's lineage (its calendar UID) when an earlier message to them
naming it was sent, or may have been: one claimed by a run (``sending``, in flight, or left by
a killed run), or held under lock by another transaction at this very moment (another run's
claim, not yet committed). A queued message naming it tells nothing: the lesson it names is
no longer booked (it was cancelled or moved since), so its claim will leave it out. An
``obsolete`` or ``failed`` one told nothing either.

What that changes in a message (``as_heard``):

- a cancelled lesson the person was never told of is left out (line and METHOD:CANCEL part):
  nobody gets the cancellation of a lesson their calendar never had. A message of which
  nothing is left (no lesson, no money) becomes ``obsolete``: "never told it was booked";
- a moved lesson the person was never told of is told as ``booked`` at its new time (no
  "moved from"): the same METHOD:REQUEST, UID and SEQUENCE, so a later change still updates it.

Overlapping runs decide alike: the earlier messages are read ``FOR UPDATE SKIP LOCKED`` and
then plainly; one another transaction holds (skipped by the first read, seen by the second)
counts as possibly told, so the cancellation goes. One this claim locks stays as read until
it commits: another run's claim skips it, and claims it later without the lesson.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select

from tutorctl.db import tables
from tutorctl.db.uow import Tx
from tutorctl.services.notify.messages import Row

_O = tables.outbox
NEVER_TOLD = "never told it was booked"
_UNSENT = ("obsolete", "failed")
ASKED = ("cancelled", "moved")  # the actions that assume the person knew the lesson


def asked(row: Row, user_id: int) -> set[tuple[int, int]]:
    """(person, lineage) pairs whose telling this message's lessons depend on."""
    items = row.payload.get("lessons", [])
    return {(user_id, int(i["uid"])) for i in items if i["action"] in ASKED}


def uids(payload: dict[str, Any]) -> set[int]:
    """The lineages a message's lessons name."""
    return {int(i["uid"]) for i in payload.get("lessons", [])}


@dataclass
class Told:
    """(person, lineage) → the first outbox id of a message that told them (or may have)."""

    first: dict[tuple[int, int], int] = field(default_factory=dict)

    def knows(self, user_id: int, uid: int, before: int) -> bool:
        at = self.first.get((user_id, uid))
        return at is not None and at < before

    def add(self, user_id: int, message_id: int, lineages: set[int]) -> None:
        """A message that told (or may have told) these lineages."""
        for uid in lineages:
            key = (user_id, uid)
            self.first[key] = min(self.first.get(key, message_id), message_id)


def told(tx: Tx, pairs: set[tuple[int, int]], claimed: list[int]) -> Told:
    """What the earlier messages (outside this claim's ``claimed``) told of ``pairs``: two
    statements, none when no message of the claim cancels or moves a lesson."""
    found = Told()
    if not pairs:
        return found
    wanted = sorted({uid for _user, uid in pairs})
    where = (
        tx.one_of(_O.c.user_id, {user for user, _uid in pairs}),
        _O.c.id.not_in(claimed),  # a batch: a few ids
        _O.c.kind != "payment_failed",
        # json.dumps writes '"uid": 12' (a prefilter: 12 also finds 120, read exactly below)
        or_(*(_O.c.payload.like(f'%"uid": {uid}%') for uid in wanted)),
    )
    columns = (_O.c.id, _O.c.user_id, _O.c.status, _O.c.payload)
    mine = {
        r.id: r for r in tx.run(select(*columns).where(*where).with_for_update(skip_locked=True))
    }
    for seen in tx.run(select(*columns).where(*where)).all():
        row = mine.get(seen.id, seen)
        held_elsewhere = seen.id not in mine  # another transaction has it: may be told
        if row.status in _UNSENT or (row.status == "queued" and not held_elsewhere):
            continue
        uids_told = {uid for uid in uids(json.loads(row.payload)) if (row.user_id, uid) in pairs}
        found.add(row.user_id, row.id, uids_told)
    return found


def as_heard(row: Row, user_id: int, heard: Told) -> tuple[Row | None, str | None]:
    """The message as this person can hear it (see the module): None and why when nothing of
    it is left to tell."""
    items = row.payload.get("lessons", [])
    kept: list[dict[str, Any]] = []
    why: str | None = None
    for item in items:
        if item["action"] not in ASKED or heard.knows(user_id, int(item["uid"]), row.id):
            kept.append(item)
        elif item["action"] == "cancelled":
            why = why or f"lesson {item['id']}: {NEVER_TOLD}"
        else:  # moved: told as booked at its new time
            fresh = {k: v for k, v in item.items() if not k.startswith("old_")}
            kept.append({**fresh, "action": "booked"})
    if kept == items:
        return row, None
    if not kept and not any(row.payload.get("money", {}).values()):
        return None, why or NEVER_TOLD
    payload = {**row.payload, "lessons": kept}
    return Row(row.id, row.kind, row.to_address, row.to_name, row.session_id, payload), None

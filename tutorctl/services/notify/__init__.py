"""Telling people (SPEC §11): what a change tells whom, and getting it to them.

- ``telling``: the typed event of an applied plan (its lessons as facts, its money), which
  ``db/outbox.py`` turns into outbox rows at commit;
- ``outbox``: reminders queued set-based, messages claimed under lock, marked sent or failed;
- ``told``: who has heard of which lesson (a cancellation never reaches someone who was not);
- ``messages``: the texts (default or templates), the calendar parts, the whole message;
- ``composer``: the same bytes, composed fast from one skeleton per shape of message;
- ``mailer``: SMTP; ``sending``: ``notify send``, the steps in their own transactions;
- ``notices``: ``notify list|show|retry`` and ``session receipt``;
- ``check``: invariant 10 of ``check``.
"""

"""``notify send``: queue the reminders due, then send what is due over one SMTP connection.

Each step is its own short transaction: queue reminders (one statement); claim a batch; after
the server's answer to each message, record it (sent, retried later, failed). Nothing is held
locked while the server talks. A broken template stops the run before anything is claimed.

A server that cannot be reached (refused, no such host, a timeout connecting, TLS) is no
message's fault: the run stops, its claimed messages are queued again as they were (no attempt
counted, their next attempt not pushed) and ``stopped`` says why; the CLI then exits 4. One the
server was given when the connection broke (it may have kept it) counts that attempt, as a 4xx.
"""

from __future__ import annotations

import uuid
from functools import partial

from tutorctl.core.errors import ConfigError
from tutorctl.core.views import NotifySendView, SendOutcomeView
from tutorctl.db.uow import Database, Tx
from tutorctl.services.notify import outbox
from tutorctl.services.notify.composer import Composer
from tutorctl.services.notify.mailer import Mailer, Outcome, SmtpConfig, Unreachable, WentAway
from tutorctl.services.notify.messages import Row, Templates, compose

# messages claimed at a time: overlapping runs share the queue, and a claim lives a few
# messages' SMTP time, far under outbox.STALE_CLAIM (past it another run may send it again)
BATCH = 5
LISTED = 1000  # outcomes listed; the rest only counted, so a run's memory stays flat


class _Outcomes(list[SendOutcomeView]):
    """The first LISTED outcomes of a run, and how many more there were."""

    unlisted = 0

    def append(self, outcome: SendOutcomeView) -> None:
        if len(self) < LISTED:
            super().append(outcome)
        else:
            self.unlisted += 1


def send(
    db: Database,
    config: SmtpConfig | None,
    templates: Templates,
    limit: int | None,
    dry_run: bool = False,
) -> NotifySendView:
    if config is None and not dry_run:
        raise ConfigError(
            "no SMTP server: set TUTORCTL_SMTP_URL (smtp://host:25, "
            "smtp+starttls://user@host:587 or smtps://host:465); every message stays queued"
        )
    templates.rehearse(db.read(lambda tx: tx.settings))  # a broken template: nothing is sent
    if dry_run:
        return _dry_run(db, config, templates, limit)
    reminders = db.write("notify send", outbox.queue_reminders)
    token = uuid.uuid4().hex
    assert config is not None
    mailer = Mailer(config)
    outcomes = _Outcomes()
    counts = {"sent": 0, "queued": 0, "failed": 0, "obsolete": 0}
    stopped: str | None = None
    composer: Composer | None = None  # made again only if the school's settings change
    left = limit if limit is not None else -1
    unsent: list[Row] = []  # claimed by this run, not yet handed to the server
    try:
        while left != 0 and stopped is None:
            size = BATCH if left < 0 else min(BATCH, left)
            claimed = db.write("notify send", partial(outbox.claim, token=token, limit=size))
            unsent = list(claimed.rows)
            for row, why in claimed.obsolete:
                counts["obsolete"] += 1
                outcomes.append(SendOutcomeView(row.id, row.kind, row.to_address, "obsolete", why))
            if not claimed.rows and not claimed.obsolete:
                break
            for row in claimed.rows:
                assert claimed.settings is not None and claimed.now is not None
                if composer is None or composer.settings != claimed.settings:
                    composer = Composer(claimed.settings, templates)
                try:  # a school template, a refused login: untried, they wait
                    outcome = mailer.send(composer.prepare(row, claimed.now))
                except WentAway as exc:  # handed over, maybe kept: an attempt, tried again
                    stopped = f"{exc}; the messages not sent stay queued"
                    outcome = Outcome("temporary", str(exc))
                except Unreachable as exc:  # never handed over: not its fault, no attempt
                    stopped = f"{exc}; the messages not sent stay queued"
                    break  # it stays in unsent: released below, as it was
                unsent.pop(0)  # handed over (or failed): its answer is recorded next
                status = _record(db, row.id, outcome)
                counts[status] += 1
                answer = None if status == "sent" else outcome.answer
                outcomes.append(SendOutcomeView(row.id, row.kind, row.to_address, status, answer))
                if stopped:
                    break
            if left > 0:
                left = max(0, left - len(claimed.rows) - len(claimed.obsolete))
        # the server could not be reached or went away: the rest wait as they were (no
        # attempt counted, next attempt not pushed), so an outage never fails a message
        _release(db, token, unsent)
    except BaseException:
        # whatever ends the run (busy, the database gone, a template): what was not handed to
        # the server is queued again now, not left claimed for STALE_CLAIM, and best effort
        # only: if that fails too, the claim's expiry is the fallback
        try:
            _release(db, token, unsent)
        except Exception:  # noqa: BLE001 - the first error is the one to report
            pass
        raise
    finally:
        mailer.close()
    return NotifySendView(
        smtp=config.masked,
        dry_run=False,
        reminders_queued=reminders,
        sent=counts["sent"],
        retried=counts["queued"],
        failed=counts["failed"],
        obsolete=counts["obsolete"],
        messages=list(outcomes),
        stopped=stopped,
        unlisted=outcomes.unlisted,
    )


def _release(db: Database, token: str, rows: list[Row]) -> None:
    if not rows:
        return
    db.write("notify send", partial(outbox.release, token=token, ids=[r.id for r in rows]))


def _record(db: Database, message_id: int, outcome: Outcome) -> str:
    """The server's answer, in its own transaction once it is known; the new status."""
    if outcome.kind == "sent":
        now = db.clock.now()
        db.maintain(lambda conn: outbox.mark_sent(conn, message_id, now))
        return "sent"
    unsent = partial(
        outbox.mark_unsent,
        message_id=message_id,
        answer=outcome.answer,
        permanent=outcome.kind == "permanent",
    )
    return db.write("notify send", unsent)


def _dry_run(
    db: Database, config: SmtpConfig | None, templates: Templates, limit: int | None
) -> NotifySendView:
    """What a run would send now, composed (templates tried), nothing written."""

    def look(tx: Tx) -> NotifySendView:
        tx.discard()
        reminders = outbox.queue_reminders(tx)
        claimed = outbox.claim(tx, "dry-run", limit if limit is not None else 10_000)
        for row in claimed.rows:
            compose(row, tx.settings, templates, tx.now)
        lines = [
            SendOutcomeView(r.id, r.kind, r.to_address, "would send") for r in claimed.rows
        ] + [
            SendOutcomeView(r.id, r.kind, r.to_address, "obsolete", why)
            for r, why in claimed.obsolete
        ]
        return NotifySendView(
            smtp=config.masked if config else None,
            dry_run=True,
            reminders_queued=reminders,
            sent=0,
            retried=0,
            failed=0,
            obsolete=len(claimed.obsolete),
            messages=sorted(lines, key=lambda m: m.id),
        )

    return db.write("notify send", look)

"""tutorctl notify send | list | show | retry (SPEC §11)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from tutorctl.cli.state import Json, emit, id_argument, read, state, write
from tutorctl.core.errors import ConfigError

app = typer.Typer(
    help="Messages to students and teachers: send, list, show, retry.", no_args_is_help=True
)
MessageArg = Annotated[int, id_argument("MESSAGE", "Message id (see `notify list`).")]


def _templates() -> object:
    from tutorctl.services.notify.messages import ENV_TEMPLATES, Templates

    return Templates(os.environ.get(ENV_TEMPLATES) or None)


@app.command("send")
def send(
    limit: Annotated[int | None, typer.Option(min=1, help="Send at most this many.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be sent; change nothing.")
    ] = False,
    json: Json = False,
) -> None:
    """Queue the reminders due, then send what is due over TUTORCTL_SMTP_URL (for cron).

    Exit 4 without a server, or when it cannot be reached or goes away: what was not sent
    stays queued (an outage counts no attempt)."""
    from tutorctl.services.notify import sending
    from tutorctl.services.notify.mailer import smtp_config
    from tutorctl.services.notify.messages import Templates

    templates = _templates()
    assert isinstance(templates, Templates)
    config = smtp_config()
    view = sending.send(state().database(), config, templates, limit, dry_run)
    emit(view, json)  # what the run did, even when it stopped (--json: the one document)
    if view.stopped:  # the server could not be reached or went away: for cron, exit 4
        raise ConfigError(view.stopped)


@app.command("list")
def list_(
    status: Annotated[
        str | None, typer.Option(help="queued, sending, sent, failed or obsolete.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Only this person's messages.")] = None,
    json: Json = False,
) -> None:
    """List messages, newest first."""
    from tutorctl.services.notify import notices

    emit(read(lambda tx: notices.list_messages(tx, status, user)), json)


@app.command("show")
def show(message_id: MessageArg, json: Json = False) -> None:
    """The whole message as it will be (or was) sent: headers, text, calendar parts."""
    from tutorctl.services.notify import notices
    from tutorctl.services.notify.messages import Templates

    templates = _templates()
    assert isinstance(templates, Templates)
    emit(read(lambda tx: notices.show_message(tx, message_id, templates)), json)


@app.command("retry")
def retry(
    message_id: Annotated[
        int | None, id_argument("MESSAGE", "A failed or obsolete message.")
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Every failed message.")] = False,
    json: Json = False,
) -> None:
    """Queue a failed (or obsolete) message again, or every failed one."""
    from tutorctl.services.notify import notices

    emit(write("notify retry", lambda tx: notices.retry(tx, message_id, failed)), json)

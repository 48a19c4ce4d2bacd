"""Root options (--db, --now, --actor, --lock-timeout) and the lazily built database of this
command."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.config import DEFAULT_LOCK_TIMEOUT, default_actor, mask_url, resolve_db_url
from tutorctl.core.errors import InputError

if TYPE_CHECKING:
    from tutorctl.db.uow import Database, Tx

T = TypeVar("T")

Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ENV_LOCK_TIMEOUT = "TUTORCTL_LOCK_TIMEOUT"
MAX_LOCK_TIMEOUT = 3600.0
_SECONDS = re.compile(r"[0-9]{1,7}(\.[0-9]{1,6})?|\.[0-9]{1,6}", re.ASCII)


def parse_lock_timeout(text: str | None) -> float:
    """``--lock-timeout`` / ``TUTORCTL_LOCK_TIMEOUT``: seconds, 0 … 3600 (decimals allowed);
    anything else is bad input (exit 2) before the database is touched."""
    if text is None:  # (an empty TUTORCTL_LOCK_TIMEOUT counts as unset)
        return DEFAULT_LOCK_TIMEOUT
    value = text.strip()
    seconds = float(value) if _SECONDS.fullmatch(value) else math.nan
    if not 0 <= seconds <= MAX_LOCK_TIMEOUT:
        raise InputError(
            f"bad --lock-timeout {text!r}: give seconds between 0 and {MAX_LOCK_TIMEOUT:g} "
            f"(e.g. 10 or 0.5)"
        )
    return seconds


def _id_parser(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        from tutorctl.core.limits import parse_id

        return parse_id(text, what)

    return parse


def id_argument(metavar: str, help: str, autocompletion: Callable[..., Any] | None = None) -> Any:
    """A positional id in ASCII digits, checked before the database is touched (SPEC §6):
    junk or 0 is exit 2; over 2**31-1 it names nothing, exit 3, on every database."""
    return typer.Argument(
        metavar=metavar,
        help=help,
        parser=_id_parser(metavar.lower()),
        autocompletion=autocompletion,
    )


def id_option(*names: str, help: str, autocompletion: Callable[..., Any] | None = None) -> Any:
    return typer.Option(
        *names, help=help, parser=_id_parser(names[0].lstrip("-")), autocompletion=autocompletion
    )


@dataclass
class State:
    db_option: str | None = None
    now_text: str | None = None
    actor: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT

    @property
    def url(self) -> str:
        return resolve_db_url(self.db_option)

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    def database(self) -> Database:
        from tutorctl.db.uow import Database

        clock = Clock(parse_now(self.now_text) if self.now_text else None)
        return Database(
            self.url,
            clock=clock,
            actor=self.actor or default_actor(),
            lock_timeout=self.lock_timeout,
        )


_state = State()


def configure(
    db: str | None, now: str | None, actor: str | None, lock_timeout: str | None = None
) -> None:
    global _state
    if now:
        parse_now(now)  # fail early, exit 2, before touching the database
    if actor:
        from tutorctl.core.limits import check_text

        actor = check_text(actor, "--actor")  # ≤ 200 characters on every database (SPEC §6)
    seconds = parse_lock_timeout(lock_timeout)
    _state = State(db_option=db, now_text=now, actor=actor, lock_timeout=seconds)


def state() -> State:
    return _state


def write(command: str, fn: Callable[[Tx], T]) -> T:
    """Run one mutation in the one locked unit of work."""
    return _state.database().write(command, fn)


def read(fn: Callable[[Tx], T]) -> T:
    return _state.database().read(fn)


def emit(view: Any, as_json: bool) -> None:
    """Print a read model: one JSON document, or its rich rendering."""
    import sys

    if as_json:
        from tutorctl.render.jsonout import to_json

        sys.stdout.write(to_json(view) + "\n")
    else:
        from tutorctl.render.console import make_console, render

        make_console().print(render(view))

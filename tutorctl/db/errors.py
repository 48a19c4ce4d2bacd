"""What a database error means: a conflict to retry, or the tutorctl error it is reported as."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from tutorctl.core.config import mask_url, scrub
from tutorctl.core.errors import ConfigError, RuleError

# PostgreSQL: serialization failure, deadlock, lock not available, unique violation
RETRYABLE_PG_CODES = {"40001", "40P01", "55P03", "23505"}


class Conflict(Exception):
    """What a transaction read before its locks changed under them: the unit of work re-runs
    the whole transaction (a fresh read, the same locks), as after a deadlock. For a service
    whose locks depend on what it reads (a lock-read-verify loop): never a user's error."""


def retryable(exc: DBAPIError) -> bool:
    """A conflict with another transaction, or a busy database: the transaction is re-run."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in RETRYABLE_PG_CODES:
        return True
    message = str(orig).lower()
    return "database is locked" in message or "database is busy" in message


def translate(exc: DBAPIError, url: str) -> Exception:
    """Any other database error as the error a command reports (its exit code)."""
    code = getattr(exc.orig, "sqlstate", None)
    if code == "23P01":  # the PostgreSQL exclusion backstop
        return RuleError(
            "refused by the database: that would double-book a person (no_double_booking)"
        )
    reason = scrub(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc), url)
    return ConfigError(f"database error on {mask_url(url)}: {reason}")

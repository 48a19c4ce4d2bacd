"""Typed errors. Each carries the exit code of SPEC §6; the CLI root catches them once."""

from __future__ import annotations


class TutorError(Exception):
    """Base of every error a user may see. ``str(error)`` is the one-line message."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleError(TutorError):
    """Refused by a rule: conflict, wrong status, insufficient funds (exit 1)."""

    exit_code = 1


class InputError(TutorError):
    """Bad input or usage (exit 2)."""

    exit_code = 2


class NotFoundError(TutorError):
    """A named thing does not exist (exit 3)."""

    exit_code = 3


class ConfigError(TutorError):
    """Database or configuration problem (exit 4)."""

    exit_code = 4


class LockError(TutorError):
    """Could not get the lock, or retries were exhausted (exit 5)."""

    exit_code = 5

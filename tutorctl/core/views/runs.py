"""What the maintenance commands did: `check`, `expire`, imports."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CheckView:
    """`check`: the invariants, each violation in words, and what was counted."""

    ok: bool
    violations: list[str]
    checked: dict[str, int]


@dataclass(frozen=True)
class ExpireView:
    """What one `expire` run released and settled."""

    expired_sessions: int  # open sessions idle over the hold time → expired
    failed_payments: int  # sessions awaiting payment over the payment time → payment_failed
    closed_paid_sessions: int  # paid sessions idle over the hold time → applied
    closed_failed_sessions: int  # payment_failed sessions idle over the hold time → expired
    abandoned_operations: int  # pending operations those sessions abandoned
    released_holds: int
    done_lessons: int
    batches: int


@dataclass(frozen=True)
class ImportView:
    """What an import read and wrote (nothing written when any row is bad)."""

    kind: str
    file: str
    rows: int
    written: int
    dry_run: bool
    details: dict[str, int] = field(default_factory=dict)

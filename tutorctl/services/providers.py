"""Payment providers: who answers a payment ``session pay`` started.

A provider is asked between the two transactions of ``settlement.pay`` (no lock is held while
it answers). The simulator is the one the desk uses today; a real gateway would implement the
same ``charge``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from tutorctl.core.views import PayResultView


class PaymentProvider(Protocol):
    def charge(self, payment: PayResultView) -> bool | None:
        """The answer for this pending payment: True (taken), False (refused) or None (no
        answer yet: the payment stays pending until answered or failed by ``expire``)."""
        ...


class Simulate(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    PENDING = "pending"


class SimulatedProvider:
    """Answers what it was told to (``--simulate``)."""

    def __init__(self, answer: Simulate = Simulate.SUCCESS) -> None:
        self.answer = answer

    def charge(self, payment: PayResultView) -> bool | None:
        if self.answer == Simulate.PENDING:
            return None
        return self.answer == Simulate.SUCCESS

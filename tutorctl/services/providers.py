"""Payment providers: who answers a payment ``session pay`` started.

A provider is asked between the two transactions of ``settlement.pay`` (no lock is held while
it answers). The simulator is the one the desk uses today; a real gateway would implement the
same ``charge``.
"""

from __future__ import annotations

from typing import Protocol

from tutorctl.core.views import PayResultView


class PaymentProvider(Protocol):
    def charge(self, payment: PayResultView) -> bool | None:
        """The answer for this pending payment: True (taken), False (refused) or None (no
        answer yet: the payment stays pending until answered or failed by ``expire``)."""
        ...


class SimulatedProvider:
    """Answers what it was told to (``session pay --simulate``): True, False or None."""

    def __init__(self, answer: bool | None = True) -> None:
        self.answer = answer

    def charge(self, payment: PayResultView) -> bool | None:
        return self.answer

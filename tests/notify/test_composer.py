"""Composing fast (services/notify/composer.py) changes no byte of what is sent: every sample, through
the fast path and the general one, is the golden file made by the general path before the fast
one existed (headers, text, calendar parts, Message-ID); the plain samples do take the fast
path, the hostile and non-ASCII ones the general path."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from email.policy import SMTP
from pathlib import Path

import pytest

from tests.notify.samples import NOW, samples
from tutorctl.services.notify.composer import Composer
from tutorctl.services.notify.messages import Templates, compose

GOLDEN = Path(__file__).parent / "golden"
SLOW = {"hostile", "non-ascii", "quoted-name", "long-subject"}


@pytest.mark.parametrize("name", [name for name, _row, _settings in samples()])
def test_each_sample_is_byte_for_byte_its_golden_file(name: str) -> None:
    (row, settings) = next((r, s) for n, r, s in samples() if n == name)
    golden = (GOLDEN / f"{name}.eml").read_bytes()
    assert compose(row, settings, Templates(None), NOW).as_bytes(policy=SMTP) == golden
    composer = Composer(settings, Templates(None))
    for _ in range(2):  # the second time from the cached skeletons
        prepared = composer.prepare(row, NOW)
        assert (prepared.sender, prepared.recipients) == (settings.mail_from, [row.to_address])
        if name in SLOW:
            assert prepared.data is None and prepared.message is not None
            assert prepared.message.as_bytes(policy=SMTP) == golden
        else:
            assert prepared.data == golden


def test_one_composer_serves_many_rows_and_times_exactly() -> None:
    """Shapes cached for one message serve the next with other values and another time."""
    composer = Composer(samples()[0][2], Templates(None))
    for minutes in (0, 61, 60 * 24 * 200, *range(2, 14)):  # more times than it keeps
        now = NOW + timedelta(minutes=minutes)
        for _name, row, settings in samples():
            if settings is not composer.settings:
                continue
            for other in (row, replace(row, id=row.id * 7919, to_name="Zoe Kim-Lee")):
                prepared = composer.prepare(other, now)
                full = compose(other, settings, Templates(None), now).as_bytes(policy=SMTP)
                got = prepared.data or prepared.message.as_bytes(policy=SMTP)  # type: ignore[union-attr]
                assert got == full


def test_a_receipt_told_without_its_changed_lessons_is_composed_alike() -> None:
    """What a claim leaves of a receipt whose lessons changed (some lessons, or only the
    money): the fast path writes what ``compose`` writes."""
    _name, row, settings = next(s for s in samples() if s[0] == "receipt-mixed")
    composer = Composer(settings, Templates(None))
    items = row.payload["lessons"]
    empty: list[dict[str, object]] = []
    for kept in (items[1:], items[:1], empty):
        told = replace(row, payload={**row.payload, "lessons": kept})
        prepared = composer.prepare(told, NOW)
        full = compose(told, settings, Templates(None), NOW).as_bytes(policy=SMTP)
        assert (prepared.data or prepared.message.as_bytes(policy=SMTP)) == full  # type: ignore[union-attr]

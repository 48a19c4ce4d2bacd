from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutorctl.core.clock import Clock, parse_now
from tutorctl.core.config import libpq_url, mask_url, psycopg_url, resolve_db_url, scrub
from tutorctl.core.errors import InputError
from tutorctl.core.money import format_amount, parse_amount, prorate


@pytest.mark.parametrize(
    ("text", "cents"), [("45.50", 4550), ("45.5", 4550), ("45", 4500), ("0.01", 1)]
)
def test_parse_amount(text: str, cents: int) -> None:
    assert parse_amount(text) == cents


@pytest.mark.parametrize(
    "text", ["-1", "1.234", "1e3", "abc", "", "1,5", "NaN", "inf", "0", "99999999999999"]
)
def test_parse_amount_refuses(text: str) -> None:
    with pytest.raises(InputError):
        parse_amount(text)


@given(st.integers(min_value=1, max_value=10_000_000_00))  # SPEC §6: ≤ 10,000,000.00
def test_amount_round_trip(cents: int) -> None:
    shown = format_amount(cents, "EUR").removesuffix(" EUR").replace(",", "")
    assert parse_amount(shown) == cents


def test_prorate_rounds_half_up_in_integers() -> None:
    assert prorate(4550, 60) == 4550
    assert prorate(4550, 15) == 1138  # 1137.5 → 1138
    assert prorate(4000, 90) == 6000
    assert prorate(1, 30) == 1


def test_mask_url_hides_password() -> None:
    url = "postgresql+psycopg://school:s3cr3t@db.example:5432/tutor"
    masked = mask_url(url)
    assert "s3cr3t" not in masked
    assert masked == "postgresql+psycopg://school:***@db.example:5432/tutor"
    assert scrub("failed for s3cr3t", url) == "failed for ***"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


def test_resolve_db_url(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.delenv("TUTORCTL_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", "/data")
    assert resolve_db_url(None) == "sqlite:////data/tutorctl/tutorctl.db"
    monkeypatch.setenv("TUTORCTL_DB", "postgresql://u@h/d")
    assert resolve_db_url(None) == "postgresql+psycopg://u@h/d"
    assert resolve_db_url("sqlite:///x.db") == "sqlite:///x.db"


def test_clock() -> None:
    fixed = parse_now("2026-11-24T09:00:00+01:00")
    assert fixed == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert Clock(fixed).now() == fixed
    live = Clock()
    assert live.now() is live.now()  # read once per command
    with pytest.raises(InputError, match="ISO 8601"):
        parse_now("tomorrow")
    for naive in ("2026-11-23T08:00:00", "2026-11-23"):  # whose 08:00? no guess
        with pytest.raises(InputError, match="UTC offset"):
            parse_now(naive)
    assert parse_now("2026-11-24T08:00:00Z") == fixed


def test_one_rewrite_of_postgresql_urls_each_way() -> None:
    """SQLAlchemy is told the psycopg driver; completion's psycopg.connect is given libpq's."""
    for url in ("postgresql://u@h/d", "postgres://u@h/d", "postgresql+psycopg://u@h/d"):
        assert psycopg_url(url) == "postgresql+psycopg://u@h/d"
        assert libpq_url(url) == "postgresql://u@h/d"
    assert psycopg_url("sqlite:///x.db") == libpq_url("sqlite:///x.db") == "sqlite:///x.db"

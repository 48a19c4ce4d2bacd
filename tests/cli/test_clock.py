"""Issue 23: the one clock and the desk's rough edges.

Every date test runs with a --now years away from the machine's date, so a date completed from
the machine's clock (dateutil's default) would be seen.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Cli, reserve, school
from tests.helpers import schedule_set_args
from tutorctl.core.calendar import format_week, monday_of

FAR = "2031-06-18T10:00:00+02:00"  # a Wednesday, 2031-W25: far from whenever the tests run

INCOMPLETE = [
    ("schedule", "off", "alice", "--reason", "ill", "--date", "Dec 2026"),
    ("schedule", "show", "alice", "--week", "Wednesday"),
    ("schedule", "show", "alice", "--week", "2026"),
    ("schedule", "show", "alice", "--week", "Nov 2026"),
    ("schedule", "set", "alice", "--days", "mon", "--hours", "09:00-10:00", "--open", "--week", "Nov 2026"),
    ("reserve", "--teacher", "alice", "--student", "bob", "--category", "maths", "--day", "wed",
     "--time", "10:00-11:00", "--week", "Wednesday"),
    ("history", "--since", "Nov 2026"),
    ("report", "revenue", "--from", "Nov 2026"),
    ("report", "hours", "--from", "2026-11-25", "--to", "Dec 2026"),
    ("export", "reservations", "--format", "csv", "--from", "Nov 2026"),
    ("schedule", "show", "alice", "--week", "11/25/26"),  # a two-digit year: whose century?
]  # fmt: skip


@pytest.mark.parametrize("args", INCOMPLETE, ids=lambda a: " ".join(a[:2]) + " " + a[-1])
def test_an_incomplete_date_is_refused_not_filled_from_the_machines_clock(
    cli: Cli, args: tuple[str, ...]
) -> None:
    school(cli)
    before = cli.json("schedule", "show", "alice", "--week", "2026-W49")
    error = cli.fails(2, "--now", FAR, *args).err
    value = args[-1]
    assert repr(value) in error
    assert "not a whole date" in error or "four digits" in error
    assert "YYYY-MM-DD" in error or "ISO week" in error  # the accepted forms
    assert cli.json("schedule", "show", "alice", "--week", "2026-W49") == before


def test_a_whole_date_resolves_the_same_under_any_now(cli: Cli) -> None:
    school(cli)
    for now in (FAR, "1999-03-03T08:00:00Z"):
        shown = cli.json("--now", now, "schedule", "show", "alice", "--week", "Wed Nov 25 2026")
        assert shown["week"] == "2026-W48"
    error = cli.fails(2, "schedule", "show", "alice", "--week", "Wed 2026-11-26").err
    assert "2026-11-26 is a Thursday, not a Wednesday" in error


def test_a_day_off_needs_a_whole_date_and_acts_on_that_day(cli: Cli) -> None:
    school(cli)
    error = cli.fails(2, "--now", FAR, "schedule", "off", "alice", "--date", "Dec 2026",
                      "--reason", "ill").err  # fmt: skip
    assert "bad --date 'Dec 2026': not a whole date (no day)" in error
    off = cli.json("--now", "2026-11-20T09:00:00+01:00", "schedule", "off", "alice",
                   "--date", "Dec 1 2026", "--reason", "ill")  # fmt: skip
    assert off["date"] == "2026-12-01"


def test_week_3000_w01_is_refused_naming_the_week(cli: Cli) -> None:
    school(cli)
    error = cli.fails(2, "schedule", "show", "alice", "--week", "2999-12-30").err
    assert "2999-12-30 is in ISO week 3000-W01" in error
    assert "past the last week tutorctl accepts (2999-W52)" in error
    assert "between 1900 and 2999" not in error
    assert cli.json("schedule", "show", "alice", "--week", "2999-12-29")["week"] == "2999-W52"


# A moving --now: every form of a date either names the same week whatever "now" is, or is
# refused (exit 2); none is completed from the machine's clock.
WHOLE = ("%b %d %Y", "%d %B %Y", "%A %d %B %Y", "%Y-%m-%d")
PARTIAL = ("%b %Y", "%B %d", "%Y", "%A", "%m/%d/%y")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    day=st.dates(min_value=date(1901, 1, 1), max_value=date(2998, 12, 31)),
    now=st.datetimes(min_value=datetime(1901, 1, 1), max_value=datetime(2998, 12, 31)),
    form=st.sampled_from(WHOLE + PARTIAL),
)
def test_dates_under_a_moving_now_resolve_or_are_refused(
    cli: Cli, day: date, now: datetime, form: str
) -> None:
    text = day.strftime(form)
    now_text = now.isoformat(timespec="seconds") + "+00:00"
    cli("user", "add", "tess", "--name", "Tess", "--role", "teacher")  # once: later, exit 1
    result = cli("--now", now_text, "schedule", "show", "tess", "--week", text, "--json")
    if form in WHOLE:
        assert result.code == 0, result.err
        assert result.json()["week"] == format_week(monday_of(day))
    else:
        assert result.code == 2, (text, result.err)
        assert repr(text) in result.err


# -- 8: the resume's --expect-total hint is exactly what session pay accepts ---------------------


@pytest.mark.parametrize(
    ("price", "hours", "total"),
    [("720.00", "10:00-12:00", 144000), ("10000000.00", "09:00-18:00", 9_000_000_000)],
)
def test_the_expect_total_hint_pastes_back_for_large_totals(
    cli: Cli, price: str, hours: str, total: int
) -> None:
    school(cli)
    cli.ok("category", "add", "gold", "--price", price)
    sid = reserve(cli, "--json", category="gold", time=hours).json()["session_id"]
    notes = cli.json("session", "resume", str(sid))["notes"]
    hint = next(n for n in notes if "--expect-total" in n)
    words = hint.split()
    pasted = words[words.index("--expect-total") + 1]
    assert pasted == f"{total // 100}.{total % 100:02d}"  # no thousands separators
    assert f"--expect-total {pasted}" in cli.ok("session", "resume", str(sid)).out
    # the total is larger than any one amount typed elsewhere (10,000,000.00): still accepted
    paid = cli.json("session", "pay", str(sid), "--method", "card", "--expect-total", pasted)
    assert paid["status"] == "paid" and paid["amount_cents"] == total
    assert (
        "thousands separators"
        in cli.fails(
            2, "session", "pay", str(sid), "--method", "card", "--expect-total", "1,440.00"
        ).err
    )


# -- 14: the desk's rough edges ------------------------------------------------------------------


def test_a_flag_and_its_opposite_are_refused_not_last_wins(cli: Cli) -> None:
    school(cli)
    before = cli.json("schedule", "show", "alice", "--week", "next")
    set_ = schedule_set_args("alice", "next", "mon", "09:00-10:00")
    for args, pair in [
        ((*set_, "--open", "--close"), "--open or --close"),
        ((*set_, "--close", "--open"), "--open or --close"),
        ((*set_, "--close", "--force", "--no-force"), "--force or --no-force"),
        (("user", "set", "bob", "--active", "--inactive"), "--active or --inactive"),
        (("session", "confirm", "1", "--cancels", "--no-cancels"), "--cancels or --no-cancels"),
    ]:
        assert cli.fails(2, *args).err.strip() == f"error: give {pair}, not both"
    assert cli.json("schedule", "show", "alice", "--week", "next") == before
    cli.ok(*set_, "--close", "--close")  # the same flag twice says one thing


def test_a_negative_amount_says_so(cli: Cli) -> None:
    school(cli)
    for args, typed in [
        (("account", "credit", "bob", "-5"), "-5"),
        (("account", "credit", "bob", "-5.50", "--reason", "oops"), "-5.50"),
        (("account", "debit", "bob", "-5"), "-5"),
    ]:
        error = cli.fails(2, *args).err
        assert f"bad value {typed!r}: a negative amount or number is not accepted" in error
        assert "No such option" not in error
    error = cli.fails(2, "category", "add", "harp", "--price", "-1").err
    assert "bad price '-1': a negative amount is not accepted" in error
    assert cli.json("account", "show", "bob")["balance_cents"] == 0


def _help(cli: Cli, *path: str) -> str:
    return " ".join(cli.ok(*path, "--help").out.split())


def test_group_help_names_every_command_of_the_group(cli: Cli) -> None:
    for group, commands in [
        ("session", ("list", "show", "drop", "abandon", "resume", "pay", "confirm")),
        ("account", ("credit", "debit", "show", "history")),
    ]:
        first = cli.ok(group, "--help").out.split("Options:")[0]
        for command in commands:
            assert command in first, (group, command)


CHOICES = [
    (("import",), "kind <users|categories|availability|purchases|credits|reservations>"),
    (("import",), "--format <csv|jsonl>"),
    (("export", "reservations"), "--format <csv|jsonl|ics>"),
    (("user", "add"), "--role <teacher|student>"),
    (("user", "list"), "--role <teacher|student>"),
    (
        ("session", "list"),
        "--status <open|awaiting_payment|paid|payment_failed|applied|abandoned|expired>",
    ),
    (("session", "pay"), "--method <card|wechat|cash|transfer>"),
    (("report", "revenue"), "--by <teacher|category|month>"),
    (("report", "hours"), "--by <teacher|student|category>"),
    (("report", "occupancy"), "--format <table|csv>"),
]


@pytest.mark.parametrize(
    ("path", "shown"), CHOICES, ids=lambda v: "-".join(v) if isinstance(v, tuple) else v.split()[0]
)
def test_help_shows_the_choices_not_str(cli: Cli, path: tuple[str, ...], shown: str) -> None:
    assert shown in _help(cli, *path)


def test_now_help_says_the_utc_offset_is_required(cli: Cli) -> None:
    text = _help(cli)
    assert "--now ISO-DATETIME" in text
    assert "WITH its UTC offset" in text and "2026-11-24T09:00:00+01:00" in text


def test_readme_commands_run_as_written(cli: Cli) -> None:
    """The README's examples use the default 60-minute grid, and say to run db init first."""
    import re
    from pathlib import Path

    from tutorctl.core.calendar import SlotGrid

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    grid = SlotGrid(60)
    ranges = re.findall(r"tutorctl [^\n]*?--(?:time|hours) (\d\d:\d\d-\d\d:\d\d)", readme)
    assert len(ranges) >= 5
    for text in ranges:
        grid.parse_range(text)  # raises on a time off the 60-minute grid
    commands = readme.split("## Commands", 1)[1]
    assert "db init" in commands.split("```", 1)[0]  # said before the first example

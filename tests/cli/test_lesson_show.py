"""``lesson show``: where a lesson's price came from, one line per source."""

from __future__ import annotations

from tests.conftest import Cli, school
from tests.helpers import move_args, purchase_args, reserve_args


def test_a_lengthening_move_funded_by_the_same_package_shows_it_once(cli: Cli) -> None:
    school(cli)
    cli.ok(*purchase_args("3", "120.00"))
    first = cli.json(*reserve_args(week="next", day="wed", time="10:00-11:00"))
    cli.ok("session", "confirm", str(first["session_id"]))
    moved = cli.json(
        *move_args(first["reservation_id"], week="next", day="thu", time="10:00-12:00")
    )
    cli.ok("session", "confirm", str(moved["session_id"]))
    lesson = cli.json("schedule", "show", "alice", "--week", "next")["lessons"][0]
    assert lesson["id"] != first["reservation_id"]  # a move books a new lesson
    shown = cli.json("lesson", "show", str(lesson["id"]))
    assert [(p["source"], p["minutes"], p["purchase_id"]) for p in shown["funding"]] == [
        ("purchase", 120, 1)
    ]
    text = cli.ok("lesson", "show", str(lesson["id"])).out
    assert text.count("│ package 1 │") == 1, text  # the funding table's row

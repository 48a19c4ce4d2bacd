"""tutorctl demo: builds a demo school, and re-running refreshes it without duplicates."""

from __future__ import annotations

from tests.conftest import Cli


def test_demo_builds_and_refreshes(cli: Cli) -> None:
    first = cli.ok("demo")
    assert "alice (teacher)" in first.out and "demo school ready" in first.out
    users = cli.json("user", "list")["users"]
    assert [u["handle"] for u in users] == ["alice", "bruno", "chloe", "david", "emma"]
    lessons = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    lessons += cli.json("schedule", "show", "alice", "--week", "next")["lessons"]
    assert {lesson["student"] for lesson in lessons} >= {"chloe", "david"}
    cli.ok("demo")
    assert len(cli.json("user", "list")["users"]) == 5
    assert len(cli.json("category", "list")["categories"]) == 3
    assert len(cli.json("purchase", "list")["purchases"]) == 1
    again = cli.json("schedule", "show", "alice", "--week", "this")["lessons"]
    again += cli.json("schedule", "show", "alice", "--week", "next")["lessons"]
    assert sorted(x["id"] for x in again) == sorted(x["id"] for x in lessons)

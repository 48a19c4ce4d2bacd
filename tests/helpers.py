"""Argument lists the tests repeat, as functions (standard library only: the stress workers
import this module in their spawned processes, without pytest)."""

from __future__ import annotations


def reserve_args(
    *extra: str,
    student: str = "bob",
    teacher: str = "alice",
    day: str = "wed",
    time: str = "10:00-11:00",
    week: str = "this",
    category: str = "maths",
) -> tuple[str, ...]:
    """``reserve`` one lesson (by default bob with alice, maths, this Wednesday 10-11)."""
    return (
        "reserve",
        "--teacher",
        teacher,
        "--student",
        student,
        "--category",
        category,
        "--week",
        week,
        "--day",
        day,
        "--time",
        time,
        *extra,
    )


def purchase_args(
    hours: str,
    price: str,
    *extra: str,
    student: str = "bob",
    teacher: str = "alice",
    category: str = "maths",
) -> tuple[str, ...]:
    """``purchase add`` a package of ``hours`` for ``price`` (by default bob with alice, maths)."""
    return (
        "purchase",
        "add",
        "--student",
        student,
        "--teacher",
        teacher,
        "--category",
        category,
        "--hours",
        hours,
        "--price",
        price,
        *extra,
    )


def schedule_set_args(
    teacher: str, week: str, days: str, hours: str, *extra: str
) -> tuple[str, ...]:
    """``schedule set`` (``extra``: ``--open``, ``--close``, ``--force`` …)."""
    return ("schedule", "set", teacher, "--week", week, "--days", days, "--hours", hours, *extra)


def move_args(lesson: int | str, *extra: str, week: str, day: str, time: str) -> tuple[str, ...]:
    """``move`` a lesson to another place."""
    return ("move", str(lesson), "--week", week, "--day", day, "--time", time, *extra)

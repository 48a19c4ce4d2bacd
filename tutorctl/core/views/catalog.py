"""Lesson categories and their prices."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CategoryView:
    """A lesson category and its hourly price."""

    id: int
    name: str
    price_cents: int
    currency: str
    active: bool


@dataclass(frozen=True)
class CategoryListView:
    """`category list`."""

    categories: list[CategoryView] = field(default_factory=list)

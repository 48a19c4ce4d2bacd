"""Users: teachers, students and staff."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class UserView:
    """A teacher, student or staff member (a student's balance when asked)."""

    id: int
    handle: str
    name: str
    role: str
    active: bool
    balance_cents: int | None = None
    currency: str | None = None
    email: str | None = None
    notify: bool = True


@dataclass(frozen=True)
class UserListView:
    """`user list`."""

    users: list[UserView] = field(default_factory=list)


@dataclass(frozen=True)
class PersonRef:
    """A user named inside another view."""

    id: int
    handle: str
    name: str
    role: str

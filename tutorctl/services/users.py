"""Users (teachers and students) and categories."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, select

from tutorctl.core.addresses import check_email
from tutorctl.core.errors import InputError, NotFoundError, RuleError
from tutorctl.core.limits import MAX_TEXT, as_id, check_text, is_digits
from tutorctl.core.status import Role
from tutorctl.core.views import CategoryListView, CategoryView, UserListView, UserView
from tutorctl.db.prepared import Prepared
from tutorctl.db.schema import Account, Category, User
from tutorctl.db.tables import categories as _C
from tutorctl.db.tables import users as _U
from tutorctl.db.uow import Tx
from tutorctl.services.ids import must_id

HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}\Z")  # \Z: no trailing newline slips by
ROLES = tuple(Role)  # for `in`: a plain string `in Role` raises before Python 3.12


def check_handle(handle: str) -> str:
    """A new handle: never all digits, or it would read as an id (SPEC §6)."""
    if not HANDLE.match(handle) or is_digits(handle):
        raise InputError(
            f"bad handle {handle!r}: use 1-64 characters of a-z, 0-9, '.', '_', '-', "
            "starting with a letter or digit, not all digits"
        )
    return handle


def check_name(name: str, what: str = "name", limit: int = MAX_TEXT) -> str:
    return check_text(name, what, limit)


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InputError(f"bad role {role!r}: use teacher or student")
    return role


# Hot-path statements are built once (bound parameters); building them per call costs more
# than running them.
USER_BY_HANDLE = select(User).where(User.handle == bindparam("handle"))
CATEGORY_BY_NAME = select(Category).where(Category.name == bindparam("name"))


def find_user(tx: Tx, ref: str | int, role: str | None = None) -> User:
    """A user by handle or numeric id; NotFoundError (exit 3) when absent."""
    text = str(ref).strip()
    number = as_id(text)  # ASCII digits only; over 2**31-1: -1, which names nothing
    if number is not None:
        user = tx.orm.get(User, number)
    else:
        user = tx.orm.exec(USER_BY_HANDLE, params={"handle": text}).first()
    return _checked(text, user, role)


def _checked(ref: str, user: U | None, role: str | None) -> U:
    """The user found for ``ref`` (ORM or Core), or the error every lookup gives."""
    if user is None:
        raise NotFoundError(f"no user {ref!r}: see `tutorctl user list`")
    if role is not None and user.role != role:
        raise RuleError(f"user {user.handle!r} is a {user.role}, not a {role}")
    return user


def _no_category(ref: str) -> NotFoundError:
    return NotFoundError(f"no category {ref!r}: see `tutorctl category list`")


@dataclass(frozen=True)
class Person:
    """A user as the booking checks need it (read with Core, no ORM object)."""

    id: int
    handle: str
    role: str
    active: bool


U = TypeVar("U", User, Person)


@dataclass(frozen=True)
class CategoryRef:
    """A category as the booking checks need it."""

    id: int
    name: str
    price_cents: int
    active: bool


PAIR_BY_REF = Prepared(
    sa_select(_U.c.id, _U.c.handle, _U.c.role, _U.c.active).where(
        or_(
            _U.c.handle.in_((bindparam("h0"), bindparam("h1"))),
            _U.c.id.in_((bindparam("i0"), bindparam("i1"))),
        )
    )
)
CATEGORY_BY_REF = Prepared(
    sa_select(_C.c.id, _C.c.name, _C.c.price_cents, _C.c.active).where(
        or_(_C.c.name == bindparam("name"), _C.c.id == bindparam("id"))
    )
)


def find_pair(tx: Tx, teacher_ref: str | int, student_ref: str | int) -> tuple[Person, Person]:
    """A teacher and a student by handle or id, in one statement; errors as ``find_user``."""
    refs = [str(teacher_ref).strip(), str(student_ref).strip()]
    ids = [as_id(r) for r in refs]
    handles = [r if i is None else None for r, i in zip(refs, ids, strict=True)]
    params = {"h0": handles[0], "h1": handles[1], "i0": ids[0], "i1": ids[1]}
    found: dict[str | int, Person] = {}
    for row in tx.run(PAIR_BY_REF, params):
        person = Person(*row)
        found[person.handle] = found[person.id] = person
    teacher, student = (
        _checked(ref, found.get(ref if i is None else i), role)
        for ref, i, role in zip(refs, ids, (Role.TEACHER, Role.STUDENT), strict=True)
    )
    return teacher, student


def find_category_ref(tx: Tx, ref: str | int) -> CategoryRef:
    """A category by id or name, as find_category, read with Core."""
    text = str(ref).strip()
    number = as_id(text)
    rows = tx.run(CATEGORY_BY_REF, {"name": text, "id": number})
    found = [CategoryRef(*row) for row in rows]
    if not found:
        raise _no_category(text)
    by_id = [c for c in found if c.id == number]
    return (by_id or found)[0]


def user_view(tx: Tx, user: User, with_balance: bool = False) -> UserView:
    """One user; ``with_balance``: a student's balance too (every single-user view: show, add,
    set, deactivate — a list leaves it out)."""
    balance = None
    if with_balance and user.role == Role.STUDENT:
        account = tx.orm.exec(select(Account).where(Account.student_id == user.id)).first()
        balance = account.balance_cents if account else 0
    return UserView(
        id=must_id(user),
        handle=user.handle,
        name=user.name,
        role=user.role,
        active=user.active,
        balance_cents=balance,
        currency=tx.settings.currency if balance is not None else None,
        email=user.email,
        notify=user.notify,
    )


def _email(text: str | None) -> str | None:
    """``--email``: an address, or ``""`` to remove it (None: not asked)."""
    if text is None or not text.strip():
        return None
    return check_email(text)


def add_user(
    tx: Tx,
    handle: str,
    name: str,
    role: str,
    email: str | None = None,
    notify: bool | None = None,
) -> UserView:
    handle, name, role = check_handle(handle), check_name(name), check_role(role)
    address = _email(email)
    existing = tx.orm.exec(select(User).where(User.handle == handle)).first()
    if existing is not None:
        raise RuleError(f"user {handle!r} already exists (id {existing.id})")
    user = User(
        handle=handle,
        name=name,
        role=role,
        active=True,
        created_at=tx.now,
        email=address,
        notify=True if notify is None else notify,
    )
    tx.orm.add(user)
    tx.orm.flush()
    if role == Role.STUDENT:
        tx.orm.add(Account(student_id=must_id(user), balance_cents=0))
    extra: dict[str, Any] = {} if address is None else {"email": address, "notify": user.notify}
    tx.audit(f"user {handle}", users=[must_id(user)], handle=handle, name=name, role=role, **extra)
    return user_view(tx, user, with_balance=True)


def list_users(tx: Tx, role: str | None = None, include_inactive: bool = False) -> UserListView:
    query = select(User).order_by(col(User.handle))
    if role is not None:
        query = query.where(User.role == check_role(role))
    if not include_inactive:
        query = query.where(col(User.active).is_(True))
    return UserListView(users=[user_view(tx, u) for u in tx.orm.exec(query)])


def show_user(tx: Tx, ref: str) -> UserView:
    return user_view(tx, find_user(tx, ref), with_balance=True)


def deactivate_user(tx: Tx, ref: str) -> UserView:
    user = find_user(tx, ref)
    if not user.active:
        raise RuleError(f"user {user.handle!r} is already inactive")
    user.active = False
    tx.orm.add(user)
    tx.audit(f"user {user.handle}", users=[must_id(user)], active=False)
    return user_view(tx, user, with_balance=True)


def set_user(
    tx: Tx,
    ref: str,
    name: str | None = None,
    active: bool | None = None,
    email: str | None = None,
    notify: bool | None = None,
) -> UserView:
    """Correct a user's name, email or wish to hear, or (de)activate them; what changed goes
    to history. ``email=""`` removes the address."""
    if name is None and active is None and email is None and notify is None:
        raise InputError(
            "nothing to change: give --name, --email, --notify/--no-notify, --active or --inactive"
        )
    address = _email(email)
    user = find_user(tx, ref)
    changes: dict[str, object] = {}
    _change(changes, user, "name", None if name is None else check_name(name))
    _change(changes, user, "active", active)
    _change(changes, user, "notify", notify)
    if email is not None and address != user.email:
        changes["email"] = {"from": user.email, "to": address}
        user.email = address
    if not changes:
        raise RuleError(f"user {user.handle!r} already has those values: nothing changed")
    tx.orm.add(user)
    tx.audit(f"user {user.handle}", users=[must_id(user)], changes=changes)
    return user_view(tx, user, with_balance=True)


def set_category(
    tx: Tx,
    ref: str,
    price_cents: int | None = None,
    rename: str | None = None,
    active: bool | None = None,
) -> CategoryView:
    """Correct a category: its hourly price (for lessons held from now on; lessons already held
    or booked keep theirs), its name, or whether it can be booked."""
    if price_cents is None and rename is None and active is None:
        raise InputError("nothing to change: give --price, --rename, --active or --inactive")
    category = find_category(tx, ref)
    changes: dict[str, object] = {}
    new_name = None if rename is None else _category_name(rename)
    if new_name is not None and new_name != category.name:
        taken = tx.orm.exec(select(Category).where(Category.name == new_name)).first()
        if taken is not None:
            raise RuleError(f"category {new_name!r} already exists (id {taken.id})")
    _change(changes, category, "name", new_name)
    _change(changes, category, "price_cents", price_cents)
    _change(changes, category, "active", active)
    if not changes:
        raise RuleError(f"category {category.name!r} already has those values: nothing changed")
    tx.orm.add(category)
    tx.audit(f"category {category.name}", category=category.id, changes=changes)
    return category_view(tx, category)


def _change(changes: dict[str, object], row: User | Category, name: str, new: object) -> None:
    """Set ``row.<name>`` to ``new`` (``None``: not asked for) and note it in ``changes``
    (``{"from": old, "to": new}``, as history shows it) when it differs."""
    old = getattr(row, name)
    if new is not None and new != old:
        changes[name] = {"from": old, "to": new}
        setattr(row, name, new)


def _category_name(name: str) -> str:
    name = check_name(name, "category name", 100)
    if is_digits(name):
        raise InputError(f"bad category name {name!r}: it must not be all digits")
    return name


def category_view(tx: Tx, category: Category) -> CategoryView:
    return CategoryView(
        id=must_id(category),
        name=category.name,
        price_cents=category.price_cents,
        currency=tx.settings.currency,
        active=category.active,
    )


def find_category(tx: Tx, ref: str | int) -> Category:
    text = str(ref).strip()
    category = None
    number = as_id(text)
    if number is not None:
        category = tx.orm.get(Category, number)
    if category is None:
        category = tx.orm.exec(CATEGORY_BY_NAME, params={"name": text}).first()
    if category is None:
        raise _no_category(text)
    return category


def add_category(tx: Tx, name: str, price_cents: int) -> CategoryView:
    name = _category_name(name)
    existing = tx.orm.exec(select(Category).where(Category.name == name)).first()
    if existing is not None:
        raise RuleError(f"category {name!r} already exists (id {existing.id})")
    category = Category(name=name, price_cents=price_cents, active=True)
    tx.orm.add(category)
    tx.orm.flush()
    tx.audit(f"category {name}", name=name, price_cents=price_cents)
    return category_view(tx, category)


def list_categories(tx: Tx, include_inactive: bool = False) -> CategoryListView:
    query = select(Category).order_by(col(Category.name))
    if not include_inactive:
        query = query.where(col(Category.active).is_(True))
    return CategoryListView(categories=[category_view(tx, c) for c in tx.orm.exec(query)])

"""Ids on the read side: a row's id is ``int | None`` until the database assigns it; a read
model's id is ``int``. ``must`` is the one crossing between them."""

from __future__ import annotations


def must(id_: int | None) -> int:
    """The id of a row the database has given one (read, or added and flushed).

    ``None`` here is a bug (a view built from a row never flushed), so it fails loudly instead
    of reading as a row 0 that does not exist."""
    if id_ is None:
        raise ValueError("a row without an id: flush it before building its view")
    return id_

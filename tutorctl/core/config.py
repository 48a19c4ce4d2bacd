"""Where the database is, and how to show its URL without the password."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, unquote_plus

from tutorctl.core.errors import ConfigError

ENV_DB = "TUTORCTL_DB"
ENV_NOW = "TUTORCTL_NOW"
ENV_ACTOR = "TUTORCTL_ACTOR"
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds one attempt waits for a lock (SPEC §2)
# how a PostgreSQL URL may begin: SQLAlchemy's psycopg driver name, and libpq's two schemes
POSTGRES_SCHEMES = ("postgresql+psycopg://", "postgresql://", "postgres://")


def psycopg_url(url: str) -> str:
    """A PostgreSQL URL as SQLAlchemy reads it with the psycopg driver (``postgresql+psycopg``:
    a bare ``postgresql://`` would pick psycopg2); any other URL as it is."""
    if url.startswith(POSTGRES_SCHEMES):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq (``psycopg.connect``) reads it, ``postgresql://``: for
    completion, which reads through the driver alone; any other URL as it is."""
    if url.startswith(POSTGRES_SCHEMES):
        return "postgresql://" + url.split("://", 1)[1]
    return url


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/tutorctl/tutorctl.db``, else ``~/.local/share/tutorctl/tutorctl.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tutorctl" / "tutorctl.db"


def resolve_db_url(option: str | None) -> str:
    """``--db`` wins, then ``TUTORCTL_DB``, then the SQLite default. A bare path means SQLite.

    An unencoded ``@`` in the password (``postgresql://u:p@ss@host/db``) is encoded, so the
    driver reads the password and the host the user meant (and never takes the password's tail
    for a host name it then prints). A URL that cannot be parsed is a configuration error
    (exit 4) whose message shows the URL masked.
    """
    value = option or os.environ.get(ENV_DB) or ""
    if not value:
        return f"sqlite:///{default_db_path()}"
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    value = _encode_userinfo(psycopg_url(value))
    try:
        from sqlalchemy.engine import make_url

        make_url(value)
    except Exception:  # noqa: BLE001 - ArgumentError, a bad port or host: all mean "bad URL"
        raise ConfigError(
            f"bad database URL {mask_url(value)!r}: use sqlite:///PATH or "
            "postgresql://USER@HOST[:PORT]/DB (percent-encode special characters)"
        ) from None
    return value


# what may follow the '@' that ends the user info: a host (name, IPv4, [IPv6], host lists),
# an optional port, then the path, the query or the end
_HOST = re.compile(r"[\w.\-\[\]:,%]*(?:[/?#]|\Z)")
# query parameters that carry a secret (libpq's password= and sslpassword=)
_SECRET_PARAMS = ("password", "sslpassword")


def _split_userinfo(url: str) -> tuple[str, str | None, str]:
    """``(scheme, userinfo or None, rest after the '@')``, read the way a person means it: the
    user info ends at the first '@' followed by something that reads as a host, so an
    unencoded '@', '/' or '?' inside the password stays in the password."""
    scheme, sep, rest = url.partition("://")
    if not sep or rest.startswith("/"):
        return url, None, ""
    for at in (i for i, char in enumerate(rest) if char == "@"):
        userinfo = rest[:at]
        if "/" in userinfo.partition(":")[0]:
            continue  # an '@' in a path, not after a user name
        if _HOST.match(rest, at + 1):
            return scheme, userinfo, rest[at + 1 :]
    return url, None, ""


def _encode_userinfo(url: str) -> str:
    scheme, userinfo, rest = _split_userinfo(url)
    if userinfo is None or "@" not in userinfo:
        return url
    return f"{scheme}://{userinfo.replace('@', '%40')}@{rest}"


def _query_secrets(url: str) -> list[tuple[str, str]]:
    """(raw key=value item, raw value) of every secret query parameter."""
    query = url.partition("?")[2].partition("#")[0]
    found = []
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        if eq and unquote_plus(key).strip().lower() in _SECRET_PARAMS:
            found.append((item, value))
    return found


def mask_url(url: str) -> str:
    """The URL with every password replaced by ``***``: the user info's, however it is
    written (an unencoded '@' included), and any ``password=`` query parameter."""
    scheme, userinfo, rest = _split_userinfo(url)
    masked = url
    if userinfo is not None and ":" in userinfo:
        masked = f"{scheme}://{userinfo.partition(':')[0]}:***@{rest}"
    for item, _value in _query_secrets(url):
        masked = masked.replace(item, item.partition("=")[0] + "=***")
    return masked


def _secrets(url: str) -> list[str]:
    _scheme, userinfo, _rest = _split_userinfo(url)
    raw = [value for _item, value in _query_secrets(url)]
    if userinfo is not None and ":" in userinfo:
        raw.append(userinfo.partition(":")[2])
    found: set[str] = set()
    for secret in raw:
        found.update(form for form in (secret, unquote(secret), unquote_plus(secret)) if form)
        if "@" in secret:  # unencoded: a parser may have cut the password there
            found.update(piece for piece in secret.split("@") if piece)
    return sorted(found, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """Remove every password of ``url`` from any text (error messages from drivers)."""
    for secret in _secrets(url):
        text = text.replace(secret, "***")
    return text


def default_actor() -> str:
    for name in ("TUTORCTL_ACTOR", "USER", "LOGNAME", "USERNAME"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        return "unknown"

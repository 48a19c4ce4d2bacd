"""Where the database is, and how to show its URL without the password."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ENV_DB = "TUTORCTL_DB"
ENV_NOW = "TUTORCTL_NOW"
ENV_ACTOR = "TUTORCTL_ACTOR"


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/tutorctl/tutorctl.db``, else ``~/.local/share/tutorctl/tutorctl.db``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tutorctl" / "tutorctl.db"


def resolve_db_url(option: str | None) -> str:
    """``--db`` wins, then ``TUTORCTL_DB``, then the SQLite default. A bare path means SQLite."""
    value = option or os.environ.get(ENV_DB) or ""
    if not value:
        return f"sqlite:///{default_db_path()}"
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable database URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str, url: str) -> str:
    """Remove the password of ``url`` from any text (error messages from drivers)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        text = text.replace(password, "***")
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

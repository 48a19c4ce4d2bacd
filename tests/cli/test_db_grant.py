"""`db grant` (SPEC §2): refused for the owner of tutorctl's tables or a superuser (it would
revoke the owner's own rights), and it takes back a CREATE on the schema given before, saying
when PUBLIC may create there (the default on ``public`` before PostgreSQL 15)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.cli.test_pooled import _connect, _pg_only
from tests.conftest import Cli

REFUSED = "owns tutorctl's tables: it needs no grant; `db grant` is for a desk role"
PRIVILEGES = (
    "SELECT has_table_privilege(:r, 'tutorctl_schema', 'INSERT'), "
    "has_table_privilege(:r, 'accounts', 'DELETE'), has_schema_privilege(:r, 'public', 'CREATE')"
)


@contextmanager
def _role(cli: Cli) -> Iterator[str]:
    role = f"own_{uuid.uuid4().hex[:10]}"
    with _connect(cli.url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield role
    finally:
        with _connect(cli.url) as admin:
            admin.autocommit = True
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def _privileges(cli: Cli, role: str) -> Any:
    with _connect(cli.url) as conn:
        return conn.execute(PRIVILEGES.replace(":r", "%(r)s"), {"r": role}).fetchone()


def test_the_owner_or_a_superuser_is_refused_and_nothing_changes(cli: Cli) -> None:
    _pg_only(cli.url)
    cli.ok("db", "info")  # the fixture's database is initialised by postgres, a superuser
    for args in (("postgres",), ("postgres", "--print")):
        result = cli.fails(2, "db", "grant", *args)
        assert result.err == f"error: postgres {REFUSED}\n", result.err
        assert result.out == ""
    with _role(cli) as owner:
        with _connect(cli.url) as admin:  # a plain (not superuser) role that owns the tables
            for table in ("tutorctl_schema", "accounts"):
                admin.execute(f'ALTER TABLE {table} OWNER TO "{owner}"')
            admin.commit()
        before = _privileges(cli, owner)
        assert before[:2] == (True, True)
        result = cli.fails(2, "db", "grant", owner)
        assert result.err == f"error: {owner} {REFUSED}\n", result.err
        assert _privileges(cli, owner) == before  # no REVOKE ran
        with _connect(cli.url) as admin:
            for table in ("tutorctl_schema", "accounts"):
                admin.execute(f"ALTER TABLE {table} OWNER TO postgres")
            admin.commit()


def test_a_create_on_the_schema_given_before_is_revoked(cli: Cli) -> None:
    _pg_only(cli.url)
    cli.ok("db", "info")
    with _role(cli) as desk:
        with _connect(cli.url) as admin:
            admin.execute(f'GRANT CREATE ON SCHEMA public TO "{desk}"')
            admin.commit()
        assert _privileges(cli, desk)[2] is True
        printed = cli.ok("db", "grant", desk, "--print").out
        assert f'REVOKE CREATE ON SCHEMA "public" FROM "{desk}";\n' in printed
        result = cli.ok("db", "grant", desk)
        assert "warning" not in result.err  # PostgreSQL 15+: PUBLIC has no CREATE on public
        assert _privileges(cli, desk) == (False, True, False)


def test_public_holding_create_is_a_warning(cli: Cli) -> None:
    _pg_only(cli.url)
    with _connect(cli.url) as admin:  # as in a database made before PostgreSQL 15
        admin.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
        admin.commit()
    with _role(cli) as desk:
        for args in ((desk, "--print"), (desk,)):
            result = cli.ok("db", "grant", *args)
            assert result.err == (
                "warning: PUBLIC may create in schema public, so the desk role can too: run "
                '`REVOKE CREATE ON SCHEMA "public" FROM PUBLIC` as the owner\n'
            ), result.err
        with _connect(cli.url) as admin:
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            admin.commit()
        assert cli.ok("db", "grant", desk).err == ""
        assert _privileges(cli, desk) == (False, True, False)

"""A real PgBouncer for the tests: its own instance on a free loopback port, in front of the
test server, with the stock settings a school runs (``pool_mode = transaction``, the stock
``ignore_startup_parameters``, which refuses ``options``) and a pool of 2 server connections
per database and user, so that consecutive transactions really change server connections.

PgBouncer refuses to run as root: as root it is started with ``-u postgres`` (its own switch
to an unprivileged user; ``nobody`` where there is no postgres user), its temporary folder
handed to that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BINARY = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)
POOL_SIZE = 2


def _unprivileged() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PgBouncer:
    """One PgBouncer process; ``url(database)`` reaches a database of the server through it."""

    def __init__(self, server_host: str, server_port: int, users: list[str]) -> None:
        if BINARY is None:
            raise RuntimeError("pgbouncer is not installed")
        self.folder = Path(tempfile.mkdtemp(prefix="tutorctl_pgbouncer_"))
        self.port = free_port()
        self.users = list(users)
        self.ini = self.folder / "pgbouncer.ini"
        self.log = self.folder / "pgbouncer.log"
        self.ini.write_text(
            "[databases]\n"
            f"* = host={server_host} port={server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'users.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {POOL_SIZE}\n"
            "max_client_conn = 200\n"
            f"logfile = {self.log}\n"
            f"pidfile = {self.folder / 'pgbouncer.pid'}\n"
        )
        self._write_users()
        command = [BINARY, str(self.ini)]
        if os.geteuid() == 0:
            owner = _unprivileged()
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, owner.pw_uid, owner.pw_gid)
            command += ["-u", owner.pw_name]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        self._wait_ready()
        RUNNING[self.port] = self

    def _write_users(self) -> None:
        path = self.folder / "users.txt"
        path.write_text("".join(f'"{user}" ""\n' for user in self.users))
        if os.geteuid() == 0:
            owner = _unprivileged()
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def add_user(self, user: str) -> None:
        """Let ``user`` log in (trust still needs the name in the auth file): reload."""
        self.users.append(user)
        self._write_users()
        self.process.send_signal(1)  # SIGHUP: PgBouncer re-reads its files
        # wait until a login as that user gets past the pooler (the reload is asynchronous)
        self._wait_ready(user)

    def _wait_ready(self, user: str = "postgres") -> None:
        import psycopg

        deadline = time.monotonic() + 15
        while True:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                log = self.log.read_text() if self.log.exists() else ""
                raise RuntimeError(f"pgbouncer exited {self.process.returncode}: {err} {log}")
            try:
                with psycopg.connect(self.url("postgres", user, driver=False), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)  # polling for the listener, not dodging a race

    def url(self, database: str, user: str = "postgres", *, driver: bool = True) -> str:
        scheme = "postgresql+psycopg" if driver else "postgresql"
        return f"{scheme}://{user}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        RUNNING.pop(self.port, None)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


RUNNING: dict[int, PgBouncer] = {}  # port → the instance listening there


def bouncer_of(url: str) -> PgBouncer | None:
    """The PgBouncer a test URL goes through, if any."""
    for port, bouncer in RUNNING.items():
        if f":{port}/" in url:
            return bouncer
    return None

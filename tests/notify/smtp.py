"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1, a free port): it records what it
accepted, as the bytes that arrived, and can answer 451, refuse a recipient with 550, or
require STARTTLS and AUTH with a certificate made by trustme."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    """The handler: what arrived, and how to answer."""

    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → answer to its RCPT
    busy: int = 0  # answer DATA with 451 this many times first
    logins: list[str] = field(default_factory=list)
    # SIGKILL this client process at a step of the first message: "mail" (after its claim,
    # before anything is sent), "data" (during DATA: not kept), "accepted" (kept, the client
    # dies before it reads the 250)
    kill_at: str | None = None
    kill_pid: int | None = None
    drop: int = 0  # close the connection in the middle of DATA this many times
    slow: float = 0.0  # keep the message, then wait this long before answering 250 (once)

    async def _kill(self, step: str) -> bool:
        if self.kill_at != step:
            return False
        for _ in range(500):  # the test sets the pid right after starting the process
            if self.kill_pid is not None:
                break
            await asyncio.sleep(0.01)
        assert self.kill_pid is not None
        os.kill(self.kill_pid, signal.SIGKILL)
        self.kill_at = None
        await asyncio.sleep(0.2)  # let it die before answering
        return True

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        await self._kill("mail")
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if await self._kill("data"):
            return "451 gone"
        if self.drop:
            self.drop -= 1
            server.transport.close()  # the client is left without an answer
            return "421 closing"
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 busy, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        await self._kill("accepted")
        if self.slow:
            wait, self.slow = self.slow, 0.0
            await asyncio.sleep(wait)
        return "250 OK queued"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.password == b"s3cret pass"
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)


@contextmanager
def smtp_server(inbox: Inbox, tls: Any = None) -> Iterator[str]:
    """Serve ``inbox``; yields ``host:port``. ``tls``: a trustme CA — STARTTLS and AUTH
    required (the client trusts the CA through SSL_CERT_FILE)."""
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        kwargs = {
            "tls_context": context,
            "require_starttls": True,
            "auth_required": True,
            "authenticator": inbox.authenticate,
        }
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        controller.stop()

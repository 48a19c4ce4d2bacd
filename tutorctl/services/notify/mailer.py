"""Delivery over SMTP with the standard library (SPEC §11): ``TUTORCTL_SMTP_URL`` and one
connection per ``notify send`` run.

``smtp://host:25`` (plain), ``smtp+starttls://user@host:587`` (STARTTLS, then AUTH),
``smtps://host:465`` (TLS from the start). The password is the URL's, else
``TUTORCTL_SMTP_PASSWORD``; it is masked wherever the URL is printed. A server's answer is
sorted once: accepted, temporary (connection lost, 4xx: retried later) or permanent (5xx for
that recipient: the message fails with the server's words).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from tutorctl.core.config import mask_url
from tutorctl.core.errors import ConfigError

if TYPE_CHECKING:
    from tutorctl.services.notify.composer import Prepared

ENV_URL = "TUTORCTL_SMTP_URL"
ENV_PASSWORD = "TUTORCTL_SMTP_PASSWORD"
ENV_TIMEOUT = "TUTORCTL_SMTP_TIMEOUT"
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None
    url: str  # as given: printed only through ``masked``
    timeout: float = 30.0

    @property
    def masked(self) -> str:
        shown = mask_url(self.url)
        if self.password:
            shown = shown.replace(self.password, "***")
        return shown


def smtp_config(environ: dict[str, str] | None = None) -> SmtpConfig | None:
    """The SMTP server of ``TUTORCTL_SMTP_URL``, or None when it is not set."""
    env = os.environ if environ is None else environ
    url = env.get(ENV_URL, "").strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"bad {ENV_URL} {mask_url(url)}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(
            f"bad {ENV_URL} {mask_url(url)}: use smtp://host:25, "
            "smtp+starttls://user@host:587 or smtps://host:465"
        )
    password = unquote(parts.password) if parts.password else env.get(ENV_PASSWORD) or None
    try:
        timeout = float(env.get(ENV_TIMEOUT, "") or 30.0)
    except ValueError:
        raise ConfigError(f"bad {ENV_TIMEOUT}: give seconds") from None
    return SmtpConfig(
        scheme=scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        user=unquote(parts.username) if parts.username else None,
        password=password,
        url=url,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Outcome:
    """What the server said of one message: ``sent``, ``temporary`` or ``permanent``."""

    kind: str
    answer: str = ""


class Unreachable(Exception):
    """No connection to the server: the message was not handed over (no attempt of its)."""


class WentAway(Unreachable):
    """The connection broke while the message was being handed over: it may have been kept
    (an attempt, retried later)."""


def _answer(code: int | None, text: bytes | str | None) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else (text or "")
    return f"{code} {' '.join(words.split())}".strip()[:500]


class Mailer:
    """One SMTP connection, opened on first use and reused for the whole run."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        c = self.config
        try:
            context = ssl.create_default_context()
            smtp: smtplib.SMTP
            if c.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=context)
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
                if c.scheme == "smtp+starttls":
                    smtp.starttls(context=context)
            if c.user:
                smtp.login(c.user, c.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(
                f"the SMTP server {c.masked} refused the login: {_answer(exc.smtp_code, exc.smtp_error)}"
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unreachable(f"cannot reach the SMTP server {c.masked}: {exc}") from None
        return smtp

    def send(self, message: EmailMessage | Prepared) -> Outcome:
        """Send one message; what the server said. Raises Unreachable when no connection can
        be made (the message was not handed over), WentAway when it is lost while handing the
        message over (it may have gone: it is retried)."""
        if self._smtp is None:
            self._smtp = self._open()
        try:
            if isinstance(message, EmailMessage):
                refused = self._smtp.send_message(message)
            elif message.data is not None:  # the bytes send_message would have made
                refused = self._smtp.sendmail(message.sender, message.recipients, message.data)
            else:
                assert message.message is not None
                refused = self._smtp.send_message(message.message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return Outcome("permanent" if code >= 500 else "temporary", _answer(code, text))
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            self._reset()
            kind = "permanent" if exc.smtp_code >= 500 else "temporary"
            return Outcome(kind, _answer(exc.smtp_code, exc.smtp_error))
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise WentAway(f"the SMTP server {self.config.masked} went away: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            kind = "permanent" if exc.smtp_code >= 500 else "temporary"
            return Outcome(kind, _answer(exc.smtp_code, exc.smtp_error))
        if refused:  # one recipient per message: refused means that one
            code, text = next(iter(refused.values()))
            return Outcome("permanent" if code >= 500 else "temporary", _answer(code, text))
        return Outcome("sent", "250 accepted")

    def _reset(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

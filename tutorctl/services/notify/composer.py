"""Messages as the bytes SMTP sends, made fast and byte for byte as ``messages.compose`` makes
them (issue 24's performance: composing with the ``email`` header registry and icalendar cost
more than sending).

For each shape of message (the body's transfer encoding, the calendar methods; per calendar
part the years of its lessons) a run composes ONE message through the general path with
sentinel values, flattens it, and from then on only puts each message's values in place of the
sentinels. That is exact only where the library would write a value as it is: short ASCII
names and addresses that need no quoting, a subject that is not folded, calendar lines under
icalendar's fold. Anything else (non-ASCII, quoting, folding, a value looking like an encoded
word) goes through ``compose`` itself. tests/notify/test_composer.py holds both paths to
golden files made before this module existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.contentmanager import _encode_text  # type: ignore[attr-defined]
from email.message import EmailMessage
from email.policy import SMTP
from email.policy import default as default_policy
from email.utils import format_datetime
from typing import Any

from icalendar import Event as VEvent

from tutorctl.core.addresses import one_line
from tutorctl.core.settings import SchoolSettings
from tutorctl.services.notify.messages import Row, Templates, assemble, calendars, compose, texts

_NAME = re.compile(r"[A-Za-z0-9'-]+(?: [A-Za-z0-9'-]+)*")  # a display name left unquoted
_TEXT = re.compile(r"[A-Za-z0-9.'-]+(?: [A-Za-z0-9.'-]+)*")  # iCalendar TEXT left unescaped
_ADDRESS = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_SUBJECT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
_NL = re.compile(r"\r\n|\r|\n")
HEADER_MAX = 77  # the policy folds a header line past 78 characters: stay under
ICS_MAX = 73  # icalendar folds a line from 75 octets: stay under
MAX_ITEMS = 28  # sentinel times are told apart by their seconds
_ID = 999_999_999
_WHO = ("QXNAMEQX", "qxlocalqx@qxdomain.qx")
_SENTINEL_NOW = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)


@dataclass(frozen=True)
class Prepared:
    """One message ready for SMTP: ``data`` (CRLF bytes, as ``send_message`` would flatten
    ``message``) for the fast path, or ``message`` itself for the general one."""

    sender: str
    recipients: list[str]
    data: bytes | None = None
    message: EmailMessage | None = None


def _ics_time(at: datetime) -> str:
    return f"{at.year:04}{at.month:02}{at.day:02}T{at.hour:02}{at.minute:02}{at.second:02}"


def _block(text: str) -> str:
    """A part's text as the generator writes it: its lines, each ended by CRLF."""
    return "".join(line.decode("ascii") + "\r\n" for line in text.encode("ascii").splitlines())


class Composer:
    """Composes a run's messages (one school, one set of templates), fast where exact."""

    def __init__(self, settings: SchoolSettings, templates: Templates) -> None:
        assert settings.mail_from is not None
        self.settings, self.templates = settings, templates
        self.sender = settings.mail_from
        self._skeletons: dict[tuple[str, tuple[str, ...]], str | None] = {}
        self._calendars: dict[tuple[str, tuple[int, ...]], str | None] = {}
        self._lines: dict[datetime, tuple[str, str]] = {}

    def prepare(self, row: Row, now: datetime) -> Prepared:
        data = self._fast(row, now)
        if data is not None:
            return Prepared(self.sender, [row.to_address], data=data.encode("ascii"))
        message = compose(row, self.settings, self.templates, now)
        return Prepared(self.sender, [row.to_address], message=message)

    def _now_lines(self, now: datetime) -> tuple[str, str]:
        """(the Date header line, the DTSTAMP line) of ``now``, as the libraries write them."""
        if now not in self._lines:
            if len(self._lines) > 8:  # a run with a real clock has a new ``now`` each claim
                self._lines = {k: v for k, v in self._lines.items() if k == _SENTINEL_NOW}
            message = EmailMessage()
            message["Date"] = format_datetime(now)
            date = message.as_bytes(policy=SMTP).decode("ascii").split("\r\n")[0]
            event = VEvent()
            event.add("dtstamp", now)
            stamp = next(
                line for line in event.to_ical().decode().split("\r\n")
                if line.startswith("DTSTAMP")
            )  # fmt: skip
            self._lines[now] = (date, stamp)
        return self._lines[now]

    def _fast(self, row: Row, now: datetime) -> str | None:
        name = one_line(row.to_name)
        if not (_NAME.fullmatch(name) and _ADDRESS.fullmatch(row.to_address)):
            return None
        subject, body = texts(row, self.settings, self.templates)
        subject = one_line(subject, 300)
        if not _SUBJECT.fullmatch(subject) or "=?" in subject:
            return None
        cte, payload = _encode_text(body, "utf-8", None, default_policy)
        if cte not in ("7bit", "quoted-printable", "base64") or not payload.isascii():
            return None
        groups: dict[str, list[dict[str, Any]]] = {"REQUEST": [], "CANCEL": []}
        for item in row.payload.get("lessons", []):
            groups["CANCEL" if item["action"] == "cancelled" else "REQUEST"].append(item)
        parts = []
        for method, items in groups.items():
            if items:
                ics = self._calendar(method, items, row.to_address, now)
                if ics is None:
                    return None
                parts.append(ics)
        skeleton = self._skeleton(cte, tuple(m for m, items in groups.items() if items))
        if skeleton is None:
            return None
        date = self._now_lines(now)[0]
        head, _, rest = skeleton.partition("\r\n\r\n")
        head = (
            head.replace(_WHO[0], name)
            .replace(_WHO[1], row.to_address)
            .replace("QXSUBJECTQX", subject)
            .replace(self._now_lines(_SENTINEL_NOW)[0], date)
            .replace(f"tutorctl-outbox-{_ID}", f"tutorctl-outbox-{row.id}")
        )
        if any(len(line) > HEADER_MAX for line in head.split("\r\n")):
            return None
        rest = rest.replace(f"tutorctl-outbox-{_ID}", f"tutorctl-outbox-{row.id}")
        rest = rest.replace("QXBODYQX\r\n", _NL.sub("\r\n", payload), 1)
        for index, ics in enumerate(parts):
            rest = rest.replace(f"QXICS{index}QX\r\n", ics, 1)
        return f"{head}\r\n\r\n{rest}"

    def _skeleton(self, cte: str, methods: tuple[str, ...]) -> str | None:
        """The flattened message of this shape with sentinels; None if the sentinels do not
        stand alone in it (then every message of this shape takes the general path)."""
        key = (cte, methods)
        if key not in self._skeletons:
            row = Row(_ID, "receipt", _WHO[1], _WHO[0], None, {})
            parts = [(m, f"QXICS{i}QX\n") for i, m in enumerate(methods)]
            message = assemble(
                row, self.settings, _SENTINEL_NOW, "QXSUBJECTQX", "QXBODYQX\n", parts
            )
            text = message.as_bytes(policy=SMTP).decode("ascii")
            cte_line = "Content-Transfer-Encoding: 7bit\r\n"  # the text part's is the first
            head = text.partition("\r\n\r\n")[0]
            good = (
                text.count("\r\n\r\nQXBODYQX\r\n") == 1
                and -1 < text.find(cte_line) < text.find("QXBODYQX")
                and all(text.count(f"QXICS{i}QX\r\n") == 1 for i in range(len(methods)))
                and not any(line[:1] in (" ", "\t") for line in head.split("\r\n"))
            )
            # the body's encoding is its part's header: put in the skeleton once
            text = text.replace(cte_line, f"Content-Transfer-Encoding: {cte}\r\n", 1)
            self._skeletons[key] = text if good else None
        return self._skeletons[key]

    def _calendar(
        self, method: str, items: list[dict[str, Any]], address: str, now: datetime
    ) -> str | None:
        """One calendar part as its CRLF lines, or None where icalendar would escape or fold."""
        if len(items) > MAX_ITEMS:
            return None
        zone = self.settings.zone
        try:
            starts = [datetime.fromisoformat(i["starts_at"]).astimezone(zone) for i in items]
            ends = [datetime.fromisoformat(i["ends_at"]).astimezone(zone) for i in items]
        except (KeyError, ValueError):
            return None
        years = tuple(datetime.fromisoformat(i["starts_at"]).year for i in items)
        template = self._calendar_template(method, years)
        if template is None:
            return None
        text = template.replace(self._now_lines(_SENTINEL_NOW)[1], self._now_lines(now)[1])
        text = text.replace("qxlocalqx@qxdomain.qx", address)
        for n, (item, start, end) in enumerate(zip(items, starts, ends, strict=True)):
            words = (item["category"], item["teacher"], item["student"])
            if not all(isinstance(w, str) and _TEXT.fullmatch(w) for w in words):
                return None
            if type(item["uid"]) is not int or type(item["sequence"]) is not int:
                return None
            text = (
                text.replace(f"QXUID{n}QX", str(item["uid"]))
                .replace(f"SEQUENCE:{900_000 + n}\r\n", f"SEQUENCE:{item['sequence']}\r\n")
                .replace(f"QXCAT{n}QX", words[0])
                .replace(f"QXTEA{n}QX", words[1])
                .replace(f"QXSTU{n}QX", words[2])
                .replace(_ics_time(self._sentinel(years[n], 2 * n + 1)), _ics_time(start))
                .replace(_ics_time(self._sentinel(years[n], 2 * n + 2)), _ics_time(end))
            )
        if any(len(line) > ICS_MAX for line in text.split("\r\n")):
            return None
        return text

    def _sentinel(self, year: int, second: int) -> datetime:
        return datetime(year, 6, 15, 3, 7, second, tzinfo=self.settings.zone)

    def _calendar_template(self, method: str, years: tuple[int, ...]) -> str | None:
        key = (method, years)
        if key not in self._calendars:
            action = "cancelled" if method == "CANCEL" else "booked"
            items = [
                {
                    "action": action,
                    "uid": f"QXUID{n}QX",
                    "sequence": 900_000 + n,
                    "category": f"QXCAT{n}QX",
                    "teacher": f"QXTEA{n}QX",
                    "student": f"QXSTU{n}QX",
                    "starts_at": self._sentinel(year, 2 * n + 1).isoformat(),
                    "ends_at": self._sentinel(year, 2 * n + 2).isoformat(),
                }
                for n, year in enumerate(years)
            ]
            row = Row(_ID, "receipt", _WHO[1], _WHO[0], None, {"lessons": items})
            ((_, text),) = calendars(row, self.settings, _SENTINEL_NOW)
            if not text.isascii():
                self._calendars[key] = None
                return None
            text = _block(text)
            unique = [f"QXUID{n}QX" for n in range(len(years))] + [
                _ics_time(self._sentinel(y, s))
                for n, y in enumerate(years)
                for s in (2 * n + 1, 2 * n + 2)
            ]
            good = all(text.count(u) == 1 for u in unique)
            self._calendars[key] = text if good else None
        return self._calendars[key]

"""The text of a message (SPEC §11): subject, plain text and calendar parts, made from an
outbox row's facts when it is sent or shown.

Default texts per kind, or Jinja2 templates from ``TUTORCTL_TEMPLATES`` (``KIND.subject.txt``
and ``KIND.txt``, rendered in a sandbox). Typed text (names, categories, reasons) is only ever
a value: it is never read as a template, and headers are built from ``Address`` objects with
line breaks taken out, so no name can add a header or a recipient.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from icalendar import Calendar, Timezone
from icalendar import Event as VEvent

from tutorctl.core.addresses import one_line
from tutorctl.core.calendar import load_zone
from tutorctl.core.calendar_uid import lesson_uid
from tutorctl.core.errors import InputError
from tutorctl.core.money import format_amount
from tutorctl.core.settings import SchoolSettings

KINDS = ("receipt", "teacher", "payment_failed", "reminder")
ENV_TEMPLATES = "TUTORCTL_TEMPLATES"


@dataclass(frozen=True)
class Row:
    """An outbox row as a message needs it."""

    id: int
    kind: str
    to_address: str
    to_name: str
    session_id: int | None
    payload: dict[str, Any]


def when(text: str, settings: SchoolSettings) -> str:
    """``Wednesday 9 December 2026, 10:00`` in the school's zone."""
    at = datetime.fromisoformat(text).astimezone(settings.zone)
    return f"{at:%A} {at.day} {at:%B %Y}, {at:%H:%M}"


def _package(use: dict[str, Any]) -> str:
    """``2 h from package 3``, and the hours of it on credit: still owed, not paid."""
    text = f"{use['minutes'] / 60:g} h from package {use['purchase_id']}"
    owed = use.get("on_credit_minutes", 0)
    if owed and owed >= use["minutes"]:
        return f"{text} (on credit: still owed)"
    return f"{text} ({owed / 60:g} h on credit: still owed)" if owed else text


def _lesson(item: dict[str, Any], settings: SchoolSettings, whom: str) -> str:
    """``maths with Alice, Wednesday 9 December 2026, 10:00-11:00`` (``whom``: the other
    person's name)."""
    end = datetime.fromisoformat(item["ends_at"]).astimezone(settings.zone)
    return f"{item['category']} with {whom}, {when(item['starts_at'], settings)}-{end:%H:%M}"


def _line(item: dict[str, Any], settings: SchoolSettings, for_teacher: bool) -> dict[str, Any]:
    c = settings.currency
    text = _lesson(item, settings, item["student"] if for_teacher else item["teacher"])
    action = item["action"]
    if action == "moved":
        text += f" (moved from {when(item['old_starts_at'], settings)})"
    if action == "cancelled" and not for_teacher:
        back = [format_amount(item.get("refund_cents", 0), c)] if item.get("refund_cents") else []
        if item.get("refund_minutes"):
            back.append(f"{item['refund_minutes'] / 60:g} package hour(s)")
        text += f", refunded {' and '.join(back)}" if back else ", no refund (late)"
    elif not for_teacher:
        text += f", {format_amount(item['price_cents'], c)}"
        text += "".join(f", {_package(use)}" for use in item.get("packages", []))
    return {**item, "text": f"{action}: {text}", "when": when(item["starts_at"], settings)}


NOT_DONE = {"reserve": "not booked", "cancel": "not cancelled", "move": "not moved"}


def _left_out(item: dict[str, Any], settings: SchoolSettings) -> dict[str, Any]:
    """A lesson a paid session left out (time overtook it), and why."""
    text = _lesson(item, settings, item["teacher"])
    action = NOT_DONE.get(item["action"], item["action"])
    return {**item, "action": action, "text": f"{action}: {text} ({item['why']})"}


def context(row: Row, settings: SchoolSettings) -> dict[str, Any]:
    """What a template may use: plain values only. ``money`` has, beside the payload's, the
    part of a payment the lessons used (``payment_used_cents``) when some went back."""
    p, c = row.payload, settings.currency
    lines = [_line(i, settings, row.kind == "teacher") for i in p.get("lessons", [])]
    cents = dict(p.get("money", {}))
    if cents.get("surplus_cents"):
        cents["payment_used_cents"] = cents["payment_cents"] - cents["surplus_cents"]
    money = {
        k: format_amount(v, c) if k.endswith("_cents") else f"{v / 60:g} h"
        for k, v in cents.items()
    }
    return {
        "kind": row.kind,
        "name": row.to_name,
        "session_id": row.session_id,
        "lessons": lines,
        "not_applied": [_left_out(i, settings) for i in p.get("not_applied", [])],
        "money": money,
        "reason": p.get("reason") or p.get("why"),
        "timezone": settings.timezone,
    }


def _default_subject(ctx: dict[str, Any]) -> str:
    lessons, kind = ctx["lessons"], ctx["kind"]
    if kind == "reminder" and lessons:
        return f"Reminder: {lessons[0]['category']} on {lessons[0]['when']}"
    if kind == "payment_failed" and ctx["money"]:
        return (
            f"Nothing was booked: your payment went to your balance (session {ctx['session_id']})"
        )
    if kind == "payment_failed":
        return f"Your payment failed: nothing was booked (session {ctx['session_id']})"
    counts: dict[str, int] = {}
    for line in lessons + ctx["not_applied"]:
        counts[line["action"]] = counts.get(line["action"], 0) + 1
    what = ", ".join(f"{n} {a}" for a, n in counts.items())
    if not what:  # a receipt left with its money only (its lessons were never told)
        return f"Your receipt (session {ctx['session_id']})"
    return f"Your lessons: {what}" if kind == "receipt" else f"Lessons changed: {what}"


def _default_text(ctx: dict[str, Any]) -> str:
    out = [f"Hello {ctx['name']},", ""]
    kind = ctx["kind"]
    if kind == "payment_failed" and ctx["money"]:
        out += [f"Your payment for session {ctx['session_id']} was taken, but it booked "
                "nothing: all of it went to your balance."]  # fmt: skip
        out += [f"({ctx['reason']})"] if ctx["reason"] else []
    elif kind == "payment_failed":
        out += [f"The payment of session {ctx['session_id']} failed: nothing was booked."]
        out += [f"({ctx['reason']})"] if ctx["reason"] else []
    elif kind == "reminder":
        out += ["A reminder of your lesson:"]
    else:
        out += [f"Session {ctx['session_id']}:" if ctx["session_id"] else "Your lessons:"]
    if ctx["reason"] and kind != "payment_failed":
        out += [f"Why: {ctx['reason']}"]
    out += [f"- {line['text']}" for line in ctx["lessons"]]
    if ctx["not_applied"]:
        out += ["", "Not done:"]
        out += [f"- {line['text']}" for line in ctx["not_applied"]]
    money = ctx["money"]
    if money:
        out += ["", "Money:"]
        labels = (
            ("package_minutes", "package hours used"), ("balance_cents", "from your balance"),
            ("payment_cents", "paid"), ("payment_used_cents", "of it, for these lessons"),
            ("surplus_cents", "of it, back to your balance"),
            ("refund_cents", "refunded to your balance"),
            ("refund_minutes", "package hours given back"),
            ("balance_after_cents", "your balance now"),
        )  # fmt: skip
        zero = ("0.00", "0 h")
        out += [
            f"- {label}: {money[key]}"
            for key, label in labels
            if key in money and (key == "balance_after_cents" or not money[key].startswith(zero))
        ]
    out += ["", f"Times are in {ctx['timezone']}."]
    return "\n".join(out) + "\n"


class Templates:
    """The school's templates (or none): compiled and tried once, before anything is sent."""

    def __init__(self, folder: str | None) -> None:
        self.folder = Path(folder) if folder else None
        self._env: Any = None
        self._names: list[str] = []
        if self.folder is None:
            return
        if not self.folder.is_dir():
            raise InputError(f"{ENV_TEMPLATES} {str(self.folder)!r} is not a directory")
        from jinja2 import FileSystemLoader, StrictUndefined, TemplateSyntaxError
        from jinja2.sandbox import SandboxedEnvironment

        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(str(self.folder)),
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
        )
        wanted = {f"{k}.txt" for k in KINDS} | {f"{k}.subject.txt" for k in KINDS}
        self._names = sorted(p.name for p in self.folder.iterdir() if p.name in wanted)
        for name in self._names:
            try:
                self._env.get_template(name)
            except TemplateSyntaxError as exc:
                raise InputError(
                    f"template {exc.filename or name} line {exc.lineno}: {exc.message}"
                ) from None

    def names(self) -> list[str]:
        return self._names if self.folder is not None else []

    def rehearse(self, settings: SchoolSettings) -> None:
        """Render every template once with a sample of each kind, so that one failing at
        render time (an unknown name, a sandbox refusal) stops the run before anything is
        sent, naming its file and line (InputError, exit 2)."""
        if self._env is None or not settings.mail_from:
            return
        at = "2026-01-05T09:00:00+00:00"
        lesson = {
            "id": 1, "uid": 1, "sequence": 0, "teacher": "T", "student": "S", "category": "C",
            "starts_at": at, "ends_at": at, "price_cents": 0, "old_starts_at": at,
            "refund_cents": 0, "refund_minutes": 0, "late": False,
        }  # fmt: skip
        lessons = [{**lesson, "action": a} for a in ("booked", "moved", "cancelled")]
        money = dict.fromkeys(
            ("package_minutes", "balance_cents", "payment_cents", "refund_cents",
             "refund_minutes", "balance_after_cents", "surplus_cents", "payment_used_cents"), 0,
        )  # fmt: skip
        left = [{**lesson, "action": a, "why": "w"} for a in ("reserve", "cancel", "move")]
        for kind in KINDS:
            payload = {"lessons": lessons, "money": money, "reason": "r", "why": "w",
                       "not_applied": left}  # fmt: skip
            ctx = context(Row(0, kind, "a@b.example", "N", 1, payload), settings)
            self.render(f"{kind}.subject.txt", ctx)
            self.render(f"{kind}.txt", ctx)

    def render(self, name: str, ctx: dict[str, Any]) -> str | None:
        """The template ``name`` rendered, or None when the school has none."""
        if self._env is None or name not in self.names():
            return None
        template = self._env.get_template(name)
        try:
            return str(template.render(**ctx))
        except Exception as exc:  # noqa: BLE001 - any error of a school's template is input
            line = next(
                (f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__))
                 if f.filename == template.filename),
                None,
            )  # fmt: skip
            raise InputError(f"template {template.filename} line {line}: {exc}") from None


def texts(row: Row, settings: SchoolSettings, templates: Templates) -> tuple[str, str]:
    """(subject, body) of a message: the school's templates, else the default texts."""
    ctx = context(row, settings)
    subject = templates.render(f"{row.kind}.subject.txt", ctx) or _default_subject(ctx)
    body = templates.render(f"{row.kind}.txt", ctx) or _default_text(ctx)
    return subject, body


def compose(
    row: Row, settings: SchoolSettings, templates: Templates, now: datetime
) -> EmailMessage:
    """The whole message: headers, text, and its calendar parts."""
    subject, body = texts(row, settings, templates)
    return assemble(row, settings, now, subject, body, calendars(row, settings, now))


def assemble(
    row: Row,
    settings: SchoolSettings,
    now: datetime,
    subject: str,
    body: str,
    parts: list[tuple[str, str]],
) -> EmailMessage:
    """The message of these texts and calendar parts (``prepared`` builds its skeletons so)."""
    assert settings.mail_from is not None
    domain = settings.mail_from.rpartition("@")[2]
    message = EmailMessage()
    message["From"] = Address(addr_spec=settings.mail_from)
    local, _, to_domain = row.to_address.rpartition("@")
    message["To"] = Address(display_name=one_line(row.to_name), username=local, domain=to_domain)
    message["Subject"] = one_line(subject, 300)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<tutorctl-outbox-{row.id}@{domain}>"
    message.set_content(body)
    for method, calendar in parts:
        message.add_attachment(
            calendar,
            subtype="calendar",
            cte="7bit" if calendar.isascii() else "quoted-printable",  # 7-bit for any server
            params={"method": method},
            filename=f"lessons-{method.lower()}.ics",
        )
    if message.is_multipart():  # the same message every time it is composed
        message.set_boundary(f"tutorctl-outbox-{row.id}")
    return message


@lru_cache(maxsize=32)
def _vtimezone(timezone: str, first: int, last: int) -> str:
    """The school zone's VTIMEZONE from the year before ``first`` to the year after ``last``,
    as iCalendar text (made once a run: it is the slow part of a calendar)."""
    component = Timezone.from_tzinfo(
        load_zone(timezone), tzid=timezone, first_date=date(first - 1, 1, 1),
        last_date=date(last + 2, 1, 1),
    )  # fmt: skip
    return str(component.to_ical().decode())


def calendars(row: Row, settings: SchoolSettings, now: datetime) -> list[tuple[str, str]]:
    """(METHOD, ICS text) parts: REQUEST for booked and moved lessons, CANCEL for cancelled."""
    assert settings.mail_from is not None
    groups: dict[str, list[dict[str, Any]]] = {"REQUEST": [], "CANCEL": []}
    for item in row.payload.get("lessons", []):
        groups["CANCEL" if item["action"] == "cancelled" else "REQUEST"].append(item)
    parts = []
    for method, items in groups.items():
        if not items:
            continue
        cal = Calendar()
        cal.add("prodid", "-//tutorctl//lessons//EN")
        cal.add("version", "2.0")
        cal.add("method", method)
        for item in items:
            event = VEvent()
            event.add("uid", lesson_uid(item["uid"], settings.mail_from))
            event.add("sequence", item["sequence"])
            event.add("dtstamp", now)
            event.add(
                "dtstart", datetime.fromisoformat(item["starts_at"]).astimezone(settings.zone)
            )
            event.add("dtend", datetime.fromisoformat(item["ends_at"]).astimezone(settings.zone))
            event.add(
                "summary", one_line(f"{item['category']}: {item['teacher']} / {item['student']}")
            )
            event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
            event.add("organizer", f"mailto:{settings.mail_from}")
            event.add("attendee", f"mailto:{row.to_address}")
            cal.add_component(event)
        # the zone's rules around these lessons (the years either side), not since 1970:
        # serialised once a run and put before the events
        years = [datetime.fromisoformat(i["starts_at"]).year for i in items]
        zone = _vtimezone(settings.timezone, min(years), max(years))
        head, event, rest = cal.to_ical().decode().partition("BEGIN:VEVENT")
        parts.append((method, f"{head}{zone}{event}{rest}"))
    return parts


def row_of(values: Any) -> Row:
    """A Row from an outbox row (ORM or Core)."""
    return Row(
        id=values.id,
        kind=values.kind,
        to_address=values.to_address,
        to_name=values.to_name,
        session_id=values.session_id,
        payload=json.loads(values.payload),
    )

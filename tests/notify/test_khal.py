"""A real calendar client (khal) reads the calendar parts of a booking, a move and a cancel of
one lesson, as they arrived at a real SMTP server, in order (SPEC §11: one UID per lesson kept
across moves, SEQUENCE growing): one event at the new time after the move, no live one after
the cancel (khal keeps the event as CANCELLED: see the test). Skipped, with the reason, where
khal is not installed (it is in the `test` extra)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.notify.conftest import book, mail_school
from tests.notify.smtp import Inbox

KHAL = shutil.which("khal", path=str(Path(sys.executable).parent)) or shutil.which("khal")
pytestmark = pytest.mark.skipif(
    KHAL is None, reason="khal (a calendar client, in the `test` extra) is not installed"
)


class Khal:
    """khal with its own config, vdir and cache in a temp dir."""

    def __init__(self, root: Path) -> None:
        self.vdir = root / "lessons"
        self.vdir.mkdir()
        self.config = root / "khal.conf"
        self.config.write_text(
            "[calendars]\n[[lessons]]\n"
            f"path = {self.vdir}\ntype = calendar\n"
            f"[sqlite]\npath = {root / 'khal.db'}\n"
            "[locale]\nlocal_timezone = Europe/Paris\ndefault_timezone = Europe/Paris\n"
            "timeformat = %H:%M\ndateformat = %Y-%m-%d\nlongdateformat = %Y-%m-%d\n"
            "datetimeformat = %Y-%m-%d %H:%M\nlongdatetimeformat = %Y-%m-%d %H:%M\n"
            "[default]\ndefault_calendar = lessons\n"
        )
        self.root = root

    def run(self, *args: str) -> str:
        env = {**os.environ, "XDG_CONFIG_HOME": str(self.root), "XDG_DATA_HOME": str(self.root)}
        done = subprocess.run(
            [str(KHAL), "-c", str(self.config), *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def take(self, message: EmailMessage, name: str) -> None:
        """Import every calendar part of ``message``, as a mail client hands it over."""
        for n, part in enumerate(message.walk()):
            if part.get_content_type() == "text/calendar":
                ics = self.root / f"{name}-{n}.ics"
                ics.write_bytes(part.get_payload(decode=True))  # type: ignore[arg-type]
                self.run("import", "--batch", "-a", "lessons", str(ics))

    def events(self) -> list[str]:
        """khal's own listing of the weeks around the lesson, one line an event."""
        out = self.run("list", "--format", "{start} {end} {title} {status}",
                       "--day-format", "", "2026-11-30", "2026-12-14")  # fmt: skip
        return [line.strip() for line in out.splitlines() if line.strip()]


def test_khal_keeps_one_event_at_the_new_time_then_none(
    cli: Cli, inbox: Inbox, tmp_path: Path
) -> None:
    khal = Khal(tmp_path)
    mail_school(cli)
    _session, lesson = book(cli)
    cli.ok("notify", "send")
    moved = cli.json("move", str(lesson), "--week", "next", "--day", "thu", "--time", "14:00-15:00")
    cli.ok("session", "confirm", str(moved["session_id"]))
    cli.ok("notify", "send")
    bobs = [m for m in inbox.received if m["To"].addresses[0].username == "bob"]
    assert len(bobs) == 2  # the booking's receipt, the move's
    for n, message in enumerate(bobs):
        khal.take(message, f"m{n}")
    assert khal.events() == [
        "2026-12-03 14:00 2026-12-03 15:00 maths: Alice Martin / Bob Li CONFIRMED"
    ]
    assert len(list(khal.vdir.glob("*.ics"))) == 1
    cancelled = cli.json("cancel", str(moved["reservation_id"]))
    cli.ok("session", "confirm", str(cancelled["session_id"]))
    cli.ok("notify", "send")
    bobs = [m for m in inbox.received if m["To"].addresses[0].username == "bob"]
    assert len(bobs) == 3
    khal.take(bobs[2], "m2")
    # khal's import is not an iTIP agent: METHOD:CANCEL does not delete; the cancel replaces
    # the event in place (same UID, higher SEQUENCE) as STATUS:CANCELLED, so no live event
    # is left, and khal shows the one it has as cancelled
    assert khal.events() == [
        "2026-12-03 14:00 2026-12-03 15:00 maths: Alice Martin / Bob Li CANCELLED"
    ]
    assert [e for e in khal.events() if not e.endswith(" CANCELLED")] == []
    assert len(list(khal.vdir.glob("*.ics"))) == 1

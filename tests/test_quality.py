"""No SQL is built by string formatting in tutorctl/. (ruff, mypy and the README's real outputs
are CI steps of their own, `.ci/run`, outside the suite: they cost the inner loop ~15 s.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


SQL_FORMAT = re.compile(
    r"""(f["'](SELECT|INSERT|UPDATE|DELETE)\b|["'](SELECT|INSERT|UPDATE|DELETE)\b[^"']*["']\s*(%|\.format\())""",
    re.IGNORECASE,
)


def test_no_sql_is_built_by_string_formatting() -> None:
    offenders = []
    for path in (ROOT / "tutorctl").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if SQL_FORMAT.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []

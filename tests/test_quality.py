"""Static checks run as part of the suite: ruff (incl. no SQL built by string formatting) and mypy."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> list[str]:
    if shutil.which(name) is None and not (Path(sys.executable).parent / name).exists():
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [sys.executable, "-m", name]


def test_ruff_is_clean() -> None:
    proc = subprocess.run(
        [*_tool("ruff"), "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_is_clean() -> None:
    proc = subprocess.run([*_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


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

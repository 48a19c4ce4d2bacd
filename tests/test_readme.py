"""The README's "real output" blocks are what the commands they show really print (issue 18):
`scripts/readme_outputs.py --check` reruns every one; a change that alters an output fails
here until the README is regenerated (`--write`) and reviewed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_outputs_are_real() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_outputs.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "match real output" in proc.stdout

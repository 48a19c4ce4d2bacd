"""--json output: one document per command, from the same read models as the tables."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(view: Any) -> str:
    return json.dumps(_plain(view), ensure_ascii=False, indent=2)

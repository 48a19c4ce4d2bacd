"""Reading an import file: its format, then (line, row) pairs streamed from CSV or JSON Lines.

A row is a dict of column → text (stripped). A row that cannot be read at all carries
``__error__`` (and maybe ``__column__``) instead: the driver reports it with its line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from tutorctl.core.errors import InputError

Row = tuple[int, dict[str, str]]


def detect_format(path: str, given: str | None) -> str:
    if given:
        if given not in ("csv", "jsonl"):
            raise InputError(f"bad --format {given!r}: use csv or jsonl")
        return given
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise InputError(
        f"cannot tell the format of {path!r}: name it .csv or .jsonl, or give --format"
    )


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    """Stream (line number, row) from a CSV file (header line 1) or a JSON Lines file.

    A UTF-8 byte order mark (what spreadsheets write as "CSV UTF-8") is skipped. In JSON, money
    (``price``, ``amount``, ``rate``) is a string such as ``"45.50"`` or an integer, never a float.
    """
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            if fmt == "csv":
                reader = csv.reader(handle)
                header = [name.strip() for name in next(reader, [])]
                width = len(header)
                for values in reader:
                    if not values:
                        continue  # a blank line, as DictReader skips them
                    line = reader.line_num
                    if len(values) > width:
                        yield line, {"__error__": "more values than columns"}
                        continue
                    row = dict(zip(header, map(str.strip, values), strict=False))
                    for name in header[len(values) :]:
                        row[name] = ""  # a short line: the missing values are empty
                    yield line, row
            else:
                for line, text in enumerate(handle, 1):
                    if not text.strip():
                        continue
                    try:
                        value = json.loads(text)
                    except json.JSONDecodeError as exc:
                        yield line, {"__error__": f"not JSON ({exc.msg})"}
                        continue
                    except (ValueError, RecursionError):  # a 5000-digit number, deep nesting
                        yield line, {"__error__": "not JSON this tool reads"}
                        continue
                    if not isinstance(value, dict):
                        yield line, {"__error__": "not a JSON object"}
                        continue
                    floats = [k for k in MONEY_COLUMNS if isinstance(value.get(k), float)]
                    if floats:
                        yield line, _json_float(floats[0], value[floats[0]])
                        continue
                    yield (
                        line,
                        {str(k): _text(v) for k, v in value.items()},
                    )
        except UnicodeDecodeError:
            raise InputError(
                f'{path.name} is not UTF-8 text: save it as UTF-8 (spreadsheets: "CSV UTF-8")'
            ) from None
        except csv.Error as exc:  # a field over csv.field_size_limit(), a broken quote
            raise InputError(f"{path.name}: line {reader.line_num}: bad CSV ({exc})") from None


MONEY_COLUMNS = ("price", "amount", "rate", "rate_cents")


def _text(value: object) -> str:
    """A JSON value as the text a column holds: a list or an object (a reservation's
    ``funding``) as JSON, parsed again by the column's reader."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _json_float(column: str, value: float) -> dict[str, str]:
    return {
        "__error__": f"{value!r} is a JSON float: write money as a string such as "
        '"45.50" (or a whole number)',
        "__column__": column,
    }

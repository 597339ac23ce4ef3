"""TOML for baseline and spec files: read with ``tomllib`` (errors name file and line), write
with a small writer for the subset irbench uses (tables, strings, numbers, booleans, arrays).

Floats are written with ``repr``, which round-trips exactly through ``tomllib``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from irbench.errors import InputFormatError, MissingFileError

__all__ = ["dumps", "load"]

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def load(path: str | os.PathLike[str], what: str = "TOML file") -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes an InputFormatError with the line number."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise MissingFileError(f"{what} {str(p)!r} does not exist") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFormatError(f"not UTF-8 ({exc.reason})", path=str(p)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", None) or str(exc)
        if line is None:  # Python < 3.14: "... (at line 3, column 5)"
            m = re.search(r"\(at line (\d+), column \d+\)", str(exc))
            if m:
                line = int(m.group(1))
                msg = str(exc)[: m.start()].strip()
        raise InputFormatError(
            f"malformed {what}: {msg}", path=str(p), line=line, hint="see https://toml.io"
        ) from None


def _key(k: str) -> str:
    return k if _BARE_KEY.match(k) else _string(k)


def _string(s: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; DEL must be escaped in TOML.
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _write_table(out: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path and (scalars or not subtables):
        out.append("")
        out.append("[" + ".".join(_key(k) for k in path) + "]")
    for k, v in scalars:
        out.append(f"{_key(k)} = {_value(v)}")
    for k, v in subtables:
        _write_table(out, [*path, k], v)


def dumps(data: Mapping[str, Any], header: str = "") -> str:
    """TOML text of nested dicts (``header`` lines are written first, as comments)."""
    out = [f"# {line}".rstrip() for line in header.splitlines()]
    _write_table(out, [], data)
    return "\n".join(out).lstrip("\n") + "\n"

"""Ranker names → classes, built-in and third-party (entry-point group ``irbench.rankers``).

A third-party package registers a ranker in its ``pyproject.toml``::

    [project.entry-points."irbench.rankers"]
    splade = "my_package.splade:Splade"

The class follows :class:`irbench.rankers.base.Ranker` and is a dataclass whose fields are its
parameters. Entry points are scanned only when a name is not built in, or when listing.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from importlib import import_module
from typing import Any, Literal, get_args, get_origin, get_type_hints

from irbench.errors import RankerError

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "get_ranker", "list_rankers", "ranker_class"]

ENTRY_POINT_GROUP = "irbench.rankers"

#: Built-in rankers: name → "module:Class" (imported on first use).
BUILTIN: dict[str, str] = {
    "bm25": "irbench.rankers.bm25:BM25",
    "dense": "irbench.rankers.dense:Dense",
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def list_rankers() -> dict[str, str]:
    """Every ranker name with its one-line description (built-in first, then plugins)."""
    names = dict.fromkeys(BUILTIN) | dict.fromkeys(_entry_points())
    out = {}
    for name in names:
        try:
            doc = (ranker_class(name).__doc__ or "").strip().splitlines()
            out[name] = doc[0] if doc else ""
        except RankerError as err:
            out[name] = f"(unavailable: {err})"
    return out


def ranker_class(name: str) -> type:
    """The class registered under *name*; unknown names get close matches in the error."""
    target = BUILTIN.get(name)
    if target is not None:
        module, _, attr = target.partition(":")
        try:
            return getattr(import_module(module), attr)
        except ImportError as err:
            raise RankerError(
                f"ranker {name!r} needs a package that is not installed: {err.name or err}"
            ) from err
    plugins = _entry_points()
    if name in plugins:
        try:
            return plugins[name].load()
        except Exception as err:
            raise RankerError(f"ranker plugin {name!r} failed to load: {err}") from err
    known = sorted(set(BUILTIN) | set(plugins))
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"known rankers: {', '.join(known)}"
    raise RankerError(f"unknown ranker {name!r} ({hint})")


def get_ranker(name: str, **params: Any) -> Any:
    """Build ranker *name* with *params*; strings are coerced to each field's declared type.

    >>> get_ranker("bm25", k1="0.9", b="0.4").b
    0.4
    """
    cls = ranker_class(name)
    if not dataclasses.is_dataclass(cls):
        return cls(**params)
    known = {f.name: f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
    hints = get_type_hints(cls)
    values = {}
    for key, raw in params.items():
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=3)
            hint = f"did you mean {', '.join(close)}?" if close else ""
            raise RankerError(
                f"{name} has no parameter {key!r}"
                + (f" ({hint})" if hint else "")
                + f"; its parameters: {describe_params(cls)}"
            )
        values[key] = coerce(raw, hints.get(key, str), f"{name} parameter {key}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise RankerError(f"{name}: {err}") from err


def describe_params(cls: type) -> str:
    """``name: type = default`` for every parameter of a dataclass ranker."""
    if not dataclasses.is_dataclass(cls):
        return "(not a dataclass)"
    hints = get_type_hints(cls)
    parts = []
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        default = f.default if f.default is not dataclasses.MISSING else "required"
        parts.append(f"{f.name}: {_type_name(hints.get(f.name, str))} = {default!r}")
    return ", ".join(parts)


def _type_name(tp: Any) -> str:
    if get_origin(tp) is Literal:
        return "|".join(str(a) for a in get_args(tp))
    return getattr(tp, "__name__", str(tp))


def coerce(raw: Any, tp: Any, what: str) -> Any:
    """Coerce a command-line string to *tp* (bool, int, float, str, Literal, Optional)."""
    if not isinstance(raw, str):
        return raw
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if raw.lower() in ("none", "null", ""):
            return None
        return coerce(raw, args[0] if len(args) == 1 else str, what)
    if origin is Literal:
        choices = get_args(tp)
        for choice in choices:
            if str(choice) == raw:
                return choice
        raise RankerError(f"{what}: {raw!r} is not one of {', '.join(map(str, choices))}")
    try:
        if tp is bool:
            low = raw.lower()
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(raw)
        if tp is int:
            return int(raw)
        if tp is float:
            return float(raw)
    except ValueError:
        raise RankerError(f"{what}: expected {_type_name(tp)}, got {raw!r}") from None
    return raw

"""Lazy package attributes (PEP 562): a package names what it exports and the module each name
lives in; the module is imported on first access, so importing the package costs nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, where: Mapping[str, str], exported: Sequence[str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for *package*: a name in *where* is imported from its module
    on first access and kept in *namespace* (the package's globals), so later lookups are plain
    attribute reads; ``dir()`` lists *exported*."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(exported)

    return __getattr__, __dir__

"""Shared pieces of the command line: error reporting, warnings, output formats."""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from typing import Any, TypeVar

import typer

from irbench.errors import IrbenchError, IrbenchWarning

T = TypeVar("T")


class EvalFormat(str, Enum):
    table = "table"
    tsv = "tsv"
    csv = "csv"
    json = "json"
    jsonl = "jsonl"
    trec = "trec"


def err_console() -> Any:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    err_console().print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn irbench errors into a one-line message and exit code 2; show warnings on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IrbenchWarning)
        try:
            yield
        except IrbenchError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except OSError as exc:  # unreadable file, full disk, ...
            raise fail(str(exc)) from None
        finally:
            console = None
            for w in caught:
                if issubclass(w.category, IrbenchWarning):
                    console = console or err_console()
                    console.print(f"[yellow]warning:[/] {w.message}", soft_wrap=True)
                else:
                    warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def guarded(fn: Callable[[], T]) -> T:
    with user_errors():
        return fn()


def fmt_value(value: float, digits: int = 4) -> str:
    if math.isnan(value):
        return "nan"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}f}"


def write_lines(lines: Iterator[str], out: Any = None) -> None:
    stream = out or sys.stdout
    for line in lines:
        stream.write(line)
        stream.write("\n")


def dumps(obj: Any) -> str:
    return json.dumps(obj, allow_nan=True, ensure_ascii=False)

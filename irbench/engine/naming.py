"""Run names: one rule for the command line, the Python API, warnings, errors and baselines.

A run's name is, in order of precedence:

1. the name given explicitly (``NAME=PATH`` on the command line, ``names=`` or a dict of runs
   in Python);
2. for a file, its name without the format and compression suffixes (``runs/bm25.run.gz`` ->
   ``bm25``); ``-`` (stdin) is ``stdin``;
3. for an in-memory run (table, DataFrame, dict), the name stored in the table's metadata
   (:func:`irbench.io.read_run` stores the TREC run tag there), else ``run``.

When two runs of one call would get the same name, files that collide are told apart by the
fewest parent folders that distinguish them (``BM25/dl19`` and ``SPLADE/dl19``); what is still
equal (the same file twice, two in-memory runs with one tag) is numbered ``name#2``,
``name#3`` in order. Explicit names are never changed; two equal explicit names are an error.
So a run's name depends on the run alone unless another run of the same call would share it,
and never on how many runs are passed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irbench.errors import InputFormatError

__all__ = [
    "STDIN_NAME",
    "file_stem",
    "name_runs",
    "named_runs",
    "path_aliases",
    "run_label",
    "split_run_arg",
    "split_run_args",
    "split_runs",
]

#: Suffixes dropped from a file name to make a run name (repeatedly, case-insensitively).
SUFFIXES = (
    ".gz",
    ".gzip",
    ".txt",
    ".run",
    ".trec",
    ".res",
    ".tsv",
    ".parquet",
    ".jsonl",
    ".ndjson",
    ".json",
)
#: The name of a run read from stdin (``-``).
STDIN_NAME = "stdin"
#: The in-memory run name when the table stores none.
DEFAULT_NAME = "run"

# an explicit name: no blank, no path separator, no '='; not starting with '-' or '.'
_PLAIN_NAME = re.compile(r"[^\s=/\\.\-][^\s=/\\]*")


def file_stem(path: str | os.PathLike[str]) -> str:
    """``path``'s file name without the suffixes in :data:`SUFFIXES` (``bm25.run.gz`` ->
    ``bm25``, ``my.run.txt`` -> ``my``, ``bm25.k1=0.9.run`` -> ``bm25.k1=0.9``)."""
    name = Path(os.fspath(path)).name
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name, changed = name[: -len(suffix)], True
    return name or os.fspath(path)


def _is_path(run: Any) -> bool:
    return isinstance(run, str) or hasattr(run, "__fspath__")


def run_label(run: Any) -> str:
    """The name of ``run`` on its own (rules 2 and 3 of the module docstring)."""
    if _is_path(run):
        path = os.fspath(run)
        return STDIN_NAME if path == "-" else file_stem(path)
    meta = getattr(getattr(run, "schema", None), "metadata", None)
    if isinstance(meta, Mapping):
        from irbench.io.schema import RUN_NAME_KEY

        raw = meta.get(RUN_NAME_KEY)
        if raw:
            return bytes(raw).decode("utf-8", "replace")
    return DEFAULT_NAME


def path_aliases(path: str | os.PathLike[str]) -> list[str]:
    """Every name a file may get under the rule, shortest first: its stem, then with one,
    two, ... parent folders (``bm25``, ``BM25/bm25``, ``runs/BM25/bm25``, ...)."""
    src = os.fspath(path)
    if src == "-":
        return [STDIN_NAME]
    stem = file_stem(src)
    parents = Path(os.path.abspath(src)).parent.parts[1:]  # without the root
    return [stem] + [
        "/".join([*parents[len(parents) - k :], stem]) for k in range(1, len(parents) + 1)
    ]


def name_runs(runs: Sequence[Any], names: Sequence[str | None] | None = None) -> list[str]:
    """The names of ``runs`` in one call, unique, by the rule of the module docstring.

    ``names`` (same length as ``runs``) gives explicit names; ``None`` entries are named by the
    rule. Raises :class:`~irbench.errors.InputFormatError` on two equal explicit names or a
    wrong number of names.
    """
    runs = list(runs)
    given = list(names) if names is not None else [None] * len(runs)
    if len(given) != len(runs):
        raise InputFormatError(f"got {len(given)} names for {len(runs)} runs")
    explicit = [n for n in given if n is not None]
    twice = sorted({n for n in explicit if explicit.count(n) > 1})
    if twice:
        raise InputFormatError(
            f"two runs are named {twice[0]!r}", hint="give every run its own name (NAME=PATH)"
        )
    auto_paths = [i for i, n in enumerate(given) if n is None and _is_path(runs[i])]
    out = [str(n) if n is not None else run_label(r) for r, n in zip(runs, given, strict=True)]
    blocked = {out[i] for i in range(len(runs)) if i not in set(auto_paths)}
    aliases = {i: path_aliases(runs[i]) for i in auto_paths}
    where = {i: os.path.abspath(os.fspath(runs[i])) for i in auto_paths}
    stems = list(out)
    for i in auto_paths:  # the fewest parent folders that tell i from other files
        others = [j for j in auto_paths if stems[j] == stems[i] and where[j] != where[i]]
        for depth, alias in enumerate(aliases[i]):
            if alias not in blocked and all(
                depth >= len(aliases[j]) or aliases[j][depth] != alias for j in others
            ):
                out[i] = alias
                break
    taken = {n for n in given if n is not None}
    final: list[str] = []
    for i, name in enumerate(out):
        if given[i] is None:  # what is still equal is numbered, in order
            candidate, k = name, 1
            while candidate in taken:
                k += 1
                candidate = f"{name}#{k}"
            name = candidate
        taken.add(name)
        final.append(name)
    return final


def split_run_arg(arg: str) -> tuple[str | None, str]:
    """``(NAME, PATH)`` of a command-line run argument ``NAME=PATH``, or ``(None, arg)``.

    A path may contain ``=``, so the argument is split on its first ``=`` only when the left
    part is a plain name (no blank, ``/``, ``\\`` or ``=``; not starting with ``.`` or ``-``)
    and the argument itself is not an existing file. When both ``NAME=PATH`` as a file and
    ``PATH`` exist, the argument is ambiguous: an error says to write ``./NAME=PATH`` for the
    file.
    """
    left, sep, right = arg.partition("=")
    if not sep or not right or not _PLAIN_NAME.fullmatch(left):
        return None, arg
    if os.path.exists(arg):
        if right == "-" or os.path.exists(right):
            raise InputFormatError(
                f"{arg!r} is a file and also names the run {right!r} {left!r}",
                hint=f"write ./{arg} for the file, or rename it",
            )
        return None, arg
    return left, right


def split_run_args(args: Sequence[str]) -> tuple[list[str], list[str | None]]:
    """The paths and explicit names (``None``: named by the rule) of command-line runs."""
    pairs = [split_run_arg(a) for a in args]
    return [p for _, p in pairs], [n for n, _ in pairs]


def _run_like(value: Any) -> bool:
    """A value that is a run itself (not a query's ``{doc: score}`` of a dict-of-dicts run)."""
    if _is_path(value) or isinstance(value, (list, tuple)):
        return True
    if isinstance(value, Mapping):
        return bool(value) and all(isinstance(v, Mapping) for v in value.values())
    return hasattr(value, "schema") or hasattr(value, "columns")  # Arrow table, DataFrame


def is_named_runs(runs: Any) -> bool:
    """True when ``runs`` is a dict of runs by name (``{"bm25": "bm25.run", ...}``) rather
    than one dict-of-dicts run (``{query: {doc: score}}``)."""
    return (
        isinstance(runs, Mapping)
        and bool(runs)
        and all(isinstance(k, str) and _run_like(v) for k, v in runs.items())
    )


def split_runs(
    runs: Any, names: Sequence[str | None] | None = None
) -> tuple[list[Any], list[str | None] | None]:
    """``runs`` as a list and their explicit names: a dict of runs gives its keys (then
    ``names`` must be ``None``); a single run becomes a one-element list."""
    if is_named_runs(runs):
        if names is not None:
            raise InputFormatError("give runs as a dict of name -> run, or names=, not both")
        return list(runs.values()), list(runs.keys())
    if (
        isinstance(runs, (str, Mapping))
        or hasattr(runs, "__fspath__")
        or hasattr(runs, "schema")
        or hasattr(runs, "columns")
    ):
        run_list = [runs]
    elif isinstance(runs, Sequence) or hasattr(runs, "__iter__"):
        run_list = list(runs)
    else:
        run_list = [runs]
    if names is not None and len(names) != len(run_list):
        raise InputFormatError(f"got {len(names)} names for {len(run_list)} runs")
    return run_list, list(names) if names is not None else None


def named_runs(runs: Any, names: Sequence[str | None] | None = None) -> tuple[list[Any], list[str]]:
    """``runs`` (one run, a list, or a dict by name) as a list, and their names by the one
    rule (:func:`irbench.engine.naming.name_runs`; ``names`` are explicit names)."""
    run_list, given = split_runs(runs, names)
    return run_list, name_runs(run_list, given)

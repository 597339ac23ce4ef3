"""Spec files of ``irbench leaderboard`` and ``irbench table`` (TOML): the datasets, their
qrels and runs, and the options they apply; and the datasets of a call without a spec."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irbench.errors import InputFormatError

__all__ = ["DatasetSpec", "datasets_from", "load_spec"]


@dataclass
class DatasetSpec:
    name: str | None  # None: derived from the qrels file name
    qrels: Any
    runs: list[Any]
    names: Sequence[str | None] | None = None  # None entries: named by the rule
    ignore_identical_ids: bool | None = None  # None: the command's setting
    group: str | None = None  # averaged with the other members before the BEIR average
    label: str | None = None  # shown in tables instead of the name
    latency: dict[str, str] | None = None  # run name -> latency CSV (spec key ``latency``)


_SPEC_KEYS = {"measures", "baseline", "baselines", "datasets"}
_DATASET_KEYS = {"qrels", "runs", "run_names", "ignore_identical_ids", "group", "label", "latency"}


def _expand(base: Path, pattern: str, where: str) -> list[str]:
    p = pattern if os.path.isabs(pattern) else str(base / pattern)
    if any(ch in pattern for ch in "*?["):
        hits = sorted(glob.glob(p))
        if not hits:
            raise InputFormatError(f"{where}: the pattern {pattern!r} matches no file")
        return hits
    return [p]


def _names(paths: list[str], how: str, where: str) -> list[str] | None:
    from irbench.engine.naming import file_stem

    if how == "auto":
        return None
    if how == "file":
        return [file_stem(p) for p in paths]
    if how == "parent":
        return [Path(p).parent.name for p in paths]
    raise InputFormatError(f"{where}: run_names must be auto, file or parent (got {how!r})")


def _latency(base: Path, d: Mapping[str, Any], where: str) -> dict[str, str] | None:
    """A dataset's ``latency = { RUN = "file.csv" }`` table, paths relative to the spec."""
    table = d.get("latency")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise InputFormatError(
            f"{where}: latency must be a table of run name = latency CSV, e.g. "
            'latency = { BM25 = "bm25-latency.csv" }'
        )
    return {str(k): _expand(base, str(v), where)[0] for k, v in table.items()}


def load_spec(path: str | os.PathLike[str]) -> tuple[list[DatasetSpec], dict[str, Any]]:
    """Read a leaderboard spec (TOML); relative paths and globs are relative to its folder::

    measures = ["nDCG@10", "AP(rel=2)"]
    baseline = "BM25"
    [datasets.dl19]
    qrels = "trec-dl/qrels.dl19-passage.txt"     # a file, or a dataset id read_qrels knows
    runs = ["runs/*/dl19.txt"]                   # paths or globs ...
    run_names = "parent"                         # auto (file names, made unique), file or parent
    label = "DL19"                               # optional: the name shown in tables
    [datasets.arguana]
    ignore_identical_ids = true                  # BEIR's protocol for ArguAna and Quora
    group = "cqadupstack"                        # averaged with its group first (the
                                                 # beir/cqadupstack/* ids are grouped anyway)
    [datasets.dl20]
    qrels = "trec-dl/qrels.dl20-passage.txt"
    runs = { BM25 = "runs/bm25/dl20.txt", SPLADE = "runs/splade/dl20.txt" }  # ... or named
    latency = { SPLADE = "latency/splade-dl20.csv" }  # optional: query_id,seconds per run
    """
    from irbench.report._toml import load

    src = str(path)
    data = load(path, "leaderboard spec")
    base = Path(path).resolve().parent
    unknown = set(data) - _SPEC_KEYS
    if unknown:
        raise InputFormatError(
            f"unknown key(s) {sorted(unknown)}; expected {sorted(_SPEC_KEYS)}", path=src
        )
    datasets = data.get("datasets")
    if not isinstance(datasets, Mapping) or not datasets:
        raise InputFormatError(
            "no [datasets.NAME] table", path=src, hint="see irbench leaderboard --help"
        )
    out = []
    for name, d in datasets.items():
        where = f"{src}: [datasets.{name}]"
        if not isinstance(d, Mapping):
            raise InputFormatError(f"{where} must be a table")
        bad = set(d) - _DATASET_KEYS
        if bad or "qrels" not in d or "runs" not in d:
            raise InputFormatError(
                f"{where} needs qrels and runs (optional: {', '.join(sorted(_DATASET_KEYS))}); "
                f"got {sorted(d)}"
            )
        qrels = str(d["qrels"])
        qpath = qrels if os.path.isabs(qrels) else str(base / qrels)
        qrels_src: Any = qpath if os.path.exists(qpath) else qrels  # else: a dataset id
        runs = d["runs"]
        if isinstance(runs, Mapping):
            paths = [_expand(base, str(v), where)[0] for v in runs.values()]
            names: list[str] | None = [str(k) for k in runs]
        elif isinstance(runs, list):
            paths = [p for pat in runs for p in _expand(base, str(pat), where)]
            names = _names(paths, str(d.get("run_names", "auto")), where)
        else:
            raise InputFormatError(f"{where}: runs must be a list of paths/globs or a table")
        ident = d.get("ignore_identical_ids")
        group, label = d.get("group"), d.get("label")
        if ident is not None and not isinstance(ident, bool):
            raise InputFormatError(f"{where}: ignore_identical_ids must be true or false")
        if any(x is not None and not isinstance(x, str) for x in (group, label)):
            raise InputFormatError(f"{where}: group and label must be strings")
        out.append(
            DatasetSpec(
                str(name), qrels_src, paths, names, ident, group, label, _latency(base, d, where)
            )
        )
    opts: dict[str, Any] = {k: data[k] for k in ("measures", "baseline", "baselines") if k in data}
    for key in ("measures", "baselines"):
        if isinstance(opts.get(key), str):
            opts[key] = [opts[key]]
    return out, opts


def datasets_from(
    qrels: Any,
    runs: Any,
    measures: Any,
    *,
    spec: str | os.PathLike[str] | None = None,
    names: Sequence[str | None] | None = None,
    dataset: str | None = None,
) -> tuple[list[DatasetSpec], Any, dict[str, Any]]:
    """The datasets, measures and spec options of a call of :func:`irbench.leaderboard` or
    :func:`irbench.table`: one dataset (``dataset``, else named after the qrels file) from
    ``qrels`` and ``runs`` (named ``names``, else as ``irbench eval``; see
    :func:`irbench.engine.naming.split_runs`), or those of a ``spec`` file, whose ``measures``
    apply unless given here."""
    if spec is not None:
        if qrels is not None or runs is not None:
            raise InputFormatError("give qrels and runs, or a spec file, not both")
        sets, opts = load_spec(spec)
        measures = measures if measures is not None else opts.get("measures")
    else:
        if qrels is None or runs is None:
            raise InputFormatError("give qrels and runs, or a spec file")
        from irbench.engine.naming import split_runs

        run_list, given = split_runs(runs, names or None)
        sets, opts = [DatasetSpec(dataset, qrels, run_list, given)], {}
    if not measures:
        raise InputFormatError("no measure given (for example -m nDCG@10)")
    return sets, measures, opts

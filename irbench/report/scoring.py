"""Score runs on one dataset under recorded conditions (the provenance a leaderboard row or a
baseline value carries) and refuse to mix results computed under different conditions."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench.errors import ComparabilityError

__all__ = [
    "LEGACY_TIE_POLICY",
    "TIE_POLICIES",
    "Conditions",
    "DatasetScores",
    "ScoredRun",
    "check_same_queries",
    "dataset_name",
    "run_sha256",
    "score_dataset",
]

#: How documents are ordered, per trec_eval version (form_res_rels.c): score descending (9.0.x
#: compares C floats, 10.0 doubles), ties by document id descending.
TIE_POLICIES = {"9": "float32-score-desc-docid-desc", "10": "float64-score-desc-docid-desc"}
#: What baselines written before irbench compared scores as float32 recorded.
LEGACY_TIE_POLICY = "score-desc-docid-desc"


#: Conditions recorded since a later version, with the value older records imply.
_ADDED_LATER: dict[str, Any] = {"ignore_identical_ids": False}


@dataclass(frozen=True)
class Conditions:
    """Everything besides qrels, run and measure that changes a number."""

    rel_level: int = 1
    judged_only: bool = False
    max_results: int | None = None
    complete: bool = False
    compat: str = "9"
    ignore_identical_ids: bool = False

    @property
    def query_policy(self) -> str:
        """``complete`` (trec_eval -c: qrels queries a run lacks score 0) or ``skip-missing``."""
        return "complete" if self.complete else "skip-missing"

    @property
    def tie_policy(self) -> str:
        return TIE_POLICIES[self.compat]

    def as_dict(self) -> dict[str, Any]:
        """TOML-friendly form (no None: ``max_results = 0`` means no -M)."""
        return {
            "query_policy": self.query_policy,
            "tie_policy": self.tie_policy,
            "rel_level": self.rel_level,
            "judged_only": self.judged_only,
            "max_results": self.max_results or 0,
            "trec_eval_compat": self.compat,
            "ignore_identical_ids": self.ignore_identical_ids,
        }

    def differences(self, other: dict[str, Any]) -> list[str]:
        """Human-readable differences between these conditions and a recorded ``as_dict``."""
        mine = self.as_dict()
        out = []
        for key, value in mine.items():
            if key in _ADDED_LATER and key not in other:  # older records: the default then
                other = {**other, key: _ADDED_LATER[key]}
            if key not in other:
                out.append(f"{key} is not recorded (now {value!r})")
            elif other[key] != value:
                line = f"{key} was {other[key]!r}, now {value!r}"
                if key == "tie_policy" and other[key] == LEGACY_TIE_POLICY:
                    line += (
                        " (recorded before irbench ordered scores as trec_eval 9.0.x does, as "
                        "float32: values may differ where scores collide in float32; re-record "
                        "with --update)"
                    )
                out.append(line)
        return out


@dataclass
class ScoredRun:
    """A run's scores with its provenance. ``table`` is the run itself, kept when it was scored
    in this process (``None`` from a remote engine); ``ties`` its tie reports when asked for."""

    name: str
    source: str
    sha256: str
    scores: Any  # irbench.engine.RunScores
    table: pa.Table | None = field(repr=False)
    ties: list[Any] | None = field(default=None, repr=False)  # irbench.report.diagnostics.TieReport

    def per_query(self, measure: Any) -> dict[str, float]:
        qids = self.scores.query_ids.to_pylist()
        return dict(zip(qids, self.scores.values[measure].tolist(), strict=True))


@dataclass
class DatasetScores:
    name: str
    qrels_source: str
    qrels_sha256: str
    measures: list[Any]  # irbench.measures.Measure, resolved (rel level applied)
    conditions: Conditions
    runs: list[ScoredRun]
    evaluator: Any = field(repr=False)


def run_sha256(table: pa.Table) -> str:
    """SHA-256 of a run's content: (query, document, score) rows sorted by query and document,
    so the same ranking in another file order, compression or format has the same hash."""
    if table.num_rows:
        order = pc.sort_indices(
            table, sort_keys=[("query_id", "ascending"), ("doc_id", "ascending")]
        )
        table = table.take(order)
    h = hashlib.sha256()
    for name in ("query_id", "doc_id"):
        arr = table.column(name).combine_chunks().cast(pa.string())
        offsets = (
            np.frombuffer(
                arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4
            )
            if len(arr)
            else np.zeros(1, np.int32)
        )
        offsets = offsets - offsets[0]
        data = arr.buffers()[2]
        h.update(np.ascontiguousarray(offsets, dtype="<i8").tobytes())
        if data is not None and len(arr):
            start = int(
                np.frombuffer(arr.buffers()[1], dtype=np.int32, count=1, offset=arr.offset * 4)[0]
            )
            h.update(memoryview(data)[start : start + int(offsets[-1])])
    scores = table.column("score").to_numpy()
    h.update(np.ascontiguousarray(scores, dtype="<f8").tobytes())
    return h.hexdigest()


def _source(x: Any) -> str:
    return os.fspath(x) if isinstance(x, (str, os.PathLike)) else type(x).__name__


def _score_run(ev: Any, run: Any, name: str | None, *, ties: bool, keep_table: bool) -> ScoredRun:
    """Score one run with its SHA-256 (and tie reports): one engine task."""
    from irbench.io import read_run

    table = read_run(run, name=name)
    scores = ev.score_table(table, name=name, origin=run)
    reports = None
    if ties:
        from irbench.report.diagnostics import tie_report

        reports = tie_report(ev, table, scores.run, base=scores)
    return ScoredRun(
        scores.run, _source(run), run_sha256(table), scores, table if keep_table else None, reports
    )


def score_dataset(
    qrels: Any,
    runs: Sequence[Any],
    measures: Any,
    *,
    conditions: Conditions | None = None,
    names: Sequence[str | None] | None = None,
    name: str | None = None,
    engine: Any = None,
    ties: bool = False,
) -> DatasetScores:
    """Bind ``qrels`` once, score every run; runs named ``names``, else as ``irbench eval``.

    ``engine`` (an :class:`irbench.engine.placement.Engine`, default local) scores the runs, with
    their tie reports if ``ties``; a remote engine does not bring the run tables back."""
    from irbench.engine import Evaluator
    from irbench.engine.api import map_runs, resolve_engine

    cond = conditions or Conditions()
    ev = Evaluator(
        qrels,
        measures,
        rel_level=cond.rel_level,
        judged_only=cond.judged_only,
        max_results=cond.max_results,
        complete=cond.complete,
        compat=cond.compat,
        ignore_identical_ids=cond.ignore_identical_ids,
    )
    eng = resolve_engine(engine)
    task = partial(_score_run, ties=ties, keep_table=not eng.remote)
    final, scored = map_runs(ev, list(runs), task, names, engine=eng)
    for s, n in zip(scored, final, strict=True):
        s.name = n
        s.scores.run = n
        if s.ties is not None:
            s.ties = [replace(tr, run=n) for tr in s.ties]
    qsrc = _source(qrels)
    return DatasetScores(
        name=name or dataset_name(qsrc),
        qrels_source=qsrc,
        qrels_sha256=ev.qrels.fingerprint,
        measures=list(ev.measures),
        conditions=cond,
        runs=scored,
        evaluator=ev,
    )


def dataset_name(source: str) -> str:
    """A dataset's name from its qrels file name (``qrels.dl19.txt.gz`` -> ``dl19``)."""
    stem = Path(source).name
    for suffix in (".gz", ".txt", ".tsv", ".qrels", ".parquet", ".jsonl"):
        stem = stem.removesuffix(suffix)
    return stem.removeprefix("qrels.").removeprefix("qrels-") or source


def check_same_queries(ds: DatasetScores, *, force: bool = False) -> None:
    """Refuse runs evaluated on different query sets (skip-missing policy) unless ``force``."""
    if force or len(ds.runs) < 2:
        return
    sets = {r.name: set(r.scores.query_ids.to_pylist()) for r in ds.runs}
    union = set().union(*sets.values())
    bad = {n: sorted(union - s) for n, s in sets.items() if s != union}
    if bad:
        first, missing = next(iter(bad.items()))
        raise ComparabilityError(
            f"dataset {ds.name!r}: the runs are scored on different query sets "
            f"({len(bad)} run(s) lack queries the others have; {first!r} lacks "
            f"{len(missing)}: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}); "
            "means over different queries are not comparable. Use -c to score missing "
            "queries 0 (trec_eval -c) or --force to compare anyway"
        )

"""Bind qrels once, score many runs: the public evaluation API.

Query-set policy (trec_eval 9.0.x): a run query that is not in the qrels is ignored; a qrels
query the run lacks is skipped by default, or scored as an empty ranking with
``complete=True`` (trec_eval ``-c``), which also makes it count in every mean. A qrels query with
no relevant document is evaluated (and scores 0 on most measures). Both skips are reported as
warnings, because the two conventions differ by about 0.01 nDCG@10 on MS MARCO dev.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, repeat_string
from irbench.engine.kernels import KERNELS, Context
from irbench.engine.qrels import BoundQrels
from irbench.engine.ranking import rank_run
from irbench.errors import (
    DuplicateEntryError,
    IrbenchError,
    IrbenchWarning,
    MeasureError,
    NotStreamableError,
    RunNotGroupedError,
)
from irbench.io.schema import RESULTS_SCHEMA, RUN_NAME_KEY
from irbench.measures.spec import Measure, parse_measures

if TYPE_CHECKING:
    import pandas as pd

    from irbench.engine.engines import Engine

__all__ = ["Evaluator", "PartialScores", "RunScores", "evaluate", "resolve_measures"]


def resolve_measures(measures: Any, rel_level: int = 1) -> list[Measure]:
    """Parse ``measures`` and give every relevance-thresholded measure the level ``rel_level``
    unless it names its own (``-l`` in trec_eval)."""
    if rel_level < 0:
        raise MeasureError(f"the relevance level must be >= 0 (got {rel_level})")
    out = []
    for m in parse_measures(measures):
        spec = m.family.params.get("rel")
        if (spec is not None and spec.default == 1 and "rel" not in dict(m.params)) or (
            m.name == "NumRet" and m["rel"] == 1
        ):
            m = m.with_params(rel=rel_level)
        out.append(m)
    if not out:
        raise MeasureError("no measure given (for example -m nDCG@10 -m AP)")
    return out


@dataclass
class RunScores:
    """Per-query values of one run: ``values[measure][i]`` belongs to ``query_ids[i]``."""

    run: str
    query_ids: pa.Array
    values: dict[Measure, np.ndarray]
    num_qrels_queries_missing: int = 0
    num_run_queries_not_in_qrels: int = 0
    aggregates: dict[Measure, float] = field(default_factory=dict)

    def aggregate(self, measure: Measure) -> float:
        """Mean over queries; the sum for NumQ/NumRet/NumRel; exp(mean) for GMAP."""
        v = self.values[measure]
        kind = measure.family.aggregate
        if v.size == 0:
            return float("nan") if kind != "sum" else 0.0
        if kind == "sum":
            return float(v.sum())
        if kind == "gmean":
            return float(np.exp(v.mean()))
        return float(v.mean())


@dataclass
class PartialScores:
    """Values of part of a run, one entry per qrels query (``BoundQrels.query_ids`` order).

    ``present[i]`` says whether query i has rows in this part; where it does not,
    ``values[m][i]`` is the value of an empty ranking (what ``-c`` scores a missing query).
    """

    present: np.ndarray
    values: dict[Measure, np.ndarray]
    num_run_queries_not_in_qrels: int = 0

    def merge(self, other: PartialScores, *, what: str = "part") -> PartialScores:
        """This part and a disjoint ``other`` part as one; a query in both is an error naming
        the query position (a query must never straddle two shards or chunks)."""
        both = self.present & other.present
        if both.any():
            raise IrbenchError(
                f"query position {int(np.flatnonzero(both)[0])} occurs in two {what}s: a run "
                "must be split by query"
            )
        take = other.present
        return PartialScores(
            present=self.present | take,
            values={m: np.where(take, other.values[m], v) for m, v in self.values.items()},
            num_run_queries_not_in_qrels=(
                self.num_run_queries_not_in_qrels + other.num_run_queries_not_in_qrels
            ),
        )


def _source_of(run: Any) -> str:
    """A run's path as a string, or ``"run"`` for an in-memory run."""
    return str(run) if isinstance(run, str) or hasattr(run, "__fspath__") else "run"


def _run_name(table: pa.Table, fallback: str) -> str:
    meta = table.schema.metadata or {}
    name = meta.get(RUN_NAME_KEY)
    return name.decode() if name else fallback


def _name_of(run: Any, name: str | None) -> str:
    """``name``, else ``run``'s name by the rule of :mod:`irbench.engine.naming`."""
    from irbench.engine.naming import run_label

    return name if name is not None else run_label(run)


class Evaluator:
    """Qrels and measures bound once, ready to score many runs.

    Parameters
    ----------
    qrels:
        A qrels file path, dataset id, table, DataFrame or anything
        :func:`irbench.datasets.qrels_source.read_qrels` takes.
    measures:
        Measures in ir_measures or trec_eval syntax, or measure objects.
    rel_level:
        Minimum grade counted as relevant for measures that do not name one (trec_eval ``-l``).
    judged_only:
        Drop retrieved documents that are not judged before scoring (trec_eval ``-J``). A
        measure written ``judged_only=True`` (``nDCG(judged_only=True)@10``) gets it alone.
    max_results:
        Keep only the first ``max_results`` documents per query after sorting (``-M``).
    complete:
        Score qrels queries missing from a run as empty rankings (trec_eval ``-c``).
    compat:
        ``"9"`` (default) for trec_eval 9.0.x numbers, as pytrec_eval and published work use:
        scores are compared as C floats (float32), so scores equal in float32 tie and fall to
        the document-id tie-break. ``"10"`` for trec_eval 10.0: scores compared as doubles,
        IPrec/IPrecAvg recall cuts rounded with ``lround``.
    ignore_identical_ids:
        Drop every retrieved document whose id equals its query's id before ranking, as BEIR's
        ``EvaluateRetrieval.evaluate(ignore_identical_ids=True)`` and MTEB do for ArguAna and
        Quora (where a query is also a corpus document). Applied in :meth:`score_part`, which
        every read path (whole table, chunks, partitions, shards, Dask) goes through; a query
        left with no document then counts as missing from the run.
    """

    def __init__(
        self,
        qrels: Any,
        measures: Any,
        *,
        rel_level: int = 1,
        judged_only: bool = False,
        max_results: int | None = None,
        complete: bool = False,
        compat: str = "9",
        ignore_identical_ids: bool = False,
    ) -> None:
        from irbench.datasets.qrels_source import read_qrels

        if compat not in ("9", "10"):
            raise MeasureError(f"compat must be '9' or '10' (trec_eval version), got {compat!r}")
        self.compat = compat
        self.measures = resolve_measures(measures, rel_level)
        if isinstance(qrels, BoundQrels):
            self.qrels = qrels
        else:
            source = (
                str(qrels) if isinstance(qrels, (str,)) or hasattr(qrels, "__fspath__") else "qrels"
            )
            self.qrels = BoundQrels.from_table(read_qrels(qrels), source=source)
        if max_results is not None and max_results < 1:
            raise MeasureError(f"max_results (-M) must be >= 1 (got {max_results})")
        self.rel_level = rel_level
        self.judged_only = judged_only
        self.max_results = max_results
        self.complete = complete
        self.ignore_identical_ids = ignore_identical_ids

    def score(self, run: Any, name: str | None = None) -> RunScores:
        """Score one run (path, table, DataFrame, dict...) and return its per-query values.
        ``name`` defaults to the run's name by :func:`irbench.engine.naming.name_runs`'s rule
        (a file's stem, a table's stored name)."""
        part, run_name = self.score_whole_part(run, name)
        return self.finish(part, run_name)

    def score_table(
        self, table: pa.Table, *, name: str | None = None, origin: Any = None
    ) -> RunScores:
        """Score a run already read into a table; ``origin`` is where it was read from (a path
        lets a duplicate-document error name its lines, and names the run by its file)."""
        source = _source_of(origin)
        part = self.score_shard(table, source=source, run=origin)
        return self.finish(part, _name_of(origin if source != "run" else table, name))

    def score_whole_part(
        self, run: Any, name: str | None = None, *, read_workers: int | None = None
    ) -> tuple[PartialScores, str]:
        """Read and score a whole run, stopping before :meth:`finish`: its
        :class:`PartialScores` and its name (``name``, else named by the rule of
        :mod:`irbench.engine.naming`).
        What a Dask worker computes for one run; the client finishes it. ``read_workers``:
        threads parsing a run file's chunks (default: the CPU count, at most 4)."""
        from irbench.io import read_run
        from irbench.io.chunks import is_streamable_path

        source = _source_of(run)
        name = _name_of(run, name)
        if is_streamable_path(run):  # chunks: bounded memory, reading overlaps scoring
            from irbench.engine.streaming import score_partitioned_part, score_stream_part

            try:
                return score_stream_part(self, run, name=name, workers=read_workers)
            except RunNotGroupedError:  # queries interleaved: split the rows by query instead
                return score_partitioned_part(self, run, name=name, workers=read_workers)
            except NotStreamableError:
                pass  # JSON Lines: read it whole
        table = read_run(run, name=name)
        return self.score_shard(table, source=source, run=run), name

    def score_shard(
        self, table: pa.Table, *, source: str = "run", run: Any = None
    ) -> PartialScores:
        """:meth:`score_part` that names a duplicate document's query and, when ``run`` is the
        run's file, its physical lines."""
        try:
            return self.score_part(table, source=source)
        except DuplicateEntryError as exc:
            raise _locate_duplicate(exc, run, self.qrels) from None

    def score_part(self, table: pa.Table, *, source: str = "run") -> PartialScores:
        """Per-query values of a run table that may hold only some of the run's queries.

        A query's values depend on its own rows only, so a run split by query into parts (shards
        on a cluster, chunks of a stream) and scored part by part, then merged with
        :meth:`PartialScores.merge` and :meth:`finish`, gives bit-identical numbers.
        """
        if self.ignore_identical_ids:
            table = drop_identical_ids(table)
        ranking = rank_run(
            table,
            self.qrels,
            max_results=self.max_results,
            judged_only=self.judged_only,
            source=source,
            compat=self.compat,
        )
        ctx = Context(ranking, self.qrels, compat=self.compat)
        values = {}
        judged_ctx = None  # measures written judged_only=True: one condensed ranking for all
        for m in self.measures:
            if m.get("judged_only") and not self.judged_only:
                if judged_ctx is None:
                    from irbench.engine.unjudged import condense

                    condensed = condense(ranking, self.qrels.num_queries)
                    judged_ctx = Context(condensed, self.qrels, compat=self.compat)
                values[m] = KERNELS[m.name](judged_ctx, m)
            else:
                values[m] = KERNELS[m.name](ctx, m)
        return PartialScores(
            present=ranking.present,
            values=values,
            num_run_queries_not_in_qrels=ranking.num_queries_not_in_qrels,
        )

    def finish(self, part: PartialScores, run: str) -> RunScores:
        """The :class:`RunScores` of a whole run from its (merged) :class:`PartialScores`:
        queries kept by the -c policy, means, and the query-set warnings."""
        keep = np.ones(self.qrels.num_queries, dtype=bool) if self.complete else part.present
        idx = np.flatnonzero(keep)
        scores = RunScores(
            run=run,
            query_ids=pc.take(self.qrels.query_ids, from_numpy(idx)),
            values={m: part.values[m][idx] for m in self.measures},
            num_qrels_queries_missing=int((~part.present).sum()),
            num_run_queries_not_in_qrels=part.num_run_queries_not_in_qrels,
        )
        scores.aggregates = {m: scores.aggregate(m) for m in self.measures}
        if self.complete:
            scores.aggregates.update(
                {m: self._complete_num_rel() for m in self.measures if m.name == "NumRel"}
            )
        _warn_query_sets(scores, self.complete)
        return scores

    def _complete_num_rel(self) -> float:
        """trec_eval's aggregate ``num_rel`` under ``-c`` (m_num_rel.c, te_calc_avg_num_rel):
        every judgment with a grade > 0 over all qrels queries, whatever ``-l`` says."""
        return float(np.count_nonzero(self.qrels.grades > 0))

    def evaluate(
        self,
        runs: Any,
        *,
        per_query: bool = True,
        names: Sequence[str | None] | None = None,
        engine: Engine | str | None = None,
    ) -> pa.Table:
        """Score every run; one row per run, measure and query, plus ``query_id == "all"`` rows.
        ``runs``: one run, a list, or a dict of runs by name; ``names``: explicit names (else
        :func:`irbench.engine.naming.name_runs`'s rule); ``engine``: where to score
        (``"local"``, ``"dask"`` or an engine object)."""
        from irbench.engine.engines import resolve_engine
        from irbench.engine.naming import name_runs, split_runs

        run_list, given = split_runs(runs, names)
        final = name_runs(run_list, given)  # decided before scoring: warnings use them too
        with resolve_engine(engine) as eng:
            all_scores = eng.score_runs(self, run_list, final)
        tables = [results_table(s, per_query=per_query) for s in all_scores]
        return pa.concat_tables(tables) if tables else RESULTS_SCHEMA.empty_table()


def drop_identical_ids(table: pa.Table) -> pa.Table:
    """``table`` without the rows whose ``doc_id`` equals their ``query_id`` (BEIR's
    ``ignore_identical_ids``: ``results[qid].pop(qid)`` for every query, beir/retrieval/
    evaluation.py). Other columns and the schema metadata are kept."""
    if table.num_rows == 0:
        return table
    qid, did = table.column("query_id"), table.column("doc_id")
    if qid.type != did.type:
        qid, did = qid.cast(pa.string()), did.cast(pa.string())
    keep = pc.not_equal(qid, did)
    if pc.all(keep).as_py():
        return table
    return table.filter(keep)


def _locate_duplicate(exc: DuplicateEntryError, run: Any, qrels: BoundQrels) -> DuplicateEntryError:
    """Name the query and, for a text file, the physical lines of a duplicate document."""
    query = qrels.query_ids[exc.qpos].as_py() if exc.qpos is not None else None
    lines: list[int] = []
    if isinstance(run, (str, os.PathLike)) and str(run) != "-" and query is not None:
        from irbench.io import locate_lines

        try:
            lines = locate_lines(run, query, exc.doc_id or "")
        except (OSError, IrbenchError):
            lines = []
    return duplicate_error(exc, query, lines, exc.path)


def duplicate_error(
    exc: DuplicateEntryError,
    query: str | None,
    lines: list[int],
    path: str | None,
    qpos: int | None = None,
) -> DuplicateEntryError:
    """The error for a document retrieved twice for ``query``, found in ``path`` at the
    physical ``lines`` (the second one is the error's line)."""
    where = f" (lines {', '.join(map(str, lines))})" if len(lines) > 1 else ""
    new = DuplicateEntryError(
        f"document {exc.doc_id!r} is retrieved twice for query {query!r}{where}",
        path=path,
        line=lines[1] if len(lines) > 1 else None,
        hint=exc.hint,
    )
    new.query_id, new.doc_id, new.qpos = query, exc.doc_id, qpos
    return new


def _warn_query_sets(scores: RunScores, complete: bool) -> None:
    if scores.num_qrels_queries_missing:
        policy = (
            "scored as empty rankings (-c)"
            if complete
            else "skipped; -c scores them as empty rankings"
        )
        warnings.warn(
            f"run {scores.run!r} lacks {scores.num_qrels_queries_missing} of the qrels queries "
            f"({policy})",
            IrbenchWarning,
            stacklevel=3,
        )
    if scores.num_run_queries_not_in_qrels:
        warnings.warn(
            f"run {scores.run!r} has {scores.num_run_queries_not_in_qrels} queries that are not "
            "in the qrels (ignored)",
            IrbenchWarning,
            stacklevel=3,
        )


def results_table(scores: RunScores, *, per_query: bool = True) -> pa.Table:
    """The RESULTS_SCHEMA table of one run (per-query rows in qrels order, then "all")."""
    nq = len(scores.query_ids)
    measures = list(scores.values)
    cols: dict[str, list[pa.Array]] = {"run": [], "measure": [], "query_id": [], "value": []}
    for m in measures:
        if per_query and nq:
            cols["measure"].append(repeat_string(str(m), nq))
            cols["query_id"].append(scores.query_ids)
            cols["value"].append(from_numpy(scores.values[m].astype(np.float64)))
        cols["measure"].append(repeat_string(str(m), 1))
        cols["query_id"].append(repeat_string("all", 1))
        cols["value"].append(from_numpy(np.array([scores.aggregates[m]], dtype=np.float64)))
    total = sum(len(a) for a in cols["value"])
    run_col = repeat_string(scores.run, total)
    return pa.Table.from_arrays(
        [
            run_col,
            pa.chunked_array(cols["measure"], pa.string()),
            pa.chunked_array(cols["query_id"], pa.string()),
            pa.chunked_array(cols["value"], pa.float64()),
        ],
        schema=RESULTS_SCHEMA,
    )


def evaluate(
    qrels: Any,
    runs: Any,
    measures: Any,
    *,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    complete: bool = False,
    ignore_identical_ids: bool = False,
    per_query: bool = True,
    output: str = "arrow",
    engine: Engine | str | None = None,
    compat: str = "9",
    names: Sequence[str | None] | None = None,
) -> pa.Table | pd.DataFrame:
    """Evaluate one or many runs with trec_eval 9.0.x semantics.

    Parameters
    ----------
    qrels, runs:
        Paths (TREC text, ``.gz``, Parquet, JSONL, ``-`` for stdin), Arrow tables, pandas
        DataFrames, dict-of-dicts or ir_measures records. ``runs`` may be a list, or a dict
        of runs by name (``{"bm25": "bm25.run", "splade": table}``).
    measures:
        ``"nDCG@10"``, ``["AP", "P@10"]``, trec_eval names (``"ndcg_cut.10"``) or ir_measures
        objects.
    rel_level, judged_only, max_results, complete:
        trec_eval's ``-l``, ``-J``, ``-M`` and ``-c`` (see :class:`Evaluator`).
    compat:
        ``"9"`` (trec_eval 9.0.x, default) or ``"10"`` (see :class:`Evaluator`).
    ignore_identical_ids:
        Drop documents whose id equals the query id (BEIR's protocol for ArguAna and Quora).
    per_query:
        Include per-query rows; the aggregate rows (``query_id == "all"``) are always there.
    output:
        ``"arrow"`` (a ``pyarrow.Table``) or ``"pandas"``.
    engine:
        Where runs are scored: ``"local"`` (default, this process), ``"dask"`` (a local Dask
        cluster, needs ``irbench-eval[dask]``) or an engine object such as
        ``irbench.distributed.DaskEngine(client)``. The numbers are identical.
    names:
        Explicit run names, one per run (``None`` entries are named by the rule). By default
        a file is named by its stem (``runs/bm25.run.gz`` -> ``bm25``), an in-memory run by
        its stored name (the TREC run tag) or ``run``; names are made unique (parent folders,
        then ``#2``). See :mod:`irbench.engine.naming`.

    Returns
    -------
    A table with columns ``run``, ``measure`` (canonical string), ``query_id``, ``value``.

    Examples
    --------
    >>> import irbench
    >>> qrels = {"q1": {"d1": 1, "d2": 0}}
    >>> run = {"q1": {"d1": 0.5, "d2": 0.9}}
    >>> t = irbench.evaluate(qrels, run, ["RR", "P@1"], per_query=False)
    >>> t.column("value").to_pylist()
    [0.5, 0.0]
    """
    ev = Evaluator(
        qrels,
        measures,
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        compat=compat,
        ignore_identical_ids=ignore_identical_ids,
    )
    table = ev.evaluate(runs, per_query=per_query, engine=engine, names=names)
    if output == "pandas":
        return table.to_pandas()
    if output != "arrow":
        raise ValueError(f"output must be 'arrow' or 'pandas' (got {output!r})")
    return table

"""Bind qrels once, score run tables: the core of the metric engine.

:class:`TableEvaluator` turns a run *table* into per-query values (:meth:`~TableEvaluator.
score_part`, then :meth:`~TableEvaluator.finish`; :meth:`~TableEvaluator.score_table` does
both). How a run is read (whole, in chunks, partitioned) is :mod:`irbench.engine.runs`'s
business, where runs are scored :mod:`irbench.engine.placement`'s, and the public
:class:`irbench.engine.Evaluator` (:mod:`irbench.engine.api`) puts the three together.

Query-set policy (trec_eval 9.0.x): a run query that is not in the qrels is ignored; a qrels
query the run lacks is skipped by default, or scored as an empty ranking with
``complete=True`` (trec_eval ``-c``), which also makes it count in every mean. A qrels query with
no relevant document is evaluated (and scores 0 on most measures). Both skips are reported as
warnings, because the two conventions differ by about 0.01 nDCG@10 on MS MARCO dev.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy
from irbench.engine.kernels import KERNELS, Context
from irbench.engine.naming import run_label
from irbench.engine.qrels import BoundQrels
from irbench.engine.ranking import condense, rank_run
from irbench.engine.scores import PartialScores, RunScores
from irbench.errors import (
    DuplicateEntryError,
    IrbenchError,
    IrbenchWarning,
    MeasureError,
)
from irbench.measures.spec import Measure, parse_measures

__all__ = ["TableEvaluator", "drop_identical_ids", "duplicate_error", "resolve_measures"]


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


def source_of(run: Any) -> str:
    """A run's path as a string, or ``"run"`` for an in-memory run."""
    return str(run) if isinstance(run, str) or hasattr(run, "__fspath__") else "run"


def _name_of(run: Any, name: str | None) -> str:
    """``name``, else ``run``'s name by the rule of :mod:`irbench.engine.naming`."""
    return name if name is not None else run_label(run)


class TableEvaluator:
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

    def score_table(
        self, table: pa.Table, *, name: str | None = None, origin: Any = None
    ) -> RunScores:
        """Score a run already read into a table; ``origin`` is where it was read from (a path
        lets a duplicate-document error name its lines, and names the run by its file)."""
        source = source_of(origin)
        part = self.score_part(table, source=source, run=origin)
        return self.finish(part, _name_of(origin if source != "run" else table, name))

    def score_part(self, table: pa.Table, *, source: str = "run", run: Any = None) -> PartialScores:
        """Per-query values of a run table that may hold only some of the run's queries.

        A query's values depend on its own rows only, so a run split by query into parts (shards
        on a cluster, chunks of a stream) and scored part by part, then merged with
        :meth:`PartialScores.merge` and :meth:`finish`, gives bit-identical numbers. A document
        retrieved twice raises :class:`~irbench.errors.DuplicateEntryError` naming its query
        and, when ``run`` is the run's file, its physical lines.
        """
        try:
            return self._score_part(table, source)
        except DuplicateEntryError as exc:
            raise _locate_duplicate(exc, run, self.qrels) from None

    def _score_part(self, table: pa.Table, source: str) -> PartialScores:
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
    return duplicate_error(exc, query, lines, exc.path, exc.qpos)


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

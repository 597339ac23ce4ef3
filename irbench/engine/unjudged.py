"""Unjudged documents: judged-only rankings, Judged@k companions and optimistic bounds.

A retrieved document is *unjudged* when the qrels do not list it for its query or list it with
a negative grade: the documents trec_eval's ``-J`` drops (form_res_rels.c, RELVALUE_NONPOOL and
RELVALUE_UNJUDGED). Every measure counts them non-relevant, so a run that retrieves many of them
(an LLM reranker over a pool it did not contribute to) may be better than its value says.
Three views of that uncertainty:

- :func:`condense`: the ranking with unjudged documents removed and the ranks closed up (Sakai
  2007's "condensed lists"), used for measures written with ``judged_only=True``;
- :func:`with_judged`: ``Judged@k`` beside every measure, k its cutoff;
- :func:`score_bounds`: each measure per query with unjudged documents counted non-relevant
  (``low``: the usual value) and counted relevant (``high``: the value on *augmented qrels* in
  which every unjudged document retrieved within the measure's cutoff and ``-M`` is judged
  relevant with grade :func:`upper_grade`). ``RBP_resid`` (kernels) is Moffat & Zobel's
  residual.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy
from irbench.engine.evaluator import TableEvaluator, drop_identical_ids
from irbench.engine.qrels import BoundQrels
from irbench.engine.ranking import condense, rank_run
from irbench.engine.scores import RunScores, results_table
from irbench.measures.spec import Measure, parse_measures

__all__ = [
    "Bounds",
    "augmented_qrels",
    "bounds_table",
    "condense",
    "judged_companion",
    "qrels_table",
    "score_bounds",
    "upper_depth",
    "upper_grade",
    "with_judged",
]

#: Families whose value does not depend on the ranking: no Judged@k companion.
_NO_RANKING = frozenset({"NumQ", "NumRel", "Judged"})


def judged_companion(measure: Measure) -> Measure | None:
    """``Judged@k`` for a measure cut at k; ``Judged`` (the whole ranking, after ``-M``) for a
    measure without a cutoff or with a recall-level cutoff (IPrec@0.5); None for measures that do
    not depend on the ranking (NumQ, NumRel) and for Judged itself."""
    if measure.name in _NO_RANKING:
        return None
    cutoff = measure.cutoff if measure.family.cutoff == "int" else None
    return Measure("Judged", cutoff)


def with_judged(measures: Any) -> list[Measure]:
    """``measures`` with each one's :func:`judged_companion` right after its first user (once).

    >>> [str(m) for m in with_judged(["nDCG@10", "RR@10", "AP"])]
    ['nDCG@10', 'Judged@10', 'RR@10', 'AP', 'Judged']
    """
    parsed = parse_measures(measures)
    out: list[Measure] = []
    for m in parsed:
        if m not in out:
            out.append(m)
        extra = judged_companion(m)
        if extra is not None and extra not in out and extra not in parsed:
            out.append(extra)
    return out


def upper_grade(measure: Measure, rel_level: int = 1) -> int:
    """Grade given to retrieved unjudged documents in the ``high`` bound of ``measure``.

    ``max(1, rel)``: the measure's own relevance threshold (``AP(rel=2)`` gives 2), else the
    ``-l`` level. The least grade that every measure counts as relevant: binary measures see a
    relevant document, graded ones (nDCG, ERR) the smallest positive gain. A larger grade would
    raise the graded bounds further but would assert more than "judged relevant".
    """
    rel = measure.get("rel") if "rel" in measure.family.params else None
    return max(1, int(rel if rel is not None else rel_level))


def upper_depth(measure: Measure, max_results: int | None = None) -> int | None:
    """How deep the ``high`` bound of ``measure`` judges unjudged documents relevant: its
    cutoff k (the documents it looks at), at most ``-M``; the whole ranking (within ``-M``) for
    a measure without an integer cutoff. Documents below k would change only the ideal ranking
    and R, so the bound of nDCG@10 would depend on how deep the run goes past rank 10."""
    k = measure.cutoff if measure.family.cutoff == "int" else None
    if k is None:
        return max_results
    return int(k) if max_results is None else min(int(k), max_results)


def qrels_table(qrels: BoundQrels) -> pa.Table:
    """The judgments of bound qrels as a QRELS_SCHEMA table (query_id, doc_id, relevance)."""
    return pa.table(
        {
            "query_id": pc.take(qrels.query_ids, from_numpy(qrels.qpos)),
            "doc_id": pc.take(qrels.doc_ids, from_numpy(qrels.dpos)),
            "relevance": from_numpy(qrels.grades.astype(np.int64)),
        }
    )


def _unjudged_retrieved(
    run: pa.Table, qrels: BoundQrels, max_results: int | None, compat: str
) -> pa.Table:
    """(query_id, doc_id) of the retrieved documents of qrels queries that are unjudged (absent
    from the qrels or judged negative), within the top ``max_results`` when given."""
    judged = qrels_table(qrels).filter(pc.greater_equal(pc.field("relevance"), 0))
    pairs = run.select(["query_id", "doc_id"])
    pairs = pairs.filter(pc.is_in(pairs.column("query_id"), value_set=qrels.query_ids))
    unjudged = pairs.join(
        judged.select(["query_id", "doc_id"]), keys=["query_id", "doc_id"], join_type="left anti"
    )
    if max_results is None or unjudged.num_rows == 0:
        return unjudged
    # Which of them are within -M: rank the run against qrels listing only these documents,
    # each graded with its own row number, so the ranking hands back the rows it kept.
    index = pa.table(
        {
            "query_id": unjudged.column("query_id"),
            "doc_id": unjudged.column("doc_id"),
            "relevance": pa.array(np.arange(unjudged.num_rows, dtype=np.int64)),
        }
    )
    index_qrels = BoundQrels.from_table(index, source="unjudged")
    kept = rank_run(run, index_qrels, max_results=max_results, compat=compat).grade
    return unjudged.take(from_numpy(np.sort(kept)))


def augmented_qrels(
    qrels: BoundQrels,
    run: pa.Table,
    grade: int,
    *,
    max_results: int | None = None,
    compat: str = "9",
) -> pa.Table:
    """The qrels with every retrieved unjudged document (within ``max_results``) of a qrels
    query judged ``grade``: a negative judgment is replaced, a missing one added. The qrels'
    query set is unchanged, so query positions stay the same."""
    if grade < 1:
        raise ValueError(f"the grade of unjudged documents must be >= 1 (got {grade})")
    added = _unjudged_retrieved(run, qrels, max_results, compat)
    base = qrels_table(qrels)
    if added.num_rows:  # replaced negative judgments go; the query keeps its added documents
        base = base.join(added, keys=["query_id", "doc_id"], join_type="left anti")
    extra = pa.table(
        {
            "query_id": added.column("query_id"),
            "doc_id": added.column("doc_id"),
            "relevance": pa.array(np.full(added.num_rows, grade, dtype=np.int64)),
        }
    )
    return pa.concat_tables([base.select(["query_id", "doc_id", "relevance"]), extra])


@dataclass
class Bounds:
    """A run's values with unjudged documents counted non-relevant (``low``, the usual
    :class:`RunScores`) and counted relevant (``high``, on :func:`augmented_qrels`); both hold
    the same queries in the same order."""

    low: RunScores
    high: RunScores
    grades: dict[Measure, int]  # grade given to unjudged documents, per measure
    depths: dict[Measure, int | None]  # judged relevant down to this rank (None: all)

    @property
    def run(self) -> str:
        return self.low.run


def score_bounds(ev: TableEvaluator, run: Any, name: str | None = None) -> Bounds:
    """Low and high values of every measure of ``ev`` for one run (read whole, in this process).

    ``high`` of a measure is its value, under ``ev``'s options, on :func:`augmented_qrels`
    where the unjudged documents retrieved down to :func:`upper_depth` (its cutoff, within
    ``-M``) are judged relevant with grade :func:`upper_grade`; one evaluation per distinct
    (grade, depth). It is the value on those qrels, not a bound of every measure: the added
    relevant documents raise R and the ideal DCG, so measures normalised by them (AP, R@k,
    Rprec, Bpref, nDCG when a query has fewer relevant documents than k) can come out lower
    than ``low`` for some queries. RBP's ``high`` leaves out the ``p^d`` tail that
    ``RBP_resid`` adds: RBP@k high + p^d = RBP@k + RBP_resid@k.
    """
    from irbench.io import read_run

    table = run if isinstance(run, pa.Table) else read_run(run, name=name)
    low = ev.score_table(table, name=name, origin=None if isinstance(run, pa.Table) else run)
    if ev.ignore_identical_ids:  # the documents the evaluation drops are not retrieved
        table = drop_identical_ids(table)
    grades = {m: upper_grade(m, ev.rel_level) for m in ev.measures}
    depths = {m: upper_depth(m, ev.max_results) for m in ev.measures}
    values: dict[Measure, np.ndarray] = {}
    aggregates: dict[Measure, float] = {}
    for grade, depth in dict.fromkeys((grades[m], depths[m]) for m in ev.measures):
        group = [m for m in ev.measures if (grades[m], depths[m]) == (grade, depth)]
        aug = augmented_qrels(ev.qrels, table, grade, max_results=depth, compat=ev.compat)
        high_ev = TableEvaluator(
            BoundQrels.from_table(aug, source="augmented qrels"),
            group,
            rel_level=ev.rel_level,
            judged_only=ev.judged_only,
            max_results=ev.max_results,
            complete=ev.complete,
            compat=ev.compat,
            ignore_identical_ids=ev.ignore_identical_ids,
        )
        with warnings.catch_warnings():  # the query-set warnings were given for `low`
            warnings.simplefilter("ignore")
            part = high_ev.score_table(table, name=low.run)
        if not part.query_ids.equals(low.query_ids):  # pragma: no cover - never: same queries
            raise RuntimeError("the augmented qrels changed the query set")
        values.update(part.values)
        aggregates.update(part.aggregates)  # as the evaluator aggregates (NumRel under -c)
    high = RunScores(
        run=low.run,
        query_ids=low.query_ids,
        values={m: values[m] for m in ev.measures},
        num_qrels_queries_missing=low.num_qrels_queries_missing,
        num_run_queries_not_in_qrels=low.num_run_queries_not_in_qrels,
    )
    high.aggregates = {m: aggregates[m] for m in ev.measures}
    return Bounds(low=low, high=high, grades=grades, depths=depths)


def bounds_table(bounds: Bounds, *, per_query: bool = True) -> pa.Table:
    """One row per measure and query (then ``query_id == "all"``): ``run``, ``measure``,
    ``query_id``, ``value`` (= ``low``), ``low``, ``high``."""

    low = results_table(bounds.low, per_query=per_query)
    high = results_table(bounds.high, per_query=per_query)
    return low.append_column("low", low.column("value")).append_column("high", high.column("value"))

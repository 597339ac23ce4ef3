"""Per-query diagnostics: the queries that moved most between two runs, and how far a measure
could move if tied scores were ordered differently.

Tie report: trec_eval orders tied scores by document id (descending), which is arbitrary. The
run is re-scored twice with the ties broken *relevant first* (higher grade first) and *relevant
last*; for the usual measures these are the best and worst orders, so the two values bound what
any tie order gives. Queries where the bounds differ have tied documents that straddle a
cutoff (or a relevant document's rank).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import to_numpy

if TYPE_CHECKING:
    from irbench.engine.evaluator import RunScores

__all__ = ["QueryDelta", "TieReport", "has_tied_scores", "tie_report", "top_deltas"]


@dataclass(frozen=True)
class QueryDelta:
    query_id: str
    delta: float  # run - baseline
    value: float
    baseline: float


def top_deltas(
    current: dict[str, float], baseline: dict[str, float], k: int = 5
) -> tuple[list[QueryDelta], list[QueryDelta]]:
    """``(most_improved, most_regressed)`` over the queries both have; at most ``k`` each, and
    only queries that actually moved (delta != 0)."""
    shared = [q for q in baseline if q in current]
    rows = [QueryDelta(q, current[q] - baseline[q], current[q], baseline[q]) for q in shared]
    up = sorted((r for r in rows if r.delta > 0), key=lambda r: (-r.delta, r.query_id))[:k]
    down = sorted((r for r in rows if r.delta < 0), key=lambda r: (r.delta, r.query_id))[:k]
    return up, down


@dataclass(frozen=True)
class TieReport:
    """Bounds of a measure over tie orders for one run: aggregate and per affected query."""

    run: str
    measure: str
    value: float  # trec_eval's order
    low: float  # ties broken relevant-last
    high: float  # ties broken relevant-first
    queries: dict[str, tuple[float, float]]  # query -> (low, high), only where low != high

    @property
    def spread(self) -> float:
        return self.high - self.low


def _reorder(run: pa.Table, qrels: Any, relevant_first: bool, compat: str = "9") -> pa.Table:
    """The run with scores replaced by a rank-derived score: sorted by score descending
    (compared as trec_eval ``compat`` does), ties by grade (descending if ``relevant_first``)
    then document id descending."""
    from irbench.engine.qrels import NONPOOL
    from irbench.engine.ranking import sort_scores

    qcol = run.column("query_id").combine_chunks()
    dcol = run.column("doc_id").combine_chunks()
    qpos = pc.index_in(qcol, value_set=qrels.query_ids)
    valid = pc.is_valid(qpos).to_numpy(zero_copy_only=False)
    q = pc.fill_null(qpos, 0).to_numpy().astype(np.int64)
    grades = np.full(len(q), NONPOOL, dtype=np.int64)
    if valid.any():
        rows = np.flatnonzero(valid)
        grades[rows] = qrels.lookup(q[rows], pc.take(dcol, pa.array(rows)))
    score = sort_scores(to_numpy(run.column("score")), compat)
    # doc id descending as the last key: rank of the doc id among the run's ids
    doc_rank = pc.rank(dcol, sort_keys="descending", tiebreaker="dense").to_numpy()
    qid_rank = pc.rank(qcol, sort_keys="ascending", tiebreaker="dense").to_numpy()
    g = -grades if relevant_first else grades
    order = np.lexsort((doc_rank, g, -score, qid_rank))
    n = len(order)
    # minus the position within the query: distinct and exact in float32 (up to 2^24 documents
    # a query), so the float32 order of trec_eval 9.0.x keeps it (a run-wide count would not)
    q_sorted = qid_rank[order]
    idx = np.arange(n, dtype=np.int64)
    head = np.r_[True, q_sorted[1:] != q_sorted[:-1]] if n else np.zeros(0, dtype=bool)
    start = np.maximum.accumulate(np.where(head, idx, 0)) if n else idx
    new_score = np.empty(n, dtype=np.float64)
    new_score[order] = -(idx - start).astype(np.float64)
    return pa.table({"query_id": qcol, "doc_id": dcol, "score": pa.array(new_score)})


def has_tied_scores(run: pa.Table, compat: str = "9") -> bool:
    """Whether two documents of one query have the same score, compared as trec_eval
    ``compat`` compares them (float32 in 9.0.x), in one sort of the run."""
    from irbench.engine.ranking import sort_scores

    if run.num_rows < 2:
        return False
    qcol = run.column("query_id").combine_chunks()
    q = to_numpy(pc.dictionary_encode(qcol).indices).astype(np.int64)
    score = sort_scores(to_numpy(run.column("score").combine_chunks()), compat)
    order = np.lexsort((score, q))
    q, score = q[order], score[order]
    return bool(((q[1:] == q[:-1]) & (score[1:] == score[:-1])).any())


def tie_report(
    evaluator: Any, run: pa.Table, name: str, base: RunScores | None = None
) -> list[TieReport]:
    """Tie bounds of every measure of ``evaluator`` for one run (see the module docstring).

    ``base`` is the run's own scores if already computed. A run without tied scores is not
    re-scored: both bounds are its value.
    """
    if base is None:
        base = evaluator.score_table(run, name=name)
    compat = evaluator.compat
    if has_tied_scores(run, compat):
        hi = evaluator.score_table(_reorder(run, evaluator.qrels, True, compat), name=name)
        lo = evaluator.score_table(_reorder(run, evaluator.qrels, False, compat), name=name)
    else:
        hi = lo = base
    qids = base.query_ids.to_pylist()
    out = []
    for m in evaluator.measures:
        a, b = lo.values[m], hi.values[m]
        lo_v, hi_v = np.minimum(a, b), np.maximum(a, b)
        moved = np.flatnonzero(~np.isclose(lo_v, hi_v, rtol=0, atol=1e-12))
        out.append(
            TieReport(
                run=name,
                measure=str(m),
                value=base.aggregates[m],
                low=min(lo.aggregates[m], hi.aggregates[m]),
                high=max(lo.aggregates[m], hi.aggregates[m]),
                queries={qids[i]: (float(lo_v[i]), float(hi_v[i])) for i in moved},
            )
        )
    return out

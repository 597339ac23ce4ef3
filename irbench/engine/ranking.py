"""Turning a run table into trec_eval's ranking: grouped by query, sorted, judged.

trec_eval (form_res_rels.c) sorts each query's documents by score descending and breaks ties by
document id *descending* in byte order (``strcmp(p2, p1)``); the file's rank column is ignored.
``-M n`` keeps the first n documents after that sort, and ``-J`` then drops documents that are
not judged (not in the qrels, or judged with a negative grade), closing the gaps in the ranks.

The common case (a file already grouped by query and sorted by score) costs a few linear passes;
only tied scores out of document order are re-sorted, and only those rows. Unsorted input takes
one ``lexsort``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench.engine.fingerprint import fingerprint
from irbench.engine.qrels import NONPOOL, UNJUDGED, BoundQrels
from irbench.engine.segments import BoolArray, IntArray, positions_in_segment
from irbench.errors import DuplicateEntryError, InputFormatError


@dataclass
class Ranking:
    """One run in trec_eval's order, restricted to queries that are in the qrels.

    Arrays are aligned, one entry per retrieved document, grouped by ``qpos`` ascending and
    ordered by rank within a query.
    """

    qpos: IntArray  # position of the query in BoundQrels.query_ids
    rank: IntArray  # 1-based rank after -M / -J
    grade: IntArray  # qrels grade, NONPOOL (-1) or UNJUDGED (-2)
    present: BoolArray  # per qrels query: is it in the run at all (before -J)?
    num_queries_not_in_qrels: int


def _to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr.to_numpy(zero_copy_only=False)


def _order(qpos: IntArray, score: np.ndarray) -> IntArray | None:
    """Permutation grouping rows by qpos ascending and sorting by score descending.

    Returns None when the rows are already in that order.
    """
    n = qpos.size
    if n < 2:
        return None
    q_step = np.diff(qpos)
    s_step = np.diff(score)
    if not (q_step < 0).any() and not ((q_step == 0) & (s_step > 0)).any():
        return None
    # grouped and sorted inside each group, but groups out of qpos order: a stable sort on
    # qpos alone keeps the within-group order (timsort is linear on such runs).
    boundaries = q_step != 0
    if not ((~boundaries) & (s_step > 0)).any():
        seg_q = qpos[np.r_[True, boundaries]]
        if np.unique(seg_q).size == seg_q.size:
            return np.argsort(qpos, kind="stable")
    return np.lexsort((-score, qpos))


def _fix_ties(qpos: IntArray, score: np.ndarray, docs: pa.Array) -> IntArray | None:
    """Permutation putting tied (query, score) rows in document-id descending order, or None."""
    tie = (qpos[1:] == qpos[:-1]) & (score[1:] == score[:-1])
    if not tie.any():
        return None
    pairs = np.flatnonzero(tie)
    left = pc.take(docs, pa.array(pairs))
    right = pc.take(docs, pa.array(pairs + 1))
    if pc.all(pc.greater_equal(left, right)).as_py():
        return None
    # every row that belongs to a tie group, with the id of its group
    in_tie = np.zeros(qpos.size, dtype=bool)
    in_tie[pairs] = True
    in_tie[pairs + 1] = True
    rows = np.flatnonzero(in_tie)
    group = np.cumsum(np.r_[True, ~tie[rows[:-1]] | (rows[1:] != rows[:-1] + 1)])
    sub = pa.table({"g": group, "d": pc.take(docs, pa.array(rows))})
    idx = pc.sort_indices(sub, sort_keys=[("g", "ascending"), ("d", "descending")]).to_numpy()
    perm = np.arange(qpos.size, dtype=np.int64)
    perm[rows] = rows[idx]
    return perm


def _check_duplicates(qpos: IntArray, docs: pa.Array, source: str) -> None:
    """Refuse a run that retrieves the same document twice for a query (trec_eval does)."""
    key = fingerprint(docs)
    key ^= qpos.astype(np.uint64) * np.uint64(0x94D049BB133111EB)
    sk = np.sort(key)  # a plain sort is several times cheaper than argsort
    if not (sk[1:] == sk[:-1]).any():
        return
    order = np.argsort(key, kind="stable")
    sk = key[order]
    cand = np.flatnonzero(sk[1:] == sk[:-1])
    for c in cand[:1000]:  # fingerprint collisions are confirmed on the strings
        i, j = int(order[c]), int(order[c + 1])
        if qpos[i] == qpos[j] and docs[i].as_py() == docs[j].as_py():
            doc = docs[i].as_py()
            err = DuplicateEntryError(
                f"document {doc!r} is retrieved twice for one query",
                path=source,
                hint="a run lists each document at most once per query; trec_eval refuses "
                "such runs and other tools silently keep one of the scores",
            )
            err.doc_id = doc
            err.qpos = int(qpos[i])
            raise err


def rank_run(
    run: pa.Table,
    qrels: BoundQrels,
    *,
    max_results: int | None = None,
    judged_only: bool = False,
    source: str = "run",
) -> Ranking:
    """Rank ``run`` (RUN_SCHEMA) against ``qrels`` the way trec_eval 9.0.x does."""
    qcol = run.column("query_id")
    qpos_all = pc.index_in(qcol, value_set=qrels.query_ids)
    valid = pc.is_valid(qpos_all)
    n_invalid = len(qpos_all) - pc.sum(valid.cast(pa.int64())).as_py() if len(qpos_all) else 0
    if n_invalid:
        dropped = pc.filter(qcol, pc.invert(valid))
        n_not_in_qrels = len(pc.unique(dropped))
        keep = valid
        qpos_arr = pc.filter(qpos_all, keep)
        docs = pc.filter(run.column("doc_id"), keep)
        score = pc.filter(run.column("score"), keep)
    else:
        n_not_in_qrels = 0
        qpos_arr, docs, score = qpos_all, run.column("doc_id"), run.column("score")
    qpos = _to_numpy(qpos_arr).astype(np.int64, copy=False)
    docs = docs.combine_chunks() if isinstance(docs, pa.ChunkedArray) else docs
    scores = _to_numpy(score).astype(np.float64, copy=False)
    if np.isnan(scores).any():
        raise InputFormatError("a score is NaN; scores must be numbers", path=source)

    present = np.bincount(qpos, minlength=qrels.num_queries) > 0
    _check_duplicates(qpos, docs, source)

    order = _order(qpos, scores)
    if order is not None:
        qpos, scores = qpos[order], scores[order]
        docs = pc.take(docs, pa.array(order))
    fix = _fix_ties(qpos, scores, docs)
    if fix is not None:
        docs = pc.take(docs, pa.array(fix))  # qpos and scores are unchanged by a tie fix

    rank = positions_in_segment(qpos, qrels.num_queries) + 1
    if max_results is not None:
        keep_m = rank <= max_results
        if not keep_m.all():
            qpos, rank = qpos[keep_m], rank[keep_m]
            docs = pc.filter(docs, pa.array(keep_m))
    grade = qrels.lookup(qpos, docs)
    if judged_only:
        judged = grade >= 0
        qpos, grade = qpos[judged], grade[judged]
        rank = positions_in_segment(qpos, qrels.num_queries) + 1
    return Ranking(
        qpos=qpos,
        rank=rank,
        grade=grade,
        present=present,
        num_queries_not_in_qrels=n_not_in_qrels,
    )


__all__ = ["NONPOOL", "UNJUDGED", "Ranking", "rank_run"]

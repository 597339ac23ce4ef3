"""Turning a run table into trec_eval's ranking: grouped by query, sorted, judged.

trec_eval (form_res_rels.c) sorts each query's documents by score descending and breaks ties by
document id *descending* in byte order (``strcmp(p2, p1)``); the file's rank column is ignored.
``-M n`` keeps the first n documents after that sort, and ``-J`` then drops documents that are
not judged (not in the qrels, or judged with a negative grade), closing the gaps in the ranks.

Every measure depends on the documents the qrels do not list only through the ranks of the
listed ones and the number retrieved, so the ranking keeps only the listed rows (a few per
query) with their exact ranks, plus the count per query. A file already grouped by query and
sorted by score (what rankers write) is never permuted: a listed row's rank is the position of
its tie group in the query plus its place among the tied documents in id order, and only tie
groups that hold a listed row are sorted by id. Any other order takes one ``lexsort`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, to_numpy
from irbench.engine.fingerprint import pair_keys, string_hashes
from irbench.engine.qrels import NONPOOL, UNJUDGED, BoundQrels
from irbench.engine.segments import (
    BoolArray,
    IntArray,
    first_in_segment,
    positions_in_segment,
)
from irbench.errors import DuplicateEntryError, InputFormatError


@dataclass
class Ranking:
    """One run in trec_eval's order, restricted to qrels queries and to listed documents.

    The row arrays hold one entry per retrieved document that the qrels list for its query
    (any grade, negative included), grouped by ``qpos`` ascending and ordered by rank within a
    query; the documents the qrels do not list are counted in ``num_ret`` only.
    """

    qpos: IntArray  # position of the query in BoundQrels.query_ids
    rank: IntArray  # 1-based rank among all retrieved documents, after -M / -J
    grade: IntArray  # qrels grade, or UNJUDGED for a negative grade
    num_ret: IntArray  # per qrels query: documents retrieved, after -M / -J
    present: BoolArray  # per qrels query: is it in the run at all (before -J)?
    num_queries_not_in_qrels: int


def _order(qpos: IntArray, score: np.ndarray) -> IntArray | None:
    """A permutation making every query's rows consecutive and sorted by score descending, or
    None when they already are (queries may come in any order)."""
    n = qpos.size
    if n < 2:
        return None
    same_q = qpos[1:] == qpos[:-1]
    if not (same_q & (score[1:] > score[:-1])).any():
        heads = np.flatnonzero(np.r_[True, ~same_q])
        firsts = np.sort(qpos[heads])  # (not np.unique: it imports numpy.ma, 20 ms at start)
        if not (firsts[1:] == firsts[:-1]).any():
            return None
    return np.lexsort((-score, qpos))


def _query_positions(qcol: pa.Array | pa.ChunkedArray, qrels: BoundQrels) -> tuple[IntArray, int]:
    """``qpos`` of every row (-1 if its query is not in the qrels) and how many such queries.

    Runs come grouped by query, so only the first row of each run of equal ids (found by one
    vectorised comparison of neighbours) is looked up in the qrels' query ids.
    """
    n = len(qcol)
    if n == 0:
        return np.empty(0, dtype=np.int64), 0
    change = to_numpy(pc.not_equal(qcol.slice(1), qcol.slice(0, n - 1)))
    heads = np.flatnonzero(np.concatenate(([True], change)))
    head_ids = pc.take(qcol, from_numpy(heads))
    head_q = qrels.query_positions(head_ids)
    qpos = np.repeat(head_q, np.diff(np.append(heads, n)))
    outside = np.flatnonzero(head_q < 0)
    n_outside = len(pc.unique(pc.take(head_ids, from_numpy(outside)))) if outside.size else 0
    return qpos, n_outside


def _check_duplicates(
    qpos: IntArray, key: np.ndarray, docs: pa.Array | pa.ChunkedArray, rows: IntArray, source: str
) -> None:
    """Refuse a run that retrieves the same document twice for a query (trec_eval does).

    ``key`` is ``pair_keys(qpos, fingerprint)``; equal keys are confirmed on the strings.
    """
    sk = np.sort(key)  # a plain sort is several times cheaper than argsort
    if not (sk[1:] == sk[:-1]).any():
        return
    order = np.argsort(key, kind="stable")
    sk = key[order]
    cand = np.flatnonzero(sk[1:] == sk[:-1])
    for c in cand[:1000]:  # fingerprint collisions are confirmed on the strings
        i, j = int(order[c]), int(order[c + 1])
        doc = docs[int(rows[i])].as_py()
        if qpos[i] == qpos[j] and doc == docs[int(rows[j])].as_py():
            err = DuplicateEntryError(
                f"document {doc!r} is retrieved twice for one query",
                path=source,
                hint="a run lists each document at most once per query; trec_eval refuses "
                "such runs and other tools silently keep one of the scores",
            )
            err.doc_id = doc
            err.qpos = int(qpos[i])
            raise err


def _tie_groups(qpos: IntArray, score: np.ndarray) -> IntArray:
    """First row of every run of rows with the same query and score (rows in rank order)."""
    n = qpos.size
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(qpos[1:], qpos[:-1], out=new[1:])
    new[1:] |= score[1:] != score[:-1]
    return np.flatnonzero(new)


def _listed_ranks(
    qpos: IntArray,
    score: np.ndarray,
    listed: IntArray,
    docs: pa.Array | pa.ChunkedArray,
    rows: IntArray,
) -> IntArray:
    """trec_eval rank of each row in ``listed``, in a run whose queries are consecutive and
    sorted by score descending (ties in any order).

    A row's rank is the number of rows before its tie group in its query, plus its position
    among the tied rows ordered by document id descending (byte order), plus one. Only the tie
    groups holding a listed row are sorted, on the id strings themselves.
    """
    starts = _tie_groups(qpos, score)
    ends = np.append(starts, qpos.size)[1:]
    group = np.searchsorted(starts, listed, side="right") - 1
    lo = starts[group]
    heads = first_in_segment(qpos)
    query_start = heads[np.searchsorted(heads, listed, side="right") - 1]
    rank = lo - query_start + 1
    tied = np.flatnonzero(ends[group] - lo > 1)
    if not tied.size:
        return rank
    groups = np.unique(group[tied])
    g_lo, g_size = starts[groups], ends[groups] - starts[groups]
    g_first = np.cumsum(g_size) - g_size  # where each group begins in `members`
    member_group = np.repeat(np.arange(groups.size), g_size)
    members = np.arange(member_group.size, dtype=np.int64) + np.repeat(g_lo - g_first, g_size)
    by_id = pc.sort_indices(
        pa.table(
            {
                "g": from_numpy(member_group),
                "d": pc.take(docs, from_numpy(rows[members])),
            }
        ),
        [("g", "ascending"), ("d", "descending")],
    )
    order = to_numpy(by_id)
    within = np.empty(members.size, dtype=np.int64)
    within[order] = np.arange(members.size, dtype=np.int64) - g_first[member_group[order]]
    at = np.searchsorted(members, listed[tied])
    rank[tied] += within[at]
    return rank


def sort_scores(scores: np.ndarray, compat: str = "9") -> np.ndarray:
    """The scores trec_eval sorts on: rounded to C ``float`` (float32) in 9.0.x, which stores
    ``float sim`` (trec_format.h, form_res_rels.c), so scores equal in float32 tie and fall to
    the document-id tie-break; C ``double`` in 10.0 (``compat="10"``)."""
    if compat == "10":
        return scores.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):  # beyond float32's range a score is +-inf, as in C
        return scores.astype(np.float32)


def rank_run(
    run: pa.Table,
    qrels: BoundQrels,
    *,
    max_results: int | None = None,
    judged_only: bool = False,
    source: str = "run",
    compat: str = "9",
) -> Ranking:
    """Rank ``run`` (RUN_SCHEMA) against ``qrels`` the way trec_eval 9.0.x does (scores
    compared as float32; ``compat="10"``: as doubles, as trec_eval 10.0 does).

    Strings are touched a fixed number of times: neighbours compared once for query runs,
    hashed once for document keys, and the ids of tied listed rows sorted; everything else is
    numpy on integer keys.
    """
    qcol, docs = run.column("query_id"), run.column("doc_id")  # Array or ChunkedArray
    scores = to_numpy(run.column("score"))
    if np.isnan(scores).any():
        raise InputFormatError("a score is NaN; scores must be numbers", path=source)
    scores = sort_scores(scores, compat)
    nq = qrels.num_queries
    qpos, n_not_in_qrels = _query_positions(qcol, qrels)
    doc_hash = string_hashes(docs)
    rows = np.arange(qpos.size, dtype=np.int64)  # row of the run table behind each entry
    if n_not_in_qrels:
        kept = np.flatnonzero(qpos >= 0)
        qpos, scores, rows, doc_hash = qpos[kept], scores[kept], kept, doc_hash[kept]

    counts = np.bincount(qpos, minlength=nq)
    pair = pair_keys(qpos, doc_hash)  # one key per (query, document)
    del doc_hash
    _check_duplicates(qpos, pair, docs, rows, source)
    grade = qrels.lookup_hashed(qpos, pair, docs, rows)
    del pair

    order = _order(qpos, scores)
    if order is not None:
        qpos, scores, rows, grade = qpos[order], scores[order], rows[order], grade[order]
    listed = np.flatnonzero(grade != NONPOOL)
    rank = _listed_ranks(qpos, scores, listed, docs, rows) if listed.size else listed
    qpos, grade = qpos[listed], grade[listed]
    num_ret = counts
    if max_results is not None:
        num_ret = np.minimum(counts, max_results)
        keep_m = rank <= max_results
        qpos, rank, grade = qpos[keep_m], rank[keep_m], grade[keep_m]
    by_rank = np.lexsort((rank, qpos))
    qpos, rank, grade = qpos[by_rank], rank[by_rank], grade[by_rank]
    if judged_only:
        judged = grade >= 0
        qpos, grade = qpos[judged], grade[judged]
        rank = positions_in_segment(qpos, nq) + 1
        num_ret = np.bincount(qpos, minlength=nq)
    return Ranking(
        qpos=qpos,
        rank=rank,
        grade=grade,
        num_ret=num_ret,
        present=counts > 0,
        num_queries_not_in_qrels=n_not_in_qrels,
    )


__all__ = ["NONPOOL", "UNJUDGED", "Ranking", "rank_run", "sort_scores"]


def condense(ranking: Ranking, num_queries: int) -> Ranking:
    """The ranking without its unjudged rows (negative grades), ranks closed up per query.

    ``ranking`` comes from :func:`~irbench.engine.ranking.rank_run` without ``judged_only``
    (rows grouped by query, in rank order, ``-M`` already applied). The result equals
    ``rank_run(..., judged_only=True)``: trec_eval applies ``-M`` first, then ``-J``.
    """
    judged = ranking.grade >= 0
    qpos = ranking.qpos[judged]
    return replace(
        ranking,
        qpos=qpos,
        grade=ranking.grade[judged],
        rank=positions_in_segment(qpos, num_queries) + 1,
        num_ret=np.bincount(qpos, minlength=num_queries),
    )

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
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, single_chunk, to_numpy
from irbench.engine.fingerprint import pair_keys, string_keys
from irbench.engine.qrels import NONPOOL, UNJUDGED, BoundQrels
from irbench.engine.segments import BoolArray, IntArray, positions_in_segment
from irbench.errors import DuplicateEntryError, InputFormatError


class OrderKeys(NamedTuple):
    """The ``prefix`` and ``length`` of :class:`~irbench.engine.fingerprint.StringKeys`: what
    the tie fix needs (the fingerprint is only needed once, for the pair keys)."""

    prefix: npt.NDArray[np.uint64]
    length: IntArray

    def take(self, idx: IntArray) -> OrderKeys:
        """The keys of the strings at ``idx``."""
        return OrderKeys(self.prefix[idx], self.length[idx])


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
        heads = np.flatnonzero(np.r_[True, boundaries])
        seg_q = qpos[heads]
        if np.unique(seg_q).size == seg_q.size:
            return _segment_permutation(heads, seg_q, n)
    return np.lexsort((-score, qpos))


def _segment_permutation(heads: IntArray, seg_q: IntArray, n: int) -> IntArray:
    """Permutation listing whole segments by ``seg_q`` ascending, each segment kept intact.

    ``heads`` are the first rows of the segments (ascending, ``heads[0] == 0``) and ``seg_q``
    their distinct keys. Only the segments are sorted; rows are placed by one ``repeat``, so
    the cost is linear in ``n`` (a stable argsort of all rows was the dearest step here).
    """
    lengths = np.diff(np.append(heads, n))
    by_q = np.argsort(seg_q)
    new_heads, new_lengths = heads[by_q], lengths[by_q]
    out_starts = np.cumsum(new_lengths) - new_lengths
    return np.arange(n, dtype=np.int64) + np.repeat(new_heads - out_starts, new_lengths)


def _query_positions(qcol: pa.Array, qrels: BoundQrels) -> tuple[IntArray, int]:
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
    found = pc.index_in(head_ids, value_set=qrels.query_ids)
    head_q = to_numpy(found, null=-1).astype(np.int64, copy=False)
    qpos = np.repeat(head_q, np.diff(np.append(heads, n)))
    outside = np.flatnonzero(head_q < 0)
    n_outside = len(pc.unique(pc.take(head_ids, from_numpy(outside)))) if outside.size else 0
    return qpos, n_outside


def _fix_ties(
    qpos: IntArray, score: np.ndarray, keys: OrderKeys, docs: pa.Array, rows: IntArray
) -> IntArray | None:
    """Permutation putting tied (query, score) rows in document-id descending order, or None.

    Tied rows are ordered by their big-endian 8-byte prefixes, which is ``strcmp`` order
    whenever the prefixes differ; only groups where two ids share a prefix (ids longer than
    eight bytes, or with NUL bytes) compare the strings.
    """
    tie = (qpos[1:] == qpos[:-1]) & (score[1:] == score[:-1])
    pairs = np.flatnonzero(tie)
    if not pairs.size:
        return None
    pl, pr = keys.prefix[pairs], keys.prefix[pairs + 1]
    ll, lr = keys.length[pairs], keys.length[pairs + 1]
    unsure = (pl == pr) & (ll > 8) & (lr > 8)  # same 8-byte prefix: compare the strings
    if not ((pl < pr) | ((pl == pr) & (ll < lr)) | unsure).any():
        return None  # every tie is already in doc-id descending order
    in_tie = np.zeros(qpos.size, dtype=bool)
    in_tie[pairs] = True
    in_tie[pairs + 1] = True
    members = np.flatnonzero(in_tie)
    group = np.cumsum(np.r_[True, ~tie[members[:-1]] | (members[1:] != members[:-1] + 1)])
    idx = _order_within_groups(group, keys.prefix[members])
    g, p = group[idx], keys.prefix[members][idx]
    unsure = (g[1:] == g[:-1]) & (p[1:] == p[:-1])  # same 8-byte prefix: compare the strings
    if unsure.any():
        redo = np.flatnonzero(np.isin(g, np.unique(g[1:][unsure])))
        sub = pa.table(
            {
                "g": from_numpy(g[redo]),
                "d": pc.take(docs, from_numpy(rows[members[idx[redo]]])),
            }
        )
        by_string = to_numpy(pc.sort_indices(sub, [("g", "ascending"), ("d", "descending")]))
        idx[redo] = idx[redo][by_string]
    perm = np.arange(qpos.size, dtype=np.int64)
    perm[members] = members[idx]
    return perm


def _bit_runs(mask: int) -> list[tuple[int, int]]:
    """``(lowest bit, length)`` of each run of consecutive set bits of ``mask``, low to high."""
    runs, bit = [], 0
    while mask >> bit:
        if not (mask >> bit) & 1:
            bit += 1
            continue
        length = 0
        while (mask >> (bit + length)) & 1:
            length += 1
        runs.append((bit, length))
        bit += length
    return runs


def _compact_bits(values: npt.NDArray[np.uint64], mask: int) -> npt.NDArray[np.uint64]:
    """Gather the bits of ``values`` selected by ``mask`` into the low bits (like BMI2 ``pext``).

    When ``mask`` covers every bit in which the values differ, the result orders the values
    exactly as the values themselves (the dropped bits are equal in all of them).
    """
    out = np.zeros(values.size, dtype=np.uint64)
    width = 0
    for low, length in _bit_runs(mask):
        part = (values >> np.uint64(low)) & np.uint64((1 << length) - 1)
        if width:
            part <<= np.uint64(width)
        out |= part
        width += length
    return out


def _order_within_groups(group: IntArray, prefix: npt.NDArray[np.uint64]) -> IntArray:
    """Permutation sorting by ``group`` ascending, then ``prefix`` descending.

    ``group`` is non-decreasing (1, 2, ...). When the group number, the bits in which the
    prefixes differ and the position inside the group fit in 64 bits together, one ``np.sort``
    of a packed key does it (no ``argsort``: the position is in the key); otherwise a
    ``lexsort``. Rows with equal prefixes in a group may come in either order.
    """
    n = group.size
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.append(starts, n))
    varying = int(np.bitwise_or.reduce(prefix ^ prefix[0]))
    g_bits = int(group[-1]).bit_length()
    p_bits = varying.bit_count()
    w_bits = max(int(sizes.max()) - 1, 1).bit_length()
    if g_bits + p_bits + w_bits > 64:
        return np.lexsort((~prefix, group))
    within = np.arange(n, dtype=np.int64) - np.repeat(starts, sizes)
    key = _compact_bits(~prefix, varying)
    key <<= np.uint64(w_bits)
    key |= within.astype(np.uint64)
    key |= group.astype(np.uint64) << np.uint64(p_bits + w_bits)
    key.sort()
    g = (key >> np.uint64(p_bits + w_bits)).astype(np.int64)
    w = (key & np.uint64((1 << w_bits) - 1)).astype(np.int64)
    return starts[g - 1] + w


def _check_duplicates(
    qpos: IntArray, key: np.ndarray, docs: pa.Array, rows: IntArray, source: str
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


def rank_run(
    run: pa.Table,
    qrels: BoundQrels,
    *,
    max_results: int | None = None,
    judged_only: bool = False,
    source: str = "run",
) -> Ranking:
    """Rank ``run`` (RUN_SCHEMA) against ``qrels`` the way trec_eval 9.0.x does.

    Strings are touched a fixed number of times: neighbours compared once for query runs,
    hashed once for document keys; everything after that is numpy on integer keys.
    """
    qcol, docs = single_chunk(run.column("query_id")), single_chunk(run.column("doc_id"))
    scores = to_numpy(run.column("score")).astype(np.float64, copy=False)
    if np.isnan(scores).any():
        raise InputFormatError("a score is NaN; scores must be numbers", path=source)
    qpos, n_not_in_qrels = _query_positions(qcol, qrels)
    keys = string_keys(docs)
    rows = np.arange(qpos.size, dtype=np.int64)  # row of the run table behind each entry
    if n_not_in_qrels:
        kept = np.flatnonzero(qpos >= 0)
        qpos, scores, rows, keys = qpos[kept], scores[kept], kept, keys.take(kept)

    present = np.bincount(qpos, minlength=qrels.num_queries) > 0
    pair = pair_keys(qpos, keys.hash)  # one key per (query, document)
    _check_duplicates(qpos, pair, docs, rows, source)
    order_keys = OrderKeys(keys.prefix, keys.length)
    del keys

    order = _order(qpos, scores)  # permutations of the arrays above, composed into `moved`
    moved = order
    if order is not None:
        qpos, scores, rows = qpos[order], scores[order], rows[order]
        order_keys = order_keys.take(order)
    fix = _fix_ties(qpos, scores, order_keys, docs, rows)
    del order_keys
    if fix is not None:  # qpos and scores are unchanged by a tie fix
        rows = rows[fix]
        moved = fix if moved is None else moved[fix]
    if moved is not None:
        pair = pair[moved]

    rank = positions_in_segment(qpos, qrels.num_queries) + 1
    if max_results is not None:
        keep_m = rank <= max_results
        if not keep_m.all():
            qpos, rank, rows, pair = qpos[keep_m], rank[keep_m], rows[keep_m], pair[keep_m]
    grade = qrels.lookup_hashed(qpos, pair, docs, rows)
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

"""Per-query wall time of retrieval and re-ranking, as ``irbench run`` records it.

Rankers work on batches of queries (one sparse product or one faiss search per block), so a
single query's time is not observable inside a batch. The runner therefore calls the ranker
on batches of ``batch_size`` queries, times each call with :func:`time.perf_counter`, and
gives each query of a batch **the batch's time divided by its number of queries**. With
``batch_size=1`` that is the query's own time (what re-ranking papers report as latency per
query); with one batch for all queries every query gets the mean. The first query is run
once untimed before the clock starts, so loading a model or building a lazy search structure
is not charged to it.

The run is the same however it is batched for BM25 and for re-ranking (every score depends on
its own query only); dense retrieval with ``search_kernel=blas`` may differ in the last bit
of a score between batch sizes (see :class:`irbench.rankers.dense.DenseRanker`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench.errors import RankerError
from irbench.io.schema import RUN_SCHEMA
from irbench.rankers.base import NULL_PROGRESS, Progress

__all__ = ["QueryTimes", "timed_rerank", "timed_retrieve"]

_clock = time.perf_counter  # module-level, so a test can substitute a fake clock


@dataclass
class QueryTimes:
    """Seconds per query (batch time / batch size) and, for re-ranking, candidates scored."""

    query_ids: list[str]
    seconds: np.ndarray
    candidates: np.ndarray | None
    batch_size: int

    @property
    def method(self) -> str:
        if self.batch_size == 1:
            return "wall time of each query, processed on its own (time.perf_counter)"
        return (
            f"per-query time = batch time / batch size, batches of {self.batch_size} queries "
            "(time.perf_counter)"
        )

    def metadata(self, file: str | None) -> dict[str, Any]:
        """The sidecar's ``latency`` section (summary plus where the per-query file is)."""
        from irbench.io.latency import summarize

        stats = summarize(self.seconds, self.candidates, file or "")
        out: dict[str, Any] = {
            "file": file,
            "method": self.method,
            "batch_size": self.batch_size,
            "warmup": "first query run once untimed",
            "queries": stats.queries,
            "mean_s": stats.mean_s,
            "median_s": stats.median_s,
            "p95_s": stats.p95_s,
            "throughput_qps": stats.throughput_qps,
        }
        if self.candidates is not None:
            out["candidates_mean"] = stats.candidates_mean
        return out


def _batch(batch_size: int | None, n: int) -> int:
    if batch_size is None or batch_size == 0:
        return max(n, 1)
    if batch_size < 0:
        raise RankerError(f"the latency batch size must be >= 0 (0: one batch), got {batch_size}")
    return batch_size


def timed_retrieve(
    ranker: Any,
    queries: pa.Table,
    k: int,
    batch_size: int | None = None,
    progress: Progress = NULL_PROGRESS,
) -> tuple[pa.Table, QueryTimes]:
    """``ranker.retrieve`` over batches of *batch_size* queries (``None``/0: one batch), timed."""
    n = queries.num_rows
    size = _batch(batch_size, n)
    if n == 0 or size >= n:
        if n:
            ranker.retrieve(queries.slice(0, 1), k, NULL_PROGRESS)  # warm-up, untimed
        start = _clock()
        table = ranker.retrieve(queries, k, progress)
        elapsed = _clock() - start
        qids = [str(q) for q in queries.column("query_id").to_pylist()]
        return table, QueryTimes(qids, np.full(n, elapsed / max(n, 1)), None, max(n, 1))
    ranker.retrieve(queries.slice(0, 1), k, NULL_PROGRESS)
    seconds = np.empty(n, dtype=np.float64)
    parts = []
    with progress.task(f"{ranker.name}: retrieving, timed per {size}", total=n) as task:
        for lo in range(0, n, size):
            part = queries.slice(lo, size)
            start = _clock()
            parts.append(ranker.retrieve(part, k, NULL_PROGRESS))
            seconds[lo : lo + part.num_rows] = (_clock() - start) / part.num_rows
            task.advance(part.num_rows)
    qids = [str(q) for q in queries.column("query_id").to_pylist()]
    return pa.concat_tables(parts), QueryTimes(qids, seconds, None, size)


def timed_rerank(
    ranker: Any,
    queries: pa.Table,
    run: pa.Table,
    depth: int,
    batch_size: int | None = 1,
    progress: Progress = NULL_PROGRESS,
) -> tuple[pa.Table, QueryTimes]:
    """:func:`irbench.rankers.rerank.rerank` over batches of the run's queries, timed.

    Each batch's candidates are a zero-copy slice of the whole run's candidate list (grouped
    by query), and its queries table holds the batch's queries only, so a batch's time covers
    the re-ranker's work on those queries and nothing else.
    """
    from irbench.rankers.fusion import cut
    from irbench.rankers.rerank import candidates, rerank

    pool = candidates(run, depth)
    qcol = pool.column("query_id").combine_chunks()
    n_rows = pool.num_rows
    if n_rows:
        change = ~np.asarray(pc.equal(qcol[1:], qcol[:-1]).to_numpy(zero_copy_only=False))
        heads = np.flatnonzero(np.r_[True, change])
    else:
        heads = np.zeros(0, dtype=np.int64)
    bounds = np.append(heads, n_rows)
    counts = np.diff(bounds)
    nq = int(heads.size)
    qids = [str(q) for q in qcol.take(pa.array(heads)).to_pylist()] if nq else []
    size = _batch(batch_size, nq)
    if nq:
        first = pool.slice(0, int(counts[0]))
        rerank(ranker, _queries_of(queries, qids[:1]), first, depth=depth)  # warm-up, untimed
    seconds = np.empty(nq, dtype=np.float64)
    parts = []
    with progress.task(f"{ranker.name}: re-ranking, timed per {size}", total=nq) as task:
        for lo in range(0, nq, size):
            hi = min(lo + size, nq)
            part = pool.slice(int(bounds[lo]), int(bounds[hi] - bounds[lo]))
            part_queries = _queries_of(queries, qids[lo:hi])
            start = _clock()
            parts.append(rerank(ranker, part_queries, part, depth=depth))
            seconds[lo:hi] = (_clock() - start) / (hi - lo)
            task.advance(hi - lo)
    table = cut(pa.concat_tables(parts), None) if parts else RUN_SCHEMA.empty_table()
    return table, QueryTimes(qids, seconds, counts.astype(np.int64), size)


def _queries_of(queries: pa.Table, qids: list[str]) -> pa.Table:
    """The rows of *queries* whose id is in *qids* (every id must be there)."""
    keep = pc.is_in(queries.column("query_id"), value_set=pa.array(qids, pa.string()))
    found = queries.filter(keep)
    if found.num_rows < len(qids):
        have = set(found.column("query_id").to_pylist())
        missing = [q for q in qids if q not in have]
        raise RankerError(
            f"{len(missing)} queries of the run have no text to re-rank with (for example "
            f"{missing[0]!r}); pass the queries of the dataset the run is for"
        )
    return found

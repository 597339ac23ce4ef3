"""Splitting a run by query into shards: every query's rows in exactly one shard.

A shard is scored with :meth:`~irbench.engine.Evaluator.score_part` and the parts merged with
:meth:`~irbench.engine.evaluator.PartialScores.merge`; because a query never straddles two shards
the merged values are bit-identical to scoring the whole run.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, to_numpy

__all__ = ["QueryShard", "iter_query_shards", "shard_count"]


@dataclass(frozen=True)
class QueryShard:
    """Rows of some of a run's queries. ``index`` is 1-based, ``total`` the number of shards,
    ``first_query``/``last_query`` the first and last query id in file order."""

    index: int
    total: int
    table: pa.Table
    first_query: str
    last_query: str
    num_queries: int

    @property
    def label(self) -> str:
        """``shard 3 of 8 (queries 'q1'..'q99')``: how errors name the shard."""
        return (
            f"shard {self.index} of {self.total} (queries {self.first_query!r}.."
            f"{self.last_query!r})"
        )


def shard_count(nbytes: int, shard_size: int) -> int:
    """Number of shards for ``nbytes`` of run at most ``shard_size`` bytes each (at least 1)."""
    return max(1, math.ceil(nbytes / shard_size))


def iter_query_shards(run: pa.Table, n_shards: int) -> Iterator[QueryShard]:
    """Split ``run`` (RUN_SCHEMA) into at most ``n_shards`` shards of whole queries.

    Queries are kept in order of first appearance and cut into contiguous groups of about
    ``num_rows / n_shards`` rows, so shards are balanced by rows, not by queries. Fewer shards
    come out when there are fewer queries than ``n_shards``. Each shard's rows keep file order.
    Vectorised: one ``unique``/``index_in`` over the query column and one ``take`` per shard.
    """
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1 (got {n_shards})")
    qcol = run.column("query_id").combine_chunks()
    uniq = pc.unique(qcol)
    n_rows = len(qcol)
    if n_rows == 0:
        return
    qidx = to_numpy(pc.index_in(qcol, value_set=uniq)).astype(np.int64)
    counts = np.bincount(qidx, minlength=len(uniq))
    before = np.cumsum(counts) - counts  # rows of the queries before each query
    shard_of_query = np.minimum(before * n_shards // n_rows, n_shards - 1)
    # renumber so that only non-empty shards count (a huge query can swallow a shard's share)
    used, shard_of_query = np.unique(shard_of_query, return_inverse=True)
    total = len(used)
    shard_of_row = shard_of_query[qidx]
    order = np.argsort(shard_of_row, kind="stable")
    bounds = np.searchsorted(shard_of_row[order], np.arange(total + 1))
    qbounds = np.searchsorted(shard_of_query, np.arange(total + 1))  # sorted: queries in order
    for s in range(total):
        rows = order[bounds[s] : bounds[s + 1]]
        first, last = int(qbounds[s]), int(qbounds[s + 1]) - 1
        yield QueryShard(
            index=s + 1,
            total=total,
            table=run.take(from_numpy(rows)),
            first_query=str(uniq[first].as_py()),
            last_query=str(uniq[last].as_py()),
            num_queries=last - first + 1,
        )

"""Re-ranking: re-score another run's top *depth* documents per query with a ranker.

The candidates are each query's first *depth* documents in trec_eval's order (score descending,
ties by doc id descending) of the input run; the output holds exactly those (query, document)
pairs with the re-ranker's scores, as PyTerrier's ``bm25 % 100 >> reranker`` does. Documents
below the cut are dropped, so evaluate the re-ranked run at depths up to *depth*.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy
from irbench.errors import RankerError
from irbench.io.schema import RUN_SCHEMA
from irbench.rankers.base import NULL_PROGRESS, Progress
from irbench.rankers.fusion import cut

__all__ = ["candidates", "rerank"]


def candidates(run: pa.Table, depth: int) -> pa.Table:
    """The top *depth* rows per query of *run* (``query_id``, ``doc_id``, ``score``)."""
    if depth < 1:
        raise RankerError(f"re-ranking depth must be at least 1, got {depth}")
    return cut(run.select(["query_id", "doc_id", "score"]), depth)


def rerank(
    ranker: Any,
    queries: pa.Table,
    run: pa.Table,
    *,
    depth: int = 100,
    texts: pa.Table | None = None,
    progress: Progress = NULL_PROGRESS,
) -> pa.Table:
    """Re-score the top *depth* documents per query of *run* with ``ranker.rescore``.

    Parameters
    ----------
    ranker:
        A ranker (see :class:`irbench.rankers.base.Ranker`), loaded with its index unless it can
        score from text alone and *texts* is given.
    queries:
        ``query_id``, ``text``; every query of the candidates must be present.
    run:
        The first-stage run.
    texts:
        Optional ``doc_id``, ``text`` of the candidate documents (passed to ``rescore`` as a
        ``text`` column, so a text-scoring ranker needs no index).
    """
    pool = candidates(run, depth)
    known = pc.is_in(pool.column("query_id"), value_set=queries.column("query_id"))
    if not pc.all(known).as_py() and pool.num_rows:
        missing = pool.column("query_id").filter(pc.invert(known)).unique()
        raise RankerError(
            f"{len(missing)} queries of the run have no text to re-rank with "
            f"(for example {missing[0].as_py()!r}); pass the queries of the dataset the run is for"
        )
    pairs = pool.select(["query_id", "doc_id"])
    if texts is not None:
        pairs = _attach_text(pairs, texts)
    scores = np.asarray(ranker.rescore(queries, pairs, progress), dtype=np.float64)
    if scores.shape != (pairs.num_rows,):
        raise RankerError(
            f"{type(ranker).__name__}.rescore returned {scores.shape} scores for "
            f"{pairs.num_rows} pairs"
        )
    out = pa.Table.from_arrays(
        [pool.column("query_id"), pool.column("doc_id"), from_numpy(scores)], schema=RUN_SCHEMA
    )
    return cut(out, None)


def _attach_text(pairs: pa.Table, texts: pa.Table) -> pa.Table:
    lookup = texts.select(["doc_id", "text"])
    idx = pc.index_in(pairs.column("doc_id"), value_set=lookup.column("doc_id"))
    if idx.null_count:
        missing = pairs.column("doc_id").filter(idx.is_null())
        raise RankerError(
            f"{idx.null_count} candidate documents have no text (for example "
            f"{missing[0].as_py()!r})"
        )
    return pairs.append_column("text", lookup.column("text").take(idx))

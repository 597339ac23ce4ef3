"""Corpus shards (``irbench run --engine dask --shard corpus``): each worker indexes a document
range, every query goes to every shard, and the shards' top *k* are merged exactly.

A shard is the documents ``[lo, hi)`` of the dataset's cached corpus, read by the worker
itself from the cache (which must be on a filesystem the workers share). Shard indexes live in
worker memory for the command (Dask futures), not in the index cache.

- dense (``index_type=flat``): the worker encodes its documents (the encoders encode each
  text on its own, so the vectors equal the whole index's) and searches them exactly with
  :func:`irbench.rankers.dense.flat_search`; the query vectors are encoded once on the client
  and broadcast.
- bm25: two phases, because a document's weight needs the collection's statistics. Phase 1:
  each worker analyses its range into an in-memory inverted index and returns its term list
  (in first-occurrence order), document frequencies, non-empty document count and length
  sum. The client merges them into the global term list, in the order the whole index
  numbers its terms (first occurrence over the corpus), and the global *df*, *N* and
  *avgdl*. Phase 2: each worker weights its postings with the global statistics
  (:func:`irbench.rankers.bm25.weight_values`), with its rows at the global term ids, so a
  document's score is summed over the query's terms in the same order as in the whole index;
  the query × term matrix is built once on the client and broadcast.

Both merge with :func:`merge_topk`, so the run equals the local engine's byte for byte. Tasks
are submitted and gathered through :mod:`.tasks` (the first failed shard cancels the rest).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from irbench.distributed.tasks import gather_shards, shard_bounds, shard_label, submit_all
from irbench.errors import DistributedError
from irbench.rankers.base import Progress, run_from_topk

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["corpus_shards", "merge_topk"]

#: Dense score cells per block of queries when a BM25 shard is searched.
_BLOCK_CELLS = 1 << 23


@dataclass(frozen=True)
class DatasetRef:
    """What a worker needs to open the dataset's cached corpus itself."""

    dataset_id: str
    cache_root: str
    offline: bool

    def docs(self, lo: int, hi: int) -> pa.Table:
        from irbench.datasets import load_dataset

        ds = load_dataset(self.dataset_id, cache_dir=self.cache_root, offline=self.offline)
        return ds.docs().slice(lo, hi - lo)


def corpus_shards(
    client: Client,
    ranker: Any,
    dataset: Any,
    queries: pa.Table,
    k: int,
    shards: int,
    retries: int,
    progress: Progress,
) -> tuple[pa.Table, dict[str, Any]]:
    """Index *dataset*'s corpus in *shards* document ranges on the workers and retrieve."""
    if not dataset.has("docs"):
        raise DistributedError(f"{dataset.id} has no documents to index")
    n_docs = dataset.count("docs")  # builds the corpus cache once, here, before the workers read
    doc_ids = dataset.docs().column("doc_id")
    ref = DatasetRef(dataset.id, str(dataset.cache_root), bool(dataset.offline))
    bounds = shard_bounds(n_docs, shards)
    labels = [shard_label("corpus", i, len(bounds), lo, hi) for i, (lo, hi) in enumerate(bounds)]
    k = min(int(k), n_docs)

    def gather(futures: list[Any], what: str, upstream: list[Any]) -> list[Any]:
        return gather_shards(client, futures, labels, progress, f"dask: {what}", upstream)

    if ranker.name == "dense":
        parts = _dense(client, ranker, ref, bounds, queries, k, retries, gather)
    elif ranker.name == "bm25":
        parts = _bm25(client, ranker, ref, bounds, queries, k, retries, gather)
    else:
        raise DistributedError(
            f"--shard corpus supports bm25 and dense, not {ranker.name!r} (its index cannot be "
            "split); use --shard queries, which loads the whole index on every worker"
        )
    if k <= 0 or queries.num_rows == 0:
        empty = np.empty((queries.num_rows, 0))
        positions, scores = empty.astype(np.int64), empty
    else:
        positions, scores = merge_topk(parts, k)
    table = run_from_topk(queries.column("query_id"), doc_ids, positions, scores)
    return table, {"shard": "corpus", "shards": len(bounds), "ranges": bounds}


def merge_topk(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best *k* per row of the union of shard results ``(positions, scores)``.

    *positions* are global document positions (``-1`` pads); rows are ordered by score
    descending, then position ascending, the rule every local ranker cuts ties with, so
    merging each shard's own top *k* gives exactly the top *k* of the whole corpus.
    """
    positions = np.concatenate([p for p, _ in parts], axis=1)
    scores = np.concatenate([s for _, s in parts], axis=1).astype(np.float64)
    scores = np.where(positions >= 0, scores, -np.inf)
    big = np.iinfo(np.int64).max
    order = np.lexsort((np.where(positions >= 0, positions, big), -scores), axis=1)[:, :k]
    return np.take_along_axis(positions, order, 1), np.take_along_axis(scores, order, 1)


# ---------------------------------------------------------------------------- dense


def _dense(
    client: Client,
    ranker: Any,
    ref: DatasetRef,
    bounds: list[tuple[int, int]],
    queries: pa.Table,
    k: int,
    retries: int,
    gather: Any,
) -> list[tuple[np.ndarray, np.ndarray]]:
    if ranker.index_type != "flat":
        raise DistributedError(
            f"--shard corpus searches every shard exactly (index_type=flat); index_type="
            f"{ranker.index_type} would merge approximate shard results: use --shard queries "
            "(each worker loads the whole HNSW graph) or -p index_type=flat"
        )
    params = ranker.params()
    vectors = ranker.get_encoder().encode(queries.column("text"), ranker.batch_size)
    built = submit_all(
        client,
        _dense_shard_embeddings,
        [(params, ref, lo, hi) for lo, hi in bounds],
        "dense-shard-index",
        retries,
    )
    shared = client.scatter(vectors, broadcast=True)
    found = submit_all(
        client,
        _dense_shard_search,
        [(emb, shared, k, lo) for emb, (lo, _) in zip(built, bounds, strict=True)],
        "dense-shard-search",
        retries,
    )
    return list(gather(found, "encoding and searching corpus shards", built))


def _dense_shard_embeddings(params: dict[str, Any], ref: DatasetRef, lo: int, hi: int) -> Any:
    from irbench.rankers.base import document_text
    from irbench.rankers.dense import Dense

    ranker = Dense(**params)
    return ranker.get_encoder().encode(document_text(ref.docs(lo, hi)), ranker.batch_size)


def _dense_shard_search(
    embeddings: np.ndarray, vectors: np.ndarray, k: int, lo: int
) -> tuple[np.ndarray, np.ndarray]:
    from irbench.rankers.dense import flat_index, flat_search

    index = flat_index(embeddings)
    scores, positions = flat_search(index, vectors, min(k, len(embeddings)))
    return np.where(positions >= 0, positions + lo, -1), scores


# ---------------------------------------------------------------------------- bm25


@dataclass
class _Bm25Shard:
    """A document range's term-frequency postings, with shard-local term ids."""

    vocab: pa.Array
    indptr: np.ndarray
    postings_doc: np.ndarray
    postings_tf: np.ndarray
    doc_lengths: np.ndarray
    doc_count: int
    sum_lengths: int


def _bm25(
    client: Client,
    ranker: Any,
    ref: DatasetRef,
    bounds: list[tuple[int, int]],
    queries: pa.Table,
    k: int,
    retries: int,
    gather: Any,
) -> list[tuple[np.ndarray, np.ndarray]]:
    from irbench.rankers.bm25 import query_term_matrix

    params = ranker.params()
    built = submit_all(
        client,
        _bm25_shard_index,
        [(params, ref, lo, hi) for lo, hi in bounds],
        "bm25-shard-index",
        retries,
    )
    stats = submit_all(client, _bm25_shard_stats, [(b,) for b in built], "bm25-stats", retries)
    shard_stats = gather(stats, "indexing corpus shards", built)
    term_id: dict[str, int] = {}
    for vocab, *_ in shard_stats:  # shard order = corpus order: first occurrence over the corpus
        for term in vocab.to_pylist():
            term_id.setdefault(term, len(term_id))
    df = np.zeros(len(term_id), dtype=np.int64)
    global_ids = []
    for vocab, shard_df, *_ in shard_stats:
        ids = np.fromiter((term_id[t] for t in vocab.to_pylist()), np.int64, len(vocab))
        np.add.at(df, ids, shard_df)
        global_ids.append(ids)
    doc_count = sum(int(s[2]) for s in shard_stats)
    sum_lengths = sum(int(s[3]) for s in shard_stats)
    vocab_all = pa.array(list(term_id), pa.string())
    dtype = np.dtype(ranker.dtype)
    matrix = query_term_matrix(ranker.analyzer(), queries.column("text"), vocab_all, dtype)
    collection = {
        "doc_count": doc_count,
        "avgdl": float(sum_lengths) / max(doc_count, 1),
        "n_terms": len(term_id),
    }
    shared = client.scatter(matrix, broadcast=True)
    found = submit_all(
        client,
        _bm25_shard_search,
        [
            (shard, ids, df[ids], collection, params, shared, k, lo)
            for shard, ids, (lo, _) in zip(built, global_ids, bounds, strict=True)
        ],
        "bm25-shard-search",
        retries,
    )
    return list(gather(found, "searching corpus shards", built))


def _bm25_shard_index(params: dict[str, Any], ref: DatasetRef, lo: int, hi: int) -> _Bm25Shard:
    from irbench.rankers.bm25 import BM25
    from irbench.rankers.inverted_index import build_index, open_index

    ranker = BM25(**params)
    folder = Path(tempfile.mkdtemp(prefix="irbench-bm25-shard-"))
    try:
        table = ref.docs(lo, hi)
        build_index(table.to_batches(65536), folder / "index", ranker.analyzer())
        index = open_index(folder / "index")
        return _Bm25Shard(
            vocab=index.vocab,
            indptr=np.array(index.indptr),
            postings_doc=np.array(index.postings_doc),
            postings_tf=np.array(index.postings_tf),
            doc_lengths=np.array(index.doc_lengths),
            doc_count=index.doc_count,
            sum_lengths=int(index.meta["sum_lengths"]),
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _bm25_shard_stats(shard: _Bm25Shard) -> tuple[pa.Array, np.ndarray, int, int]:
    """The shard's terms (first-occurrence order), their df, non-empty docs, length sum."""
    return shard.vocab, np.diff(shard.indptr), shard.doc_count, shard.sum_lengths


def _bm25_shard_search(
    shard: _Bm25Shard,
    global_ids: np.ndarray,
    global_df: np.ndarray,
    collection: dict[str, Any],
    params: dict[str, Any],
    queries: Any,
    k: int,
    lo: int,
) -> tuple[np.ndarray, np.ndarray]:
    import scipy.sparse as sp

    from irbench.rankers.base import top_k
    from irbench.rankers.bm25 import weight_values

    dtype = np.dtype(params["dtype"])
    values = weight_values(
        shard.indptr, shard.postings_doc, shard.postings_tf, shard.doc_lengths, global_df,
        collection["doc_count"], collection["avgdl"], params["k1"], params["b"],
        params["lucene_norms"], dtype,
    )  # fmt: skip
    n_docs = len(shard.doc_lengths)
    rows = np.repeat(global_ids, np.diff(shard.indptr))
    weights = sp.csr_matrix(
        (values, (rows, shard.postings_doc)), shape=(collection["n_terms"], n_docs)
    )
    n_queries = queries.shape[0]
    k = min(k, n_docs)
    block = max(1, min(n_queries, _BLOCK_CELLS // max(n_docs, 1)))
    found = np.full((n_queries, k), -1, dtype=np.int64)
    scores = np.full((n_queries, k), -np.inf)
    for start in range(0, n_queries if k > 0 else 0, block):
        stop = min(start + block, n_queries)
        dense = (queries[start:stop] @ weights).toarray()
        pos, vals = top_k(dense, k, ties_from=0.0)
        found[start:stop] = np.where(vals > 0, pos + lo, -1)
        scores[start:stop] = np.where(vals > 0, vals, -np.inf)
    return found, scores

"""Dense retrieval: encode documents and queries into unit vectors, rank by inner product.

The first-stage dense retriever of Karpukhin et al., "Dense Passage Retrieval for Open-Domain
Question Answering" (EMNLP 2020), with the encoders of :mod:`irbench.rankers.encoders` and the
search structures of faiss (Johnson, Douze & Jégou, "Billion-scale similarity search with
GPUs", IEEE TBD 2019; Douze et al., "The Faiss library", 2024):

- ``index_type=flat`` (default): exact maximum inner product search, ``faiss.IndexFlatIP``.
- ``index_type=hnsw``: approximate search on a hierarchical navigable small-world graph
  (Malkov & Yashunin, IEEE TPAMI 2020), ``faiss.IndexHNSWFlat(d, M, METRIC_INNER_PRODUCT)``
  with ``hnsw_m`` (M), ``ef_construction`` and ``ef_search``.

The index folder holds the embeddings, not a search structure::

    meta.json            format version, encoder, model fingerprint, dim, count
    embeddings.npy       float32 (n_docs, dim), unit rows, written batch by batch
    doc_ids.parquet      one column doc_id, row i = embeddings row i
    hnsw-m{M}-efc{E}.faiss   an HNSW graph (faiss.write_index), one per graph parameters

So only the encoder changes the index (:attr:`Dense.INDEX_FIELDS`): the flat index is built
from ``embeddings.npy`` at load time (a copy, no computation), and an HNSW graph with new
parameters is built from the same embeddings the first time it is asked for and saved beside
them (written to a temporary name and renamed; kept in memory only if the folder is
read-only). Nothing is pickled.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa

from irbench._arrow import from_numpy, read_parquet, single_chunk, to_numpy
from irbench.errors import RankerError
from irbench.rankers._npy import NpyAppender
from irbench.rankers.base import NULL_PROGRESS, Progress, RankerBase, document_text, run_from_topk
from irbench.rankers.encoders import Encoder, forward_to, get_encoder

__all__ = ["FORMAT", "FORMAT_VERSION", "Dense", "flat_index", "flat_search"]

_log = logging.getLogger("irbench.rankers.dense")

FORMAT = "irbench-dense"
FORMAT_VERSION = 1
_META, _EMBEDDINGS, _DOC_IDS = "meta.json", "embeddings.npy", "doc_ids.parquet"
_DOC_IDS_SCHEMA = pa.schema([pa.field("doc_id", pa.string(), nullable=False)])
#: Rows added to a faiss index, and queries searched, per call (bounds temporary memory).
_CHUNK = 16384
#: (query, document) pairs scored per step of :meth:`Dense.rescore`.
_PAIR_CHUNK = 65536


def idle_openmp_threads_sleep(
    environ: MutableMapping[str, str] = os.environ, modules: Mapping[str, object] = sys.modules
) -> None:
    """Ask faiss's OpenMP threads to sleep, not spin, when idle (unless the user chose).

    faiss-cpu bundles libgomp, whose idle threads busy-wait by default (``OMP_WAIT_POLICY``
    ACTIVE). With the cores busy with other work, an exact search of 93 queries over 11,429
    vectors took 1.0 s that way and 0.05 s with PASSIVE (2-core machine, both cores loaded).
    libgomp reads the variable once, when faiss first loads it, so it is set before the first
    import of faiss, never on ``import irbench``.
    """
    if "faiss" not in modules:
        environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _faiss() -> Any:
    idle_openmp_threads_sleep()
    try:
        import faiss
    except ImportError as err:  # pragma: no cover - faiss-cpu is a dependency
        raise RankerError(f"dense retrieval needs faiss ({err}): pip install faiss-cpu") from err
    return faiss


@dataclass
class Dense(RankerBase):
    """Dense retrieval: cosine similarity of MiniLM-derived embeddings, searched with faiss.

    Parameters
    ----------
    encoder:
        ``static`` (model2vec, shipped, no torch) or ``minilm`` (sentence-transformers; see
        :class:`irbench.rankers.encoders.MiniLMEncoder` for what to install).
    index_type:
        ``flat`` (exact) or ``hnsw`` (approximate, faster on large corpora).
    hnsw_m, ef_construction:
        HNSW graph degree and build-time beam width (faiss ``M``, ``efConstruction``).
    ef_search:
        HNSW search beam width (faiss ``efSearch``); raised to *k* when smaller.
    batch_size:
        Texts per encoder call (default: the encoder's, 1024 static, 64 MiniLM).
    search_kernel:
        Flat search: ``blas`` (default; faiss scores query blocks with one sgemm, whose last
        bit can depend on the block's size) or ``pairwise`` (every inner product on its own:
        the same bits however queries are batched or sharded, about 14x slower on 100,000 x 256
        documents). The Dask engine uses ``pairwise``.
    """

    name: ClassVar[str] = "dense"
    needs_index: ClassVar[bool] = True
    INDEX_FIELDS: ClassVar[tuple[str, ...]] = ("encoder",)

    encoder: Literal["static", "minilm"] = "static"
    index_type: Literal["flat", "hnsw"] = "flat"
    hnsw_m: int = 32
    ef_construction: int = 200
    ef_search: int = 128
    batch_size: int | None = None
    search_kernel: Literal["blas", "pairwise"] = "blas"

    _encoder: Encoder | None = field(default=None, init=False, repr=False, compare=False)
    _directory: Path | None = field(default=None, init=False, repr=False, compare=False)
    _embeddings: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _doc_ids: pa.Array | None = field(default=None, init=False, repr=False, compare=False)
    _index: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.encoder not in ("static", "minilm"):
            raise RankerError(f"dense: encoder must be static or minilm, got {self.encoder!r}")
        if self.index_type not in ("flat", "hnsw"):
            raise RankerError(f"dense: index_type must be flat or hnsw, got {self.index_type!r}")
        for name in ("hnsw_m", "ef_construction", "ef_search"):
            if int(getattr(self, name)) < 1:
                raise RankerError(f"dense: {name} must be a positive integer")
        if self.batch_size is not None and self.batch_size < 1:
            raise RankerError("dense: batch_size must be a positive integer (or none)")
        if self.search_kernel not in ("blas", "pairwise"):
            raise RankerError(
                f"dense: search_kernel must be blas or pairwise, got {self.search_kernel!r}"
            )

    # ------------------------------------------------------------------ building

    def get_encoder(self) -> Encoder:
        """The encoder named by :attr:`encoder` (created once, loaded on first use)."""
        if self._encoder is None:
            self._encoder = get_encoder(self.encoder)
        return self._encoder

    def index(
        self, docs: Iterable[pa.RecordBatch], directory: Path, progress: Progress = NULL_PROGRESS
    ) -> None:
        """Encode *docs* batch by batch into ``embeddings.npy`` and write the index folder.

        Memory is bounded by one record batch (plus the doc ids); an HNSW graph is built as
        well when ``index_type=hnsw``.
        """
        import pyarrow.parquet as pq

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        encoder = self.get_encoder()
        dim = encoder.dim
        with (
            NpyAppender(directory / _EMBEDDINGS, dim) as out,
            pq.ParquetWriter(directory / _DOC_IDS, _DOC_IDS_SCHEMA) as ids_out,
            progress.task(f"dense: encoding documents ({encoder.name})") as task,
        ):
            for batch in docs:
                if batch.num_rows == 0:
                    continue
                vectors = encoder.encode(document_text(batch), self.batch_size, forward_to(task))
                out.append(vectors)
                ids = single_chunk(batch.column("doc_id")).cast(pa.string())
                ids_out.write_table(pa.Table.from_arrays([ids], schema=_DOC_IDS_SCHEMA))
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "encoder": encoder.name,
            "model_sha256": encoder.fingerprint(),
            "dim": dim,
            "count": out.rows,
            "metric": "inner_product",
            "normalised": True,
        }
        (directory / _META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        self.load(directory)
        if self.index_type == "hnsw":
            self.search_index(progress)

    # ------------------------------------------------------------------ loading

    def load(self, directory: Path) -> None:
        """Open an index folder written by :meth:`index` (embeddings memory-mapped)."""

        directory = Path(directory)
        meta = self._read_meta(directory)
        embeddings = np.load(directory / _EMBEDDINGS, mmap_mode="r")
        doc_ids = single_chunk(read_parquet(directory / _DOC_IDS).column("doc_id"))
        if embeddings.shape != (meta["count"], meta["dim"]) or len(doc_ids) != meta["count"]:
            raise RankerError(
                f"dense index {directory} is inconsistent: meta.json says {meta['count']} x "
                f"{meta['dim']}, embeddings.npy is {embeddings.shape}, {len(doc_ids)} doc ids "
                "(an interrupted build?); delete the folder and index again"
            )
        self._directory, self._embeddings, self._doc_ids = directory, embeddings, doc_ids
        self._index = None

    def _read_meta(self, directory: Path) -> dict[str, Any]:
        path = directory / _META
        if not path.is_file():
            raise RankerError(f"{directory} is not a dense index (no {_META}); index it first")
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT or meta.get("format_version") != FORMAT_VERSION:
            raise RankerError(
                f"{path}: format {meta.get('format')!r} version {meta.get('format_version')!r}, "
                f"this irbench reads {FORMAT!r} version {FORMAT_VERSION}; index again"
            )
        if meta.get("encoder") != self.encoder:
            raise RankerError(
                f"{directory} was built with encoder={meta.get('encoder')}, not "
                f"encoder={self.encoder}; pass encoder={meta.get('encoder')} or index again"
            )
        if meta.get("model_sha256") != self.get_encoder().fingerprint():
            raise RankerError(
                f"{directory} was built with other {self.encoder} model weights than the ones "
                "installed now (model_sha256 differs); delete the folder and index again"
            )
        return meta

    def _loaded(self) -> tuple[np.ndarray, pa.Array]:
        if self._embeddings is None or self._doc_ids is None:
            raise RankerError("dense: no index loaded; call index() or load(directory) first")
        return self._embeddings, self._doc_ids

    def _hnsw_file(self) -> str:
        return f"hnsw-m{self.hnsw_m}-efc{self.ef_construction}.faiss"

    def search_index(self, progress: Progress = NULL_PROGRESS) -> Any:
        """The faiss index for :attr:`index_type`, built or read on first use."""
        if self._index is not None:
            return self._index
        faiss = _faiss()
        embeddings, _ = self._loaded()
        n, dim = embeddings.shape
        if self.index_type == "flat":
            index = flat_index(embeddings)
        else:
            assert self._directory is not None
            path = self._directory / self._hnsw_file()
            if path.is_file():
                index = faiss.read_index(str(path))
                if index.ntotal != n or index.d != dim:
                    raise RankerError(f"{path} does not match embeddings.npy; delete it")
            else:
                index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                index.hnsw.efConstruction = self.ef_construction
                with progress.task(f"dense: building HNSW graph (M={self.hnsw_m})", n) as task:
                    self._add(index, embeddings, task)
                self._save_index(faiss, index, path)
        self._index = index
        return index

    @staticmethod
    def _add(index: Any, embeddings: np.ndarray, task: Any) -> None:
        for start in range(0, embeddings.shape[0], _CHUNK):
            block = np.ascontiguousarray(embeddings[start : start + _CHUNK], dtype=np.float32)
            index.add(block)
            if task is not None:
                task.advance(block.shape[0])

    @staticmethod
    def _save_index(faiss: Any, index: Any, path: Path) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".faiss")
            os.close(fd)
            try:
                faiss.write_index(index, tmp)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as err:
            _log.warning("HNSW graph kept in memory only (cannot write %s: %s)", path, err)

    # ------------------------------------------------------------------ querying

    def retrieve(self, queries: pa.Table, k: int, progress: Progress = NULL_PROGRESS) -> pa.Table:
        """Top *k* documents per query by inner product (cosine) with the query's vector."""
        _, doc_ids = self._loaded()
        index = self.search_index(progress)
        query_ids = single_chunk(queries.column("query_id"))
        k = min(int(k), index.ntotal)
        if k <= 0 or queries.num_rows == 0:
            empty = np.empty((queries.num_rows, 0))
            return run_from_topk(query_ids, doc_ids, empty.astype(np.int64), empty)
        vectors = self.get_encoder().encode(queries.column("text"), self.batch_size, progress)
        if self.index_type == "hnsw":
            index.hnsw.efSearch = max(self.ef_search, k)
        scores = np.empty((len(vectors), k), dtype=np.float32)
        positions = np.empty((len(vectors), k), dtype=np.int64)
        pairwise = self.search_kernel == "pairwise"

        def search(index: Any, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            if self.index_type != "flat":
                return _plain_search(index, vectors, k)
            return flat_search(index, vectors, k, pairwise=pairwise)

        with progress.task("dense: searching", total=len(vectors)) as task:
            for start in range(0, len(vectors), _CHUNK):
                stop = min(start + _CHUNK, len(vectors))
                scores[start:stop], positions[start:stop] = search(index, vectors[start:stop], k)
                task.advance(stop - start)
        return run_from_topk(query_ids, doc_ids, positions, scores)

    def rescore(
        self, queries: pa.Table, pairs: pa.Table, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        """Cosine of each pair's query and document vectors (float64, in *pairs*' order).

        With a ``text`` column the documents are encoded from it (no index needed; equal texts
        are encoded once); without, their vectors are read from the loaded index by doc id.
        """
        import pyarrow.compute as pc

        encoder = self.get_encoder()
        q_rows = _positions(pairs.column("query_id"), queries.column("query_id"), "query id")
        needed, q_of_pair = np.unique(q_rows, return_inverse=True)
        q_texts = single_chunk(queries.column("text")).take(from_numpy(needed.astype(np.int64)))
        q_vectors = encoder.encode(q_texts, self.batch_size, progress)

        if "text" in pairs.column_names:
            texts = pc.fill_null(single_chunk(pairs.column("text")).cast(pa.string()), "")
            unique = pc.unique(texts)
            d_of_pair = to_numpy(pc.index_in(texts, value_set=unique)).astype(np.int64)
            d_vectors = encoder.encode(unique, self.batch_size, progress)
        else:
            if self._embeddings is None:
                raise RankerError(
                    "dense: rescoring pairs without a text column needs a loaded index; call "
                    "load(directory) first or add the documents' text as a 'text' column"
                )
            embeddings, doc_ids = self._loaded()
            d_of_pair = _positions(pairs.column("doc_id"), doc_ids, "doc id")
            d_vectors = embeddings

        scores = np.empty(pairs.num_rows, dtype=np.float64)
        for start in range(0, pairs.num_rows, _PAIR_CHUNK):
            stop = start + _PAIR_CHUNK
            q = q_vectors[q_of_pair[start:stop]]
            d = np.asarray(d_vectors[d_of_pair[start:stop]], dtype=np.float32)
            scores[start:stop] = np.einsum("ij,ij->i", q, d)
        return scores


def flat_index(embeddings: np.ndarray) -> Any:
    """An exact inner-product faiss index (``IndexFlatIP``) holding *embeddings* in row order
    (a whole index's, or a corpus shard's: :mod:`irbench.distributed.corpus`)."""
    index = _faiss().IndexFlatIP(embeddings.shape[1])
    Dense._add(index, embeddings, None)
    return index


def flat_search(
    index: Any, vectors: np.ndarray, k: int, *, pairwise: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top *k* of a faiss flat index: ``(scores, positions)``, ties at the cut broken by
    position (the lowest rows of the index are kept), so the result is a function of the
    scores alone.

    faiss's own choice among equal scores at the cut depends on its heap (neither the lowest
    nor the highest ids once *k* exceeds a few dozen), which would make a corpus split into
    shards merge to a different run. Here ``k + 1`` neighbours are asked for; a query whose
    ``k + 1``-th score equals its *k*-th (duplicate documents) is searched again with twice
    the depth until the tie is covered, and its tied rows are taken in position order.

    ``pairwise`` keeps faiss off its BLAS path (see :func:`_batch_independent_scores`), so the
    scores do not depend on the query batch; ``False`` is faster and may differ in the last bit.
    """
    if len(vectors) > _CHUNK:
        parts = [
            flat_search(index, vectors[i : i + _CHUNK], k, pairwise=pairwise)
            for i in range(0, len(vectors), _CHUNK)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    if not pairwise:
        return _flat_search(index, vectors, k)
    with _batch_independent_scores():
        return _flat_search(index, vectors, k)


@contextmanager
def _batch_independent_scores() -> Iterator[None]:
    """Make faiss compute every inner product on its own (SIMD), never through BLAS.

    Above ``faiss.cvar.distance_compute_blas_threshold`` (128,000 in faiss-cpu 1.15.1; the
    size it is compared with grows with the query block) faiss scores a block of queries with
    one sgemm, and BLAS tiles the block in a way that depends on its size: the same (query,
    document) pair scored in a call of 930 queries and in one of 465 differed in the last bit
    (7e-7; Vaswani, static encoder). A run must not depend on how its queries are batched or
    sharded, so flat search raises the threshold to the largest int for the call (queries go
    in blocks of at most ``_CHUNK``), which keeps faiss on its per-pair kernel.
    """
    cvar = _faiss().cvar
    saved = cvar.distance_compute_blas_threshold
    cvar.distance_compute_blas_threshold = 2**31 - 1
    try:
        yield
    finally:
        cvar.distance_compute_blas_threshold = saved


def _flat_search(index: Any, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    n = int(index.ntotal)
    k = min(int(k), n)
    if k >= n or len(vectors) == 0:
        return _plain_search(index, vectors, k)
    scores, positions = index.search(vectors, k + 1)
    straddles = np.flatnonzero(scores[:, k] == scores[:, k - 1])
    scores, positions = scores[:, :k].copy(), positions[:, :k].copy()
    for row in straddles:
        cut, depth = scores[row, k - 1], min(2 * (k + 1), n)
        while True:
            deep_scores, deep_pos = index.search(vectors[row : row + 1], depth)
            if depth >= n or deep_scores[0, -1] < cut:
                break
            depth = min(2 * depth, n)
        above = deep_scores[0] > cut
        tied = np.sort(deep_pos[0][(deep_scores[0] == cut) & (deep_pos[0] >= 0)])
        chosen = np.concatenate([deep_pos[0][above], tied])[:k]
        scores[row] = np.concatenate([deep_scores[0][above], np.full(k - above.sum(), cut)])
        positions[row] = chosen
    return scores, positions


def _plain_search(index: Any, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores, positions = index.search(vectors, k)
    return scores, positions


def _positions(
    values: pa.Array | pa.ChunkedArray, universe: pa.Array | pa.ChunkedArray, what: str
) -> np.ndarray:
    """Row of each of *values* in *universe* (int64); unknown values raise :class:`RankerError`."""
    import pyarrow.compute as pc

    values = single_chunk(values).cast(pa.string())
    found = pc.index_in(values, value_set=single_chunk(universe).cast(pa.string()))
    if found.null_count:
        missing = pc.unique(values.filter(pc.is_null(found))).to_pylist()
        sample = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
        where = "the queries table" if what == "query id" else "the loaded index"
        fix = (
            "pass every query the pairs mention"
            if what == "query id"
            else "index the corpus these documents come from, or add a 'text' column"
        )
        raise RankerError(f"dense: {len(missing)} {what}s not in {where} ({sample}); {fix}")
    return to_numpy(found).astype(np.int64)

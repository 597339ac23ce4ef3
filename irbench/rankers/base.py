"""The ranker protocol, and the small helpers every ranker shares.

A ranker is a dataclass whose fields are its parameters (typed options: ``--param k1=0.9`` on
the command line is coerced to the field's type). It may need an index of the corpus:

- :meth:`Ranker.index` reads the corpus as Arrow record batches (``doc_id``, ``text``,
  ``title``; see :data:`irbench.datasets.formats.DOCS_SCHEMA`) and writes its index files into
  an empty folder. The caller builds into a temporary folder and renames it into place, so an
  interrupted build never leaves a half-written index (:func:`irbench.rankers.runner`).
- :meth:`Ranker.load` opens such a folder (no pickle: numpy ``.npy``, Arrow/Parquet, JSON).
- :meth:`Ranker.retrieve` returns the top *k* documents of every query as a run table
  (``query_id``, ``doc_id``, ``score``; :data:`irbench.io.schema.RUN_SCHEMA`).
- :meth:`Ranker.rescore` scores given (query, document) pairs, which is what re-ranking needs.

Third-party rankers register under the entry-point group ``irbench.rankers``
(``name = "package.module:Class"``); see :mod:`irbench.rankers.registry`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import pyarrow as pa

from irbench._arrow import single_chunk

__all__ = [
    "NULL_PROGRESS",
    "Progress",
    "Ranker",
    "RankerBase",
    "Task",
    "document_text",
    "file_sha256",
    "run_from_topk",
    "top_k",
]


class Task(Protocol):
    """One unit of long work; ``advance(n)`` reports *n* more items done."""

    def advance(self, n: int = 1) -> None: ...


class Progress(Protocol):
    """Where long work reports progress (the CLI passes a rich progress bar)."""

    def task(self, description: str, total: int | None = None) -> Any:
        """A context manager yielding a :class:`Task`."""
        ...


class _NullTask:
    def advance(self, n: int = 1) -> None:
        return None


class _NullProgress:
    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[_NullTask]:
        yield _NullTask()


#: A :class:`Progress` that reports nothing (the Python API's default).
NULL_PROGRESS: Progress = _NullProgress()


@runtime_checkable
class Ranker(Protocol):
    """What the runner, the CLI and re-ranking need from a retrieval model."""

    name: ClassVar[str]
    #: Whether :meth:`index` / :meth:`load` must run before :meth:`retrieve`.
    needs_index: ClassVar[bool]

    def index_params(self) -> dict[str, Any]:
        """The parameters the index depends on (they name the cached index folder)."""
        ...

    def index(
        self, docs: Iterable[pa.RecordBatch], directory: Path, progress: Progress = NULL_PROGRESS
    ) -> None:
        """Build the index of *docs* into the empty folder *directory*."""
        ...

    def load(self, directory: Path) -> None:
        """Open an index written by :meth:`index`."""
        ...

    def retrieve(self, queries: pa.Table, k: int, progress: Progress = NULL_PROGRESS) -> pa.Table:
        """Top *k* documents for each row of *queries* (``query_id``, ``text``), as a run table."""
        ...

    def rescore(
        self, queries: pa.Table, pairs: pa.Table, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        """A float64 score for each row of *pairs* (``query_id``, ``doc_id`` [, ``text``]).

        When *pairs* has a ``text`` column the document text is taken from it (no index is
        needed if the ranker can score from text alone); otherwise documents are looked up in
        the loaded index by id.
        """
        ...


@dataclass
class RankerBase:
    """Convenience base: ``params()`` from the dataclass fields, ``index_params()`` from
    :attr:`INDEX_FIELDS`."""

    name: ClassVar[str] = ""
    needs_index: ClassVar[bool] = True
    #: Names of the fields that change the index (the rest only change querying).
    INDEX_FIELDS: ClassVar[tuple[str, ...]] = ()

    def params(self) -> dict[str, Any]:
        """All parameters, as recorded in the run's metadata sidecar."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}

    def index_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.INDEX_FIELDS}


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (input and model fingerprints)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def document_text(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """The text a ranker indexes: ``title + " " + text`` where a title exists, else ``text``."""
    import pyarrow.compute as pc

    text = pc.fill_null(batch.column("text"), "")
    if "title" not in batch.schema.names:
        return single_chunk(text)
    title = batch.column("title")
    joined = pc.binary_join_element_wise(title, text, " ", null_handling="skip")
    return single_chunk(pc.utf8_trim_whitespace(joined))


def top_k(
    scores: np.ndarray, k: int, *, ties_from: float = -np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top *k* of a 2-D score matrix: ``(indices, values)``, best first.

    The top *k* of a row are its first *k* columns in the order (score descending, column
    ascending): among equal scores at the cut the lowest columns are kept. That rule makes the
    result of a corpus split into column shards, each cut to its own top *k*, merge exactly
    into the whole matrix's (:mod:`irbench.distributed.retrieval`). Rows whose cut score is
    at most *ties_from* keep an arbitrary choice among their tied columns (the caller drops
    such scores, as BM25 drops zeros). Uses ``argpartition`` then sorts only the *k* survivors;
    a row with a tie across the cut is fixed by one scan of that row.
    """
    n_rows, n_cols = scores.shape
    k = min(k, n_cols)
    if k <= 0:
        empty = np.empty((n_rows, 0))
        return empty.astype(np.int64), empty
    if k < n_cols:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(scores, part, axis=1)
        cut = vals.min(axis=1)
        straddles = (cut > ties_from) & ((scores >= cut[:, None]).sum(axis=1) > k)
        for row in np.flatnonzero(straddles):
            above = np.flatnonzero(scores[row] > cut[row])
            tied = np.flatnonzero(scores[row] == cut[row])[: k - len(above)]
            part[row] = np.concatenate([above, tied])
            vals[row] = scores[row, part[row]]
    else:
        part = np.broadcast_to(np.arange(n_cols), (n_rows, n_cols))
        vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def run_from_topk(
    query_ids: pa.Array | pa.ChunkedArray,
    doc_ids: pa.Array | pa.ChunkedArray,
    indices: np.ndarray,
    scores: np.ndarray,
) -> pa.Table:
    """A run table from per-query top-k positions into *doc_ids* and their scores.

    Rows whose index is negative (faiss pads with ``-1``) or whose score is not finite (a
    document that matched no query term) are dropped.
    """
    from irbench._arrow import from_numpy
    from irbench.io.schema import RUN_SCHEMA

    indices = np.asarray(indices)
    scores = np.asarray(scores, dtype=np.float64)
    keep = (indices >= 0) & np.isfinite(scores)
    rows, _ = np.nonzero(keep)
    qids = single_chunk(query_ids).take(from_numpy(rows.astype(np.int64)))
    dids = single_chunk(doc_ids).take(from_numpy(indices[keep].astype(np.int64)))
    return pa.Table.from_arrays(
        [qids.cast(pa.string()), dids.cast(pa.string()), from_numpy(scores[keep])],
        schema=RUN_SCHEMA,
    )

"""A term-frequency inverted index on disk: built by streaming batches, opened by memory map.

Layout of an index folder (no pickle anywhere)::

    meta.json          format, version, analyzer options, counts (documents, non-empty
                       documents, terms, postings), total and mean document length
    doc_ids.arrow      Arrow IPC file, one column ``doc_id`` (row i = document i)
    vocab.arrow        Arrow IPC file, one column ``term`` (row t = term t)
    doc_lengths.npy    int32 (n_docs,): analysed length of every document (terms kept)
    indptr.npy         int64 (n_terms + 1,): postings of term t are [indptr[t], indptr[t+1])
    postings_doc.npy   int32 (nnz,): document of each posting, increasing within a term
    postings_tf.npy    int32 (nnz,): term frequency of each posting

Together ``indptr``, ``postings_doc`` and ``postings_tf`` are a term × document CSR matrix of
raw term frequencies (a Lucene-style postings list per term). Nothing in the files depends on a
ranking model's parameters, so BM25's ``k1`` and ``b`` can change without a rebuild.

Building streams (:func:`build_index`): each batch is analysed, its vocabulary appended to a
growing dictionary, its (term, doc, tf) triples counted with one sparse COO → CSC conversion
and written to a temporary run file, and document frequencies accumulated. A final pass places
every run's postings straight into memory-mapped output arrays (a counting sort: each term's
slot is known from the document frequencies), so peak memory is one batch, the vocabulary and
four bytes per document, never the whole corpus. ``meta.json`` is written last: a folder
without it is incomplete.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import single_chunk, to_numpy
from irbench.errors import RankerError
from irbench.rankers.analysis import Analyzer
from irbench.rankers.base import NULL_PROGRESS, Progress, document_text

__all__ = ["FORMAT", "FORMAT_VERSION", "InvertedIndex", "build_index", "open_index"]

FORMAT = "irbench-inverted-index"
FORMAT_VERSION = 1

_ARRAYS = ("doc_lengths", "indptr", "postings_doc", "postings_tf")
_INT32_MAX = np.iinfo(np.int32).max


@dataclass
class InvertedIndex:
    """An opened index folder (arrays are read-only memory maps)."""

    directory: Path
    meta: dict[str, Any]
    doc_ids: pa.Array
    vocab: pa.Array
    doc_lengths: np.ndarray
    indptr: np.ndarray
    postings_doc: np.ndarray
    postings_tf: np.ndarray

    @property
    def n_docs(self) -> int:
        """Documents in the index, including empty ones."""
        return len(self.doc_lengths)

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    @property
    def doc_count(self) -> int:
        """Documents with at least one term (Lucene's ``docCount``, BM25's *N*)."""
        return int(self.meta["doc_count"])

    @property
    def avgdl(self) -> float:
        """Mean length over documents with at least one term (Lucene's ``avgFieldLength``)."""
        return float(self.meta["sum_lengths"]) / max(self.doc_count, 1)

    def df(self) -> np.ndarray:
        """Document frequency of every term."""
        return np.diff(self.indptr)

    def term_ids(self, terms: pa.Array) -> np.ndarray:
        """Term ids of *terms* (``int64``; ``-1`` for a term not in the index)."""
        found = pc.index_in(terms, value_set=self.vocab)
        return to_numpy(found, null=-1).astype(np.int64)

    def doc_positions(self, doc_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Row of each id in the index (``int64``; ``-1`` for an id the index does not hold)."""
        found = pc.index_in(single_chunk(doc_ids).cast(pa.string()), value_set=self.doc_ids)
        return to_numpy(found, null=-1).astype(np.int64)


def build_index(
    docs: Iterable[pa.RecordBatch],
    directory: Path,
    analyzer: Analyzer,
    progress: Progress = NULL_PROGRESS,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Analyse *docs* and write an index into *directory* (created if missing); return its meta."""
    import scipy.sparse as sp

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    runs_dir = directory / "_runs"
    runs_dir.mkdir()
    vocab: dict[str, int] = {}
    df = np.zeros(1024, dtype=np.int64)
    lengths: list[np.ndarray] = []
    runs: list[Path] = []
    n_docs = 0
    id_schema = pa.schema([pa.field("doc_id", pa.string(), nullable=False)])
    with (
        progress.task("BM25 index: analysing documents") as task,
        pa.OSFile(str(directory / "doc_ids.arrow"), "wb") as sink,
        pa.ipc.new_file(sink, id_schema) as ids_out,
    ):
        for batch in docs:
            if batch.num_rows == 0:
                continue
            _check_batch(batch)
            if n_docs + batch.num_rows > _INT32_MAX:
                raise RankerError(f"more than {_INT32_MAX:,} documents: too many for one index")
            analyzed = analyzer.analyze(document_text(batch))
            ids = [vocab.setdefault(t, len(vocab)) for t in analyzed.vocab.to_pylist()]
            term_of = np.asarray(ids, dtype=np.int64)[analyzed.codes]
            counts = sp.coo_matrix(
                (np.ones(len(term_of), np.int32), (analyzed.text_of_token(), term_of)),
                shape=(batch.num_rows, len(vocab)),
            ).tocsc()  # sums repeated (doc, term) pairs: postings sorted by term, then doc
            counts.sum_duplicates()
            n_per_term = np.diff(counts.indptr)
            run = np.stack(
                [
                    np.repeat(np.arange(len(vocab), dtype=np.int32), n_per_term),
                    counts.indices.astype(np.int32) + np.int32(n_docs),
                    counts.data.astype(np.int32),
                ]
            )
            runs.append(runs_dir / f"run-{len(runs):06d}.npy")
            np.save(runs[-1], run)
            if len(vocab) > len(df):
                df = np.concatenate(
                    [df, np.zeros(max(len(vocab), 2 * len(df)) - len(df), np.int64)]
                )
            df[: len(vocab)] += n_per_term
            lengths.append(analyzed.lengths().astype(np.int32))
            ids_out.write_batch(
                pa.record_batch([single_chunk(batch.column("doc_id")).cast(pa.string())], id_schema)
            )
            n_docs += batch.num_rows
            task.advance(batch.num_rows)
    df = df[: len(vocab)]
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    _merge_runs(runs, indptr, directory, progress)
    shutil.rmtree(runs_dir)
    doc_lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    np.save(directory / "doc_lengths.npy", doc_lengths)
    np.save(directory / "indptr.npy", indptr)
    _write_strings(directory / "vocab.arrow", "term", list(vocab))
    _check_unique_ids(directory / "doc_ids.arrow")
    doc_count = int(np.count_nonzero(doc_lengths))
    sum_lengths = int(doc_lengths.sum(dtype=np.int64))
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "analyzer": analyzer.params(),
        "n_docs": n_docs,
        "n_terms": len(vocab),
        "nnz": int(indptr[-1]),
        "doc_count": doc_count,
        "sum_lengths": sum_lengths,
        "avgdl": sum_lengths / max(doc_count, 1),  # for people; readers use the two above
        **(extra_meta or {}),
    }
    (directory / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def _check_batch(batch: pa.RecordBatch) -> None:
    missing = [c for c in ("doc_id", "text") if c not in batch.schema.names]
    if missing:
        raise RankerError(
            f"document batches need columns doc_id, text (and optional title); "
            f"missing {', '.join(missing)} in a batch with columns {', '.join(batch.schema.names)}"
        )
    if batch.column("doc_id").null_count:
        raise RankerError("a document has a null doc_id; every document needs an id")


def _merge_runs(runs: list[Path], indptr: np.ndarray, directory: Path, progress: Progress) -> None:
    """Counting-sort the per-batch runs into term-major postings (memory-mapped outputs)."""
    nnz = int(indptr[-1])
    n_terms = len(indptr) - 1
    docs = np.lib.format.open_memmap(directory / "postings_doc.npy", "w+", np.int32, (nnz,))
    tfs = np.lib.format.open_memmap(directory / "postings_tf.npy", "w+", np.int32, (nnz,))
    cursor = indptr[:-1].copy()
    with progress.task("BM25 index: writing postings", total=len(runs)) as task:
        for path in runs:
            term, doc, tf = np.load(path)
            per_term = np.bincount(term, minlength=n_terms)
            first = np.cumsum(per_term) - per_term  # where each term starts inside this run
            slot = cursor[term] + (np.arange(len(term), dtype=np.int64) - first[term])
            docs[slot] = doc
            tfs[slot] = tf
            cursor += per_term
            path.unlink()
            task.advance(1)
    docs.flush()
    tfs.flush()
    del docs, tfs


def _write_strings(path: Path, name: str, values: list[str]) -> None:
    schema = pa.schema([pa.field(name, pa.string(), nullable=False)])
    table = pa.table([pa.array(values, pa.string())], schema=schema)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as out:
        out.write_table(table)


def _read_strings(path: Path) -> pa.Array:
    with pa.memory_map(str(path), "r") as source:
        table = pa.ipc.open_file(source).read_all()
    return single_chunk(table.column(0))


def _check_unique_ids(path: Path) -> None:
    ids = _read_strings(path)
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    counts = pc.value_counts(ids)
    dup = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
    raise RankerError(
        f"{len(dup):,} document ids occur more than once in the corpus (first: {dup[0].as_py()!r}); "
        "ids must be unique: de-duplicate the corpus before indexing"
    )


def open_index(directory: Path) -> InvertedIndex:
    """Open an index folder; a missing, partial or foreign folder raises :class:`RankerError`."""
    directory = Path(directory)
    rebuild = "delete the folder and build the index again"
    meta_path = directory / "meta.json"
    if not directory.is_dir():
        raise RankerError(
            f"{directory}: index folder not found; build the index first "
            "(ranker.index(docs, directory), or `irbench run`, which builds it)"
        )
    if not meta_path.is_file():
        raise RankerError(f"{meta_path}: missing, so this is not a complete index; {rebuild}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RankerError(f"{meta_path}: unreadable ({err}); {rebuild}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RankerError(f"{meta_path}: not an irbench inverted index; {rebuild}")
    if meta.get("format_version") != FORMAT_VERSION:
        raise RankerError(
            f"{meta_path}: index format version {meta.get('format_version')!r}, this irbench "
            f"reads version {FORMAT_VERSION}; {rebuild}"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in _ARRAYS:
        path = directory / f"{name}.npy"
        try:
            arrays[name] = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise RankerError(f"{path}: cannot read ({err}); {rebuild}") from None
    try:
        doc_ids = _read_strings(directory / "doc_ids.arrow")
        vocab = _read_strings(directory / "vocab.arrow")
    except (OSError, pa.ArrowException) as err:
        raise RankerError(
            f"{directory}: cannot read the id or term list ({err}); {rebuild}"
        ) from None
    n_docs, n_terms, nnz = meta.get("n_docs"), meta.get("n_terms"), meta.get("nnz")
    found = {name: len(arr) for name, arr in arrays.items()}
    found |= {"doc_ids.arrow": len(doc_ids), "vocab.arrow": len(vocab)}
    expected = {
        "doc_lengths": n_docs,
        "indptr": None if n_terms is None else n_terms + 1,
        "postings_doc": nnz,
        "postings_tf": nnz,
        "doc_ids.arrow": n_docs,
        "vocab.arrow": n_terms,
    }
    bad = [
        f"{name} has {found[name]:,} rows, expected {expected[name]}"
        for name in found
        if found[name] != expected[name]
    ]
    if not bad and int(arrays["indptr"][-1]) != nnz:
        bad.append(f"indptr ends at {int(arrays['indptr'][-1]):,}, expected {nnz}")
    if bad:
        raise RankerError(
            f"{directory}: files do not match meta.json ({'; '.join(bad)}); {rebuild}"
        )
    return InvertedIndex(directory, meta, doc_ids, vocab, **arrays)

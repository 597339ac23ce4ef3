"""The cache of dataset tables (``qrels_cache/`` by default).

Location: the ``cache_dir`` argument (``--cache-dir``), else ``$IRBENCH_CACHE``, else
``./qrels_cache``. One folder per dataset id (``/`` becomes ``__``), one file per part:
``<part>.<fingerprint>.parquet`` for queries and qrels (zstd Parquet), and
``docs.<fingerprint>.arrow`` for a corpus (Arrow IPC file, memory-mapped on read). The
fingerprint hashes the dataset id, the part, every source file's path, size and modification
time, the irbench version, the cache format version and (for ir_datasets-backed parts) the
ir_datasets version; it is also stored in the file's schema metadata (with the row count, in
Parquet). An entry whose file name, stored fingerprint or row count does not match, or that
cannot be read (truncated, overwritten), is rebuilt. Writes are atomic
(:func:`irbench.io.atomic.atomic_output`): an interrupted build leaves no entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from irbench._arrow import read_parquet
from irbench._version import __version__
from irbench.errors import IrbenchWarning

__all__ = ["CACHE_ENV", "CacheEntry", "cache_root", "fingerprint"]

CACHE_ENV = "IRBENCH_CACHE"
_FORMAT_VERSION = "1"
_FP_KEY = b"irbench.fingerprint"
_ROWS_KEY = b"irbench.rows"
_PARQUET = ".parquet"
_ARROW = ".arrow"
#: Parts stored as memory-mapped Arrow IPC files instead of Parquet.
_MAPPED_PARTS = frozenset({"docs"})


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: *cache_dir*, else ``$IRBENCH_CACHE``, else ``./qrels_cache``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path("qrels_cache")


def fingerprint(dataset_id: str, part: str, sources: Iterable[Path], extra: str = "") -> str:
    """A short hex digest identifying one part built from *sources* (path, size, mtime)."""
    files = []
    for path in sorted({Path(p) for p in sources}):
        try:
            st = path.stat()
            files.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([str(path), None, None])
    payload = json.dumps([_FORMAT_VERSION, __version__, dataset_id, part, extra, files])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


class CacheEntry:
    """One cached part of one dataset (see the module docstring for the rules).

    ``queries`` and ``qrels`` are zstd Parquet. ``docs`` is an uncompressed Arrow IPC file that
    is memory-mapped on read, so loading a corpus costs no decoding and no copy: on this
    project's 2-core VM 1M passages read in 0.01-0.4 s this way against 20-66 s through
    Parquet (``bench/bench_datasets.py``), at about 2.4x the disk space of zstd Parquet. As with
    any memory map (Hugging Face ``datasets`` caches the same way), a cache file must not be
    modified in place while a table read from it is alive; irbench only ever replaces entries
    by rename, which leaves live mappings intact.
    """

    def __init__(self, root: Path, dataset_id: str, part: str, fp: str) -> None:
        self.folder = root / dataset_id.replace("/", "__")
        self.part = part
        self.fp = fp
        self.mapped = part in _MAPPED_PARTS
        self.path = self.folder / f"{part}.{fp}{_ARROW if self.mapped else _PARQUET}"

    def valid(self) -> bool:
        """True when the entry exists, opens, and carries our fingerprint (and row count)."""
        if not self.path.is_file():
            return False
        try:
            if self.mapped:
                kv = self._open_mapped().schema.metadata or {}
                ok = kv.get(_FP_KEY) == self.fp.encode()
            else:
                import pyarrow.parquet as pq

                meta = pq.read_metadata(self.path)
                kv = meta.metadata or {}
                rows = str(meta.num_rows).encode()
                ok = kv.get(_FP_KEY) == self.fp.encode() and kv.get(_ROWS_KEY) == rows
        except (pa.ArrowException, OSError):
            self._discard("unreadable")
            return False
        if not ok:
            self._discard("fingerprint or row count does not match")
        return ok

    def _open_mapped(self) -> pa.ipc.RecordBatchFileReader:
        return pa.ipc.open_file(pa.memory_map(str(self.path)))

    def _discard(self, why: str) -> None:
        warnings.warn(
            f"cache entry {self.path} is corrupt ({why}); rebuilding it",
            IrbenchWarning,
            stacklevel=3,
        )
        self.path.unlink(missing_ok=True)

    def num_rows(self) -> int:
        if self.mapped:
            return int(self._open_mapped().count_rows())
        import pyarrow.parquet as pq

        return int(pq.read_metadata(self.path).num_rows)

    def read(self) -> pa.Table:
        """The whole part as one table (memory-mapped, zero-copy, for ``docs``)."""
        table = self._open_mapped().read_all() if self.mapped else read_parquet(self.path)
        return table.replace_schema_metadata(None)

    def iter_batches(self, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream the part in record batches of at most *batch_size* rows."""
        if not self.mapped:
            import pyarrow.parquet as pq

            yield from pq.ParquetFile(self.path).iter_batches(batch_size=batch_size)
            return
        reader = self._open_mapped()
        for i in range(reader.num_record_batches):
            batch = reader.get_batch(i).replace_schema_metadata(None)  # as read() does
            for start in range(0, batch.num_rows, batch_size):  # zero-copy slices
                yield batch.slice(start, batch_size)

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        """Write *batches* atomically; drop stale entries of this part; return the row count."""
        from irbench.io.atomic import atomic_output

        rows = 0
        with atomic_output(self.path) as handle:
            if self.mapped:  # the fingerprint goes in the schema, written first
                tagged = schema.with_metadata({_FP_KEY: self.fp.encode()})
                writer: Any = pa.ipc.new_file(handle, tagged)
            else:
                import pyarrow.parquet as pq

                writer = pq.ParquetWriter(handle, schema, compression="zstd")
            try:
                for batch in batches:
                    if batch.schema != schema:
                        batch = pa.Table.from_batches([batch]).cast(schema)
                    writer.write(batch)
                    rows += batch.num_rows
                if not self.mapped:  # the Parquet footer, written last, also holds the count
                    writer.add_key_value_metadata(
                        {_FP_KEY: self.fp.encode(), _ROWS_KEY: str(rows).encode()}
                    )
            finally:
                writer.close()
        for old in self.folder.glob(f"{self.part}.*"):
            if old != self.path and old.suffix in (_ARROW, _PARQUET):
                old.unlink(missing_ok=True)
        return rows

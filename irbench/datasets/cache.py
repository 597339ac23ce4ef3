"""The Parquet cache of dataset tables (``qrels_cache/`` by default).

Location: the ``cache_dir`` argument (``--cache-dir``), else ``$IRBENCH_CACHE``, else
``./qrels_cache``. One folder per dataset id (``/`` becomes ``__``), one file per part:
``<part>.<fingerprint>.parquet``. The fingerprint hashes the dataset id, the part, every source
file's path, size and modification time, the irbench version, the cache format version and
(for ir_datasets-backed parts) the ir_datasets version; it is also stored in the file's schema
metadata with the row count. An entry whose file name, stored fingerprint or row count does not
match, or that Parquet cannot read (truncated, overwritten), is rebuilt. Writes are atomic
(:func:`irbench.io.atomic.atomic_output`): an interrupted build leaves no entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from irbench.errors import IrbenchWarning

__all__ = ["CACHE_ENV", "CacheEntry", "cache_root", "fingerprint"]

CACHE_ENV = "IRBENCH_CACHE"
_FORMAT_VERSION = "1"
_FP_KEY = b"irbench.fingerprint"
_ROWS_KEY = b"irbench.rows"


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: *cache_dir*, else ``$IRBENCH_CACHE``, else ``./qrels_cache``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path("qrels_cache")


def fingerprint(dataset_id: str, part: str, sources: Iterable[Path], extra: str = "") -> str:
    """A short hex digest identifying one part built from *sources* (path, size, mtime)."""
    import irbench

    files = []
    for path in sorted({Path(p) for p in sources}):
        try:
            st = path.stat()
            files.append([str(path.resolve()), st.st_size, st.st_mtime_ns])
        except OSError:
            files.append([str(path), None, None])
    payload = json.dumps([_FORMAT_VERSION, irbench.__version__, dataset_id, part, extra, files])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


class CacheEntry:
    """One cached part of one dataset (see the module docstring for the rules)."""

    def __init__(self, root: Path, dataset_id: str, part: str, fp: str) -> None:
        self.folder = root / dataset_id.replace("/", "__")
        self.part = part
        self.fp = fp
        self.path = self.folder / f"{part}.{fp}.parquet"

    def valid(self) -> bool:
        """True when the entry exists, reads as Parquet and carries our fingerprint and count."""
        import pyarrow.parquet as pq

        if not self.path.is_file():
            return False
        try:
            meta = pq.read_metadata(self.path)
        except (pa.ArrowException, OSError):
            self._discard("unreadable")
            return False
        kv = meta.metadata or {}
        if kv.get(_FP_KEY) != self.fp.encode() or kv.get(_ROWS_KEY) != str(meta.num_rows).encode():
            self._discard("fingerprint or row count does not match")
            return False
        return True

    def _discard(self, why: str) -> None:
        warnings.warn(
            f"cache entry {self.path} is corrupt ({why}); rebuilding it",
            IrbenchWarning,
            stacklevel=3,
        )
        self.path.unlink(missing_ok=True)

    def num_rows(self) -> int:
        import pyarrow.parquet as pq

        return int(pq.read_metadata(self.path).num_rows)

    def read(self) -> pa.Table:
        import pyarrow.parquet as pq

        return pq.read_table(self.path).replace_schema_metadata(None)

    def iter_batches(self, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        import pyarrow.parquet as pq

        handle = pq.ParquetFile(self.path)
        yield from handle.iter_batches(batch_size=batch_size)

    def write(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> int:
        """Write *batches* atomically; drop stale entries of this part; return the row count."""
        import pyarrow.parquet as pq

        from irbench.io.atomic import atomic_output

        rows = 0
        # The row count goes in the footer, which is written last: collect it while streaming.
        with atomic_output(self.path) as handle:
            writer = pq.ParquetWriter(handle, schema, compression="zstd")
            try:
                for batch in batches:
                    if batch.schema != schema:
                        batch = pa.Table.from_batches([batch]).cast(schema)
                    writer.write(batch)
                    rows += batch.num_rows
                writer.add_key_value_metadata(
                    {_FP_KEY: self.fp.encode(), _ROWS_KEY: str(rows).encode()}
                )
            finally:
                writer.close()
        for old in self.folder.glob(f"{self.part}.*.parquet"):
            if old != self.path:
                old.unlink(missing_ok=True)
        return rows

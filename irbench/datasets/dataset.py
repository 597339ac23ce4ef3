""":class:`Dataset`: one registered dataset's queries, qrels and docs as Arrow tables, cached."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from irbench._arrow import read_parquet
from irbench.datasets import formats
from irbench.datasets.cache import CacheEntry, cache_root, fingerprint
from irbench.datasets.irds import SourceFile
from irbench.datasets.registry import DatasetSpec, get_spec
from irbench.errors import DatasetError, DatasetFilesMissingError
from irbench.io.schema import QRELS_SCHEMA

__all__ = ["OFFLINE_ENV", "Dataset", "embedded_dir", "load_dataset"]

OFFLINE_ENV = "IRBENCH_OFFLINE"
_log = logging.getLogger("irbench.datasets")
_SCHEMAS = {"queries": formats.QUERIES_SCHEMA, "qrels": QRELS_SCHEMA, "docs": formats.DOCS_SCHEMA}


def embedded_dir(dataset_id: str = "vaswani") -> Path:
    """Folder of a dataset shipped inside the package (``irbench/data/<id>``)."""
    return Path(str(resources.files("irbench") / "data" / dataset_id))


def _offline_default() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def load_dataset(
    dataset_id: str, *, cache_dir: str | os.PathLike[str] | None = None, offline: bool | None = None
) -> Dataset:
    """Return the :class:`Dataset` for a registered id (nothing is read until you ask)."""
    return Dataset(get_spec(dataset_id), cache_dir=cache_dir, offline=offline)


class Dataset:
    """Queries, qrels and docs of one dataset as Arrow tables, built once and cached as Parquet.

    Parameters
    ----------
    spec:
        The registry entry (see :func:`irbench.datasets.registry.list_specs`).
    cache_dir:
        Cache folder; default ``$IRBENCH_CACHE`` or ``./qrels_cache``.
    offline:
        Never let ir_datasets download: a missing file raises
        :class:`~irbench.errors.DatasetFilesMissingError` naming where to put it. Default: the
        ``IRBENCH_OFFLINE`` environment variable. When downloads are allowed and fail, the
        same error is raised (never a ``ConnectionError`` traceback).

    ``events`` records, per part, whether it was read from the cache or built (and where).
    """

    def __init__(
        self,
        spec: DatasetSpec,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        offline: bool | None = None,
    ) -> None:
        self.spec = spec
        self.id = spec.id
        self.cache_root = cache_root(cache_dir)
        self.offline = _offline_default() if offline is None else offline
        self.events: list[str] = []
        self._irds: Any = None

    def __repr__(self) -> str:
        return f"Dataset({self.id!r})"

    # ---------------------------------------------------------------- public tables

    def queries(self) -> pa.Table:
        """All queries: ``query_id``, ``text`` (strings), in the source file's order."""
        return self._table("queries")

    def qrels(self) -> pa.Table:
        """All judgments in ``QRELS_SCHEMA`` (``query_id``, ``doc_id``, ``relevance``)."""
        return self._table("qrels")

    def docs(self) -> pa.Table:
        """The whole corpus in one table, memory-mapped from the cache (pages load on use)."""
        if self.spec.backend == "embedded":
            return self._embedded_table("docs")
        return self._entry("docs").read()  # memory-mapped: no decoding, no copy

    def docs_batches(self, batch_size: int = 65536) -> Iterator[pa.RecordBatch]:
        """Stream the corpus (``doc_id``, ``text``, ``title``) from the cache, building it once."""
        if self.spec.backend == "embedded":
            yield from self._embedded_table("docs").to_batches(batch_size)
            return
        yield from self._entry("docs").iter_batches(batch_size)

    def has(self, part: str) -> bool:
        return part in self.spec.parts

    def count(self, part: str) -> int:
        """Row count of a part (reads or builds the cache entry)."""
        if self.spec.backend == "embedded":
            import pyarrow.parquet as pq

            return int(pq.read_metadata(embedded_dir(self.id) / f"{part}.parquet").num_rows)
        return self._entry(part).num_rows()

    def cache_path(self) -> Path:
        """The folder holding this dataset's cache entries."""
        if self.spec.backend == "embedded":
            return embedded_dir(self.id)
        return self.cache_root / self.id.replace("/", "__")

    def source_files(self, part: str) -> list[SourceFile]:
        """The files the part is built from (with where they must be and what they hold)."""
        if not self.has(part):
            return []
        if self.spec.backend == "embedded":
            return [SourceFile(embedded_dir(self.id) / f"{part}.parquet", "parquet")]
        if self.spec.backend == "native":
            from irbench.datasets.irds import home

            rel, fmt = self.spec.native_files[part]
            return [SourceFile(home() / rel, fmt)]
        from irbench.datasets import irds

        return irds.part_files(self.irds_dataset(), part)

    # ---------------------------------------------------------------- internals

    def _note(self, message: str) -> None:
        self.events.append(message)
        _log.info("%s: %s", self.id, message)

    def irds_dataset(self) -> Any:
        """The ir_datasets dataset behind this id (loaded on first use; for native datasets)."""
        if self._irds is None:
            from irbench.datasets import irds

            self._irds = irds.load(self.id)
        return self._irds

    def _embedded_table(self, part: str) -> pa.Table:
        path = embedded_dir(self.id) / f"{part}.parquet"
        self._note(f"{part}: read from the copy shipped with irbench ({path})")
        return read_parquet(path).replace_schema_metadata(None)

    def _table(self, part: str) -> pa.Table:
        if not self.has(part):
            raise DatasetError(f"{self.id} has no {part} (it has {', '.join(self.spec.parts)})")
        if self.spec.backend == "embedded":
            return self._embedded_table(part)
        return self._entry(part).read()

    def _fingerprint_sources(self, part: str) -> list[SourceFile]:
        if part == "docs":
            return self.source_files("docs")
        # A filtered query set (``*/judged``, BEIR splits) depends on the qrels too.
        return self.source_files("queries") + self.source_files("qrels")

    def _entry(self, part: str) -> CacheEntry:
        if not self.has(part):
            raise DatasetError(f"{self.id} has no {part} (it has {', '.join(self.spec.parts)})")
        files = self.source_files(part)
        missing = [f for f in files if not f.path.exists()]
        if missing and (self.offline or self.spec.backend == "native"):
            raise self._missing(part, missing)
        extra = ""
        if self.spec.backend == "irds":
            import ir_datasets

            extra = f"ir_datasets {ir_datasets.__version__}"
        fp = fingerprint(self.id, part, [f.path for f in self._fingerprint_sources(part)], extra)
        entry = CacheEntry(self.cache_root, self.id, part, fp)
        if entry.valid():
            self._note(f"{part}: read from cache {entry.path}")
            return entry
        rows = entry.write(_SCHEMAS[part], self._build(part, files))
        self._note(f"{part}: built {rows:,} rows into cache {entry.path}")
        return entry

    def _missing(self, part: str, missing: list[SourceFile]) -> DatasetFilesMissingError:
        from irbench.datasets import irds

        err = irds.missing_error(self.id, part, missing)
        if self.spec.backend == "native":
            err.args = (err.args[0] + " (there is no public download for this dataset)",)
        return err

    def _build(self, part: str, files: list[SourceFile]) -> Iterator[pa.RecordBatch]:
        if self.spec.backend == "native":
            yield from _native(part, files[0])
            return
        from irbench.datasets import irds

        ds = self.irds_dataset()
        irds.guard_migrations(ds)
        if self.offline:
            with irds.no_downloads(self.id, part):
                yield from self._build_irds(part, files, ds)
        else:
            yield from self._build_irds(part, files, ds)

    def _build_irds(self, part: str, files: list[SourceFile], ds: Any) -> Iterator[pa.RecordBatch]:
        from irbench.datasets import irds

        if part == "queries":
            yield from irds.queries_table(self.id, ds, files).to_batches()
        elif part == "qrels":
            yield from irds.qrels_table(self.id, ds, files).to_batches()
        else:
            fast = files[0] if len(files) == 1 and files[0].path.exists() else None
            if fast is not None and fast.fmt == "tsv-docs" and fast.packing in ("", "gzip"):
                yield from formats.tsv_docs_batches(fast.path, fast.packing)
            elif fast is not None and fast.fmt == "beir-zip-docs" and fast.packing == "zip":
                yield from formats.beir_zip_docs_batches(fast.path, fast.member)
            else:
                yield from irds.docs_batches(self.id, ds, files)


def _native(part: str, source: SourceFile) -> Iterator[pa.RecordBatch]:
    readers: dict[str, Any] = {
        "beir-queries": formats.beir_queries,
        "beir-qrels": formats.beir_qrels,
        "smart-queries": formats.smart_queries,
        "smart-qrels": formats.smart_qrels,
        "smart-docs": formats.smart_docs,
    }
    if source.fmt == "beir-zip-docs":
        yield from formats.beir_zip_docs_batches(source.path)
        return
    reader = readers.get(source.fmt)
    if reader is None:  # pragma: no cover - registry and readers are kept in step
        raise DatasetError(f"no reader for {source.fmt} ({part})")
    yield from reader(source.path).to_batches()

"""Bridge to ir_datasets (imported lazily, only here): file layout, migrations, iterators.

ir_datasets (https://github.com/allenai/ir_datasets, 0.6.x) knows where every file of a dataset
lives under ``IR_DATASETS_HOME`` and how to parse it. We ask it three things:

* :func:`part_files` walks a part's handler (``Cache`` → the extracted file it reads;
  ``Download`` → the downloaded file, gzip/zip noted) to list the files it will open, so a
  missing file is reported by path before ir_datasets tries the network;
* :func:`guard_migrations` writes the ``irds_version.txt`` files its ``Migrator`` expects next
  to files that already exist (without it, ir_datasets *deletes* a hand-placed
  ``msmarco-passage/collection.tsv`` on first use);
* :func:`no_downloads` makes any download ir_datasets would start an error naming the file.

A ``Migrator`` runs its migration (deleting its "affected files" when the version file is
missing or old) on the first *call* of any method reached through it, ``docs_handler()``
included (``Migrator.__getattr__`` wraps every callable). So nothing here calls a method
through a ``Migrator``: handlers are found by walking ``Dataset._constituents`` and unwrapping
each ``Migrator`` by its ``_wrapped`` attribute (``vars``, which bypasses ``__getattr__``).
* the ``*_iter`` functions for queries, qrels and (when we cannot read the corpus straight into
  Arrow) docs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from irbench.errors import DatasetError, DatasetFilesMissingError

__all__ = [
    "SourceFile",
    "docs_batches",
    "guard_migrations",
    "home",
    "load",
    "no_downloads",
    "part_files",
    "qrels_table",
    "queries_table",
]

_EXTRACTORS = {"GzipExtract": "gzip", "ZipExtract": "zip", "TarExtract": "tar", "Bz2Extract": "bz2"}
_FORMATS = {
    "TrecQrels": "trec-qrels",
    "BeirQrels": "beir-qrels",
    "CranfieldQrels": "cranfield-qrels",
    "TsvQueries": "tsv-queries",
    "BeirQueries": "beir-queries",
    "CranfieldQueries": "cranfield-queries",
    "TsvDocs": "tsv-docs",
    "BeirDocs": "beir-zip-docs",
    "CranfieldDocs": "cranfield-docs",
}


@dataclass(frozen=True)
class SourceFile:
    """A file a dataset part reads: where it must be, in which format, and how it is packed.

    ``packing`` is ``""`` (plain), ``"gzip"``, ``"zip"`` (``member`` inside it) or ``"tar"``.
    """

    path: Path
    fmt: str
    packing: str = ""
    member: str | None = None

    def describe(self) -> str:
        what = {
            "trec-qrels": "TREC qrels: qid Q0 docid grade",
            "beir-qrels": "BEIR qrels TSV with header query-id<TAB>corpus-id<TAB>score",
            "tsv-queries": "queries: qid<TAB>text",
            "beir-queries": "BEIR queries.jsonl ({'_id', 'text', 'metadata'})",
            "tsv-docs": "corpus: docid<TAB>text",
            "beir-zip-docs": "the BEIR zip (with <name>/corpus.jsonl, queries.jsonl, qrels/)",
            "cranfield-docs": "cran.all.1400",
            "cranfield-queries": "cran.qry",
            "cranfield-qrels": "cranqrel",
        }.get(self.fmt, self.fmt)
        if self.packing == "gzip":
            what = f"gzip of {what}"
        elif self.packing == "tar":
            what = f"tar archive holding {self.member or what}"
        return what


def home() -> Path:
    """ir_datasets' data folder: ``$IR_DATASETS_HOME`` or ``~/.ir_datasets``."""
    return Path(os.environ.get("IR_DATASETS_HOME") or Path.home() / ".ir_datasets").expanduser()


def load(irds_id: str) -> Any:
    """``ir_datasets.load(irds_id)`` with ir_datasets' chatter kept off the console."""
    import logging

    import ir_datasets

    logging.getLogger("ir_datasets").setLevel(logging.WARNING)
    try:
        ds = ir_datasets.load(irds_id)
        if not _bound_to_home(ds):
            _rebind(irds_id)
            ds = ir_datasets.load(irds_id)
        return ds
    except KeyError:
        raise DatasetError(f"ir_datasets has no dataset {irds_id!r}") from None


def _bound_to_home(ds: Any) -> bool:
    """Whether ir_datasets built *ds* under the current ``IR_DATASETS_HOME``."""
    root = home().resolve()
    for part in ("qrels", "queries", "docs"):
        for f in part_files(ds, part):
            return f.path.resolve().is_relative_to(root)
    return True


def _rebind(irds_id: str) -> None:
    """Re-run the family's ``_init()`` so its paths follow a changed ``IR_DATASETS_HOME``.

    ir_datasets fixes each dataset's paths when its module is first imported; irbench reads the
    variable at call time, so ``import_files(home=...)`` and tests can switch homes in-process.
    """
    import importlib

    import ir_datasets

    family = irds_id.split("/", 1)[0]
    module = importlib.import_module(f"ir_datasets.datasets.{family.replace('-', '_')}")
    registered = ir_datasets.registry._registered
    saved = {k: v for k, v in registered.items() if k == family or k.startswith(family + "/")}
    for key in saved:
        del registered[key]
    try:
        module._init()
    except Exception:
        registered.update(saved)
        raise


def _unwrap(obj: Any) -> Any:
    """The object a chain of ``Migrator`` wraps, reached without calling through them."""
    from ir_datasets.util import Migrator

    while isinstance(obj, Migrator):
        obj = vars(obj)["_wrapped"]
    return obj


def _handler(ds: Any, part: str) -> Any | None:
    """``ds.<part>_handler()`` as ``Dataset.__getattr__`` resolves it (first constituent that
    has it), but without calling through a ``Migrator``, which would run its migration."""
    attr = f"{part}_handler"
    constituents = vars(ds).get("_constituents") if hasattr(ds, "__dict__") else None
    if constituents is None:
        obj = _unwrap(ds)
        return getattr(obj, attr)() if hasattr(obj, attr) else None
    for item in constituents:
        obj = _unwrap(item)
        if vars(obj).get("_constituents") is not None:  # a nested Dataset
            found = _handler(obj, part)
            if found is not None:
                return found
        elif hasattr(obj, attr):
            return getattr(obj, attr)()
    return None


def part_files(ds: Any, part: str) -> list[SourceFile]:
    """The files ir_datasets reads for *part* (``queries``, ``qrels`` or ``docs``)."""
    handler = _handler(ds, part)
    if handler is None:
        return []
    out: list[SourceFile] = []
    _walk(handler, "", None, set(), out, _fmt_of(handler))
    return out


def _fmt_of(handler: Any) -> str:
    obj = handler
    for _ in range(4):  # Migrator / Filtered* wrappers
        name = type(obj).__name__
        if name in _FORMATS:
            return _FORMATS[name]
        inner = vars(obj).get("_wrapped") or vars(obj).get("_queries_handler")
        inner = inner or vars(obj).get("_qrels_handler")
        if inner is None:
            break
        obj = inner
    return "irds:" + type(obj).__name__


def _walk(
    obj: Any, packing: str, member: str | None, seen: set[int], out: list[SourceFile], fmt: str
) -> None:
    from ir_datasets.util import Cache, Download

    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, Cache):
        out.append(SourceFile(Path(obj._path), fmt))
        return
    if isinstance(obj, Download):
        if obj._cache_path:
            out.append(SourceFile(Path(obj._cache_path), fmt, packing, member))
        return
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _walk(item, packing, member, seen, out, fmt)
        return
    if isinstance(obj, dict):
        for item in obj.values():
            _walk(item, packing, member, seen, out, fmt)
        return
    kind = type(obj).__name__
    if not (type(obj).__module__ or "").startswith("ir_datasets") or kind == "Lazy":
        return
    if kind in _EXTRACTORS:
        packing = _EXTRACTORS[kind]
        member = getattr(obj, "zip_path", None) or getattr(obj, "_tar_path", None) or member
    for value in vars(obj).values():
        _walk(value, packing, member, seen, out, fmt)


def _migrators(obj: Any, seen: set[int], out: list[Any]) -> None:
    """Every ``Migrator`` in an ir_datasets object graph (walked with ``vars``)."""
    from ir_datasets.util import Migrator

    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, (list, tuple)):
        for item in obj:
            _migrators(item, seen, out)
        return
    if isinstance(obj, dict):
        for item in obj.values():
            _migrators(item, seen, out)
        return
    if not (type(obj).__module__ or "").startswith("ir_datasets") or not hasattr(obj, "__dict__"):
        return
    if isinstance(obj, Migrator):
        out.append(obj)
    for value in vars(obj).values():
        _migrators(value, seen, out)


def guard_migrations(ds: Any) -> None:
    """Make sure no ``Migrator`` of *ds* will delete a file that is on disk.

    A ``Migrator`` deletes its "affected files" when its version file is missing or holds
    another version; for files a user placed by hand (or ``irbench datasets import`` placed)
    that is data loss. A missing version file is written (the files are taken as current); a
    different version with affected files present is refused with the files named, and
    nothing is deleted.
    """
    found: list[Any] = []
    _migrators(ds, set(), found)
    for migrator in found:
        state = vars(migrator)
        present = [Path(f) for f in state["_affected_files"] if os.path.exists(f)]
        if not present:
            continue
        version_file = Path(state["_version_file"])
        if not version_file.exists():
            version_file.parent.mkdir(parents=True, exist_ok=True)
            version_file.write_text(state["_version"])
        elif version_file.read_text() != state["_version"]:
            raise DatasetError(
                f"ir_datasets would delete {', '.join(map(str, present))} to migrate them to "
                f"{state['_version']!r} ({version_file} says {version_file.read_text()!r}); "
                "irbench never deletes your files: re-import them with `irbench datasets "
                f"import`, or write {state['_version']!r} into {version_file} if they are current"
            )


@contextmanager
def no_downloads(ds_id: str, part: str) -> Iterator[None]:
    """Within the block, a download ir_datasets starts raises
    :class:`DatasetFilesMissingError` naming the file it wanted (no network, no chatter)."""
    from ir_datasets.util import Download

    original, original_stream = Download.path, Download.stream

    def refuse(self: Any) -> DatasetFilesMissingError:
        cache = vars(self).get("_cache_path")
        if not cache:
            return DatasetFilesMissingError(
                f"{ds_id}: the {part} need a download, and irbench does not download here", []
            )
        return missing_error(ds_id, part, [SourceFile(Path(cache), "file ir_datasets downloads")])

    def path(self: Any, force: bool = True) -> Any:
        cache = vars(self).get("_cache_path")
        if vars(self).get("_path") is not None or not force:
            return original(self, force)
        if cache is not None and os.path.exists(cache) and cache != os.devnull:
            return original(self, force)
        raise refuse(self)

    @contextmanager
    def stream(self: Any) -> Iterator[Any]:
        if vars(self).get("_stream"):  # streamed straight from a mirror
            raise refuse(self)
        with original_stream(self) as handle:
            yield handle

    Download.path = path
    Download.stream = stream
    try:
        yield
    finally:
        Download.path = original
        Download.stream = original_stream


def missing_error(ds_id: str, part: str, missing: list[SourceFile]) -> DatasetFilesMissingError:
    lines = "; ".join(f"{f.path} ({f.describe()})" for f in missing)
    return DatasetFilesMissingError(
        f"{ds_id}: the {part} files are not on disk and were not downloaded. Put them here: "
        f"{lines}. `irbench datasets import {ds_id} FILE...` does it for you from the official "
        f"files (IR_DATASETS_HOME={home()})",
        [(str(f.path), f.describe()) for f in missing],
    )


def _download_failed(
    ds_id: str, part: str, files: list[SourceFile], exc: BaseException
) -> Exception:
    err = missing_error(ds_id, part, [f for f in files if not f.path.exists()] or files)
    err.args = (f"{err.args[0]} (download failed: {type(exc).__name__})",)
    return err


def _network_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError, RuntimeError, OSError]
    try:
        import requests

        errors.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover - requests comes with ir_datasets
        pass
    return tuple(errors)


def _guarded_iter(ds_id: str, part: str, files: list[SourceFile], it: Any) -> Iterator[Any]:
    try:
        yield from it()
    except DatasetError:
        raise
    except _network_errors() as exc:
        if any(not f.path.exists() for f in files):
            raise _download_failed(ds_id, part, files, exc) from None
        raise DatasetError(f"{ds_id}: ir_datasets could not read the {part} ({exc})") from None
    except (AssertionError, ValueError, KeyError) as exc:  # a malformed file
        where = ", ".join(str(f.path) for f in files)
        raise DatasetError(
            f"{ds_id}: ir_datasets could not parse the {part} in {where} ({type(exc).__name__}: "
            f"{exc}); re-import the official files with `irbench datasets import`"
        ) from None


def queries_table(ds_id: str, ds: Any, files: list[SourceFile]) -> pa.Table:
    """All queries as ``query_id``, ``text`` (ir_datasets' ``default_text()`` when no text)."""
    ids: list[str] = []
    texts: list[str] = []
    for q in _guarded_iter(ds_id, "queries", files, ds.queries_iter):
        ids.append(str(q.query_id))
        text = getattr(q, "text", None)
        texts.append(str(text) if text is not None else str(q.default_text()))
    return pa.table({"query_id": pa.array(ids, pa.string()), "text": pa.array(texts, pa.string())})


def qrels_table(ds_id: str, ds: Any, files: list[SourceFile]) -> pa.Table:
    """All judgments in ``QRELS_SCHEMA``, in file order."""
    from irbench.io.schema import QRELS_SCHEMA

    qids: list[str] = []
    dids: list[str] = []
    rels: list[int] = []
    for r in _guarded_iter(ds_id, "qrels", files, ds.qrels_iter):
        qids.append(str(r.query_id))
        dids.append(str(r.doc_id))
        rels.append(int(r.relevance))
    return pa.Table.from_arrays(
        [pa.array(qids, pa.string()), pa.array(dids, pa.string()), pa.array(rels, pa.int64())],
        schema=QRELS_SCHEMA,
    )


def docs_batches(
    ds_id: str, ds: Any, files: list[SourceFile], batch_size: int = 65536
) -> Iterator[pa.RecordBatch]:
    """Documents from ``docs_iter()`` as record batches (``doc_id``, ``text``, ``title``)."""
    from irbench.datasets.formats import DOCS_SCHEMA

    ids: list[str] = []
    texts: list[str] = []
    titles: list[str | None] = []

    def flush() -> pa.RecordBatch:
        batch = pa.record_batch(
            [
                pa.array(ids, pa.string()),
                pa.array(texts, pa.string()),
                pa.array(titles, pa.string()),
            ],
            schema=DOCS_SCHEMA,
        )
        ids.clear()
        texts.clear()
        titles.clear()
        return batch

    for d in _guarded_iter(ds_id, "docs", files, ds.docs_iter):
        ids.append(str(d.doc_id))
        text = getattr(d, "text", None)
        if text is None:
            text = getattr(d, "body", None)
        texts.append(str(text) if text is not None else str(d.default_text()))
        title = getattr(d, "title", None)
        titles.append(None if title is None else str(title))
        if len(ids) >= batch_size:
            yield flush()
    if ids:
        yield flush()

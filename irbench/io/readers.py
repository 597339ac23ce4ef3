"""Public readers: :func:`read_run`, :func:`read_qrels` and :func:`locate_lines`.

Accepted sources
----------------
* a path (``str`` or ``os.PathLike``) to TREC text, plain or gzip (detected by magic bytes);
  ``"-"`` reads binary stdin;
* a ``.parquet`` file (also recognised by its ``PAR1`` magic bytes);
* a ``.jsonl``/``.ndjson`` file, optionally gzipped: one object per line with ``query_id``,
  ``doc_id`` and ``score``/``relevance`` (aliases such as ``qid``, ``docno``, ``docid`` accepted);
* for qrels, a dataset id such as ``msmarco-passage/trec-dl-2019/judged`` when no file has that
  name (:mod:`irbench.datasets`; an unknown id that is close to a known one gets a suggestion);
* a ``pyarrow.Table`` or ``RecordBatch``, a ``pandas.DataFrame`` (pandas is imported lazily,
  only if you pass one), a dict of dicts ``{query_id: {doc_id: value}}``, or an iterable of
  ir_measures records (``ScoredDoc``/``Qrel``, or ``(query_id, doc_id, value)`` tuples).

TREC text rules are in :mod:`irbench.io._trec`; column rules in :mod:`irbench.io._tables`.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from irbench._arrow import read_parquet
from irbench.errors import InputFormatError, NotStreamableError
from irbench.io import _source, _tables, _trec
from irbench.io.schema import QRELS_SCHEMA, RUN_NAME_KEY, RUN_SCHEMA

__all__ = ["RunSource", "locate_lines", "read_qrels", "read_run"]

#: Anything :func:`read_run` / :func:`read_qrels` accept.
RunSource = Any

_PARQUET_MAGIC = b"PAR1"
_JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_DEFAULT_NAME = "run"


def read_run(source: RunSource, *, name: str | None = None) -> pa.Table:
    """Read a run into a table in :data:`~irbench.io.schema.RUN_SCHEMA`.

    Parameters
    ----------
    source:
        See the module docstring. TREC run lines are ``qid iter docno rank score tag``; iter and
        rank are ignored (ranks are derived from scores later), extra fields are ignored.
    name:
        The run name stored in the schema metadata under ``RUN_NAME_KEY``. Default: for TREC
        text, the run tag of the last record line; for Parquet, the stored name if any, else
        the file stem; for JSONL, the file stem; for tables, their stored name if any, else
        ``"run"``.

    Returns
    -------
    pyarrow.Table
        Columns ``query_id`` (string), ``doc_id`` (string), ``score`` (float64), in file order.

    Raises
    ------
    InputFormatError
        Malformed input (file name, physical line and a hint in the message).
    MissingFileError
        The file does not exist.

    Notes
    -----
    Duplicate (query, doc) pairs are not checked here (the engine does; see
    :func:`locate_lines`).
    """
    table, default = _read(source, RUN_SCHEMA)
    return _with_name(table, name if name is not None else default)


def read_qrels(source: RunSource) -> pa.Table:
    """Read relevance judgments into a table in :data:`~irbench.io.schema.QRELS_SCHEMA`.

    Parameters
    ----------
    source:
        See the module docstring. TREC qrels lines are exactly ``qid iter docno rel`` with an
        integer ``rel`` (negative grades allowed).

    Returns
    -------
    pyarrow.Table
        Columns ``query_id`` (string), ``doc_id`` (string), ``relevance`` (int64), file order.

    Raises
    ------
    DuplicateEntryError
        A (query, doc) pair is judged twice in a TREC qrels file (both lines named).
    InputFormatError
        Malformed input.
    MissingFileError
        The file does not exist.
    """
    table, _ = _read(source, QRELS_SCHEMA)
    return table.replace_schema_metadata(None)


def locate_lines(path: str | os.PathLike[str], query_id: str, doc_id: str) -> list[int]:
    """Return the physical 1-based line numbers where (*query_id*, *doc_id*) occurs.

    Works for TREC runs and qrels (query id is field 1, doc id field 3), plain or gzip. This is a
    slow Python scan, meant for error messages (e.g. a duplicate found by the engine).
    """
    return _trec.locate(_source.load_bytes(path), query_id, doc_id)


# --------------------------------------------------------------------------------------------


def _with_name(table: pa.Table, name: str) -> pa.Table:
    metadata = dict(table.schema.metadata or {})
    metadata[RUN_NAME_KEY] = name.encode("utf-8")
    return table.replace_schema_metadata(metadata)


def _stored_name(table: pa.Table) -> str | None:
    raw = (table.schema.metadata or {}).get(RUN_NAME_KEY)
    return raw.decode("utf-8", "replace") if raw else None


def _is_dataframe(source: object) -> bool:
    module = type(source).__module__ or ""
    return module.split(".")[0] == "pandas" and hasattr(source, "columns")


def _read(source: RunSource, schema: pa.Schema) -> tuple[pa.Table, str]:
    """Dispatch on the source kind; return the table and its default run name."""
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        table = _tables.coerce_table(source, schema, "table")
        return table, _stored_name(table) or _DEFAULT_NAME
    if _is_dataframe(source):
        return _tables.from_frame(source, schema), _DEFAULT_NAME
    if isinstance(source, Mapping):
        return _tables.from_dict(source, schema), _DEFAULT_NAME
    if isinstance(source, str) and schema is QRELS_SCHEMA and _maybe_dataset_id(source):
        # A dataset id (irbench.datasets), imported by name: a static import here would put
        # irbench.io and irbench.datasets in one import cycle.
        hook = importlib.import_module("irbench.datasets.hook")
        table = hook.qrels_for_id(source)
        if table is not None:
            return table, source
    if isinstance(source, (str, os.PathLike)):
        return _read_file(source, schema)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raise InputFormatError(
            "got raw bytes; pass a path, '-' for stdin, or a table",
            hint="write the bytes to a file first",
        )
    if isinstance(source, Iterable):
        return _tables.from_records(source, schema), _DEFAULT_NAME
    raise InputFormatError(
        f"cannot read a {schema_kind(schema)} from a {type(source).__name__}",
        hint="pass a path, '-', a pyarrow Table, a pandas DataFrame, a dict of dicts or records",
    )


def _maybe_dataset_id(source: str) -> bool:
    """A string that is not stdin and names no existing file may be a dataset id."""
    return not _source.is_stdin(source) and not os.path.exists(source)


def schema_kind(schema: pa.Schema) -> str:
    """``"run"`` or ``"qrels"`` for one of the two input schemas."""
    return "qrels" if schema.field(2).name == "relevance" else "run"


def _read_file(source: str | os.PathLike[str], schema: pa.Schema) -> tuple[pa.Table, str]:
    where = _source.describe(source)
    stem = _source.stem_of(source)
    if schema is RUN_SCHEMA and _is_run_text_file(source):
        from irbench.io.chunks import read_run_in_chunks

        try:
            table, tag = read_run_in_chunks(source)
            return table, tag or stem
        except NotStreamableError:
            pass  # JSON Lines after all: read whole below
    data = _source.load_bytes(source)
    if data[: len(_PARQUET_MAGIC)] == _PARQUET_MAGIC:
        return _read_parquet(data, schema, where, stem)
    name = "" if _source.is_stdin(source) else os.fspath(source)
    if _source.strip_compression_suffix(name).endswith(_JSON_SUFFIXES) or _looks_like_json(data):
        return _tables.from_jsonl(data, schema, where), stem
    fmt = _trec.QRELS_FORMAT if schema is QRELS_SCHEMA else _trec.RUN_FORMAT
    table = _trec.parse_trec(data, fmt, where)
    tag = _trec.last_run_tag(data) if fmt is _trec.RUN_FORMAT else None
    return table, tag or stem


def _is_run_text_file(source: str | os.PathLike[str]) -> bool:
    """A run file that may be TREC text (not stdin, not named as JSON, not Parquet): read in
    chunks parsed in parallel (:func:`irbench.io.chunks.read_run_in_chunks`)."""
    from irbench.io.chunks import is_streamable_path

    if not is_streamable_path(source):
        return False
    try:
        with open(os.fspath(source), "rb") as fh:
            return fh.read(len(_PARQUET_MAGIC)) != _PARQUET_MAGIC
    except OSError:
        return False  # the whole-file path reports it


def _looks_like_json(data: _source.Data) -> bool:
    """True when the first non-blank line is a whole JSON object.

    A TREC line may start with ``{`` (ids are free text), so a leading brace alone
    does not make a file JSON Lines; the line must also parse as an object.
    """
    head = bytes(data[:65536]).lstrip()
    if head[:1] != b"{":
        return False
    first = head.split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False


def _read_parquet(
    data: _source.Data, schema: pa.Schema, where: str, stem: str
) -> tuple[pa.Table, str]:
    try:
        table = read_parquet(pa.BufferReader(pa.py_buffer(data)))
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"unreadable Parquet file ({exc})", path=where) from None
    coerced = _tables.coerce_table(table, schema, where)
    return coerced, _stored_name(coerced) or stem

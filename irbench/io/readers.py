"""Public readers: :func:`read_run`, :func:`read_qrels` and :func:`locate_lines`.

Accepted sources
----------------
* a path (``str`` or ``os.PathLike``) to TREC text, plain or gzip (detected by magic bytes);
  ``"-"`` reads binary stdin;
* a ``.parquet`` file (also recognised by its ``PAR1`` magic bytes);
* a ``.jsonl``/``.ndjson`` file, optionally gzipped: one object per line with ``query_id``,
  ``doc_id`` and ``score``/``relevance`` (aliases such as ``qid``, ``docno``, ``docid`` accepted);
* a ``pyarrow.Table`` or ``RecordBatch``, a ``pandas.DataFrame`` (pandas is imported lazily,
  only if you pass one), a dict of dicts ``{query_id: {doc_id: value}}``, or an iterable of
  ir_measures records (``ScoredDoc``/``Qrel``, or ``(query_id, doc_id, value)`` tuples).

TREC text rules are in :mod:`irbench.io._trec`; column rules in :mod:`irbench.io._tables`;
format sniffing in :mod:`irbench.io.sniff`. Dataset ids (``msmarco-passage/trec-dl-2019/judged``)
are resolved above this package, by :func:`irbench.datasets.qrels_source.read_qrels`, which
the evaluator and ``irbench.read_qrels`` use: irbench.io imports nothing of irbench.datasets.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from irbench._arrow import read_parquet
from irbench.errors import InputFormatError, NotStreamableError
from irbench.io import _source, _tables, _trec
from irbench.io.chunks import is_streamable_path, read_run_in_chunks
from irbench.io.schema import QRELS_SCHEMA, RUN_NAME_KEY, RUN_SCHEMA
from irbench.io.sniff import PARQUET_MAGIC, is_json_name, is_parquet, looks_like_json

__all__ = ["RunSource", "locate_lines", "read_qrels", "read_run"]

#: Anything :func:`read_run` / :func:`read_qrels` accept.
RunSource = Any

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


def locate_lines(
    source: str | os.PathLike[str] | _source.Data, query_id: str, doc_id: str
) -> list[int]:
    """Return the physical 1-based line numbers where (*query_id*, *doc_id*) occurs.

    *source* is a path (TREC runs and qrels, plain or gzip) or TREC text already read (bytes,
    e.g. a streamed chunk: its own line numbers). Query id is field 1, doc id field 3. This is a
    slow Python scan, meant for error messages (e.g. a duplicate found by the engine).
    """
    if isinstance(source, (bytes, bytearray, mmap.mmap)):
        return _trec.locate(source, query_id, doc_id)
    return _trec.locate(_source.load_bytes(source), query_id, doc_id)


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


def schema_kind(schema: pa.Schema) -> str:
    """``"run"`` or ``"qrels"`` for one of the two input schemas."""
    return "qrels" if schema.field(2).name == "relevance" else "run"


def _read_file(source: str | os.PathLike[str], schema: pa.Schema) -> tuple[pa.Table, str]:
    where = _source.describe(source)
    stem = _source.stem_of(source)
    if schema is RUN_SCHEMA and _is_run_text_file(source):
        try:
            table, tag = read_run_in_chunks(source)
            return table, tag or stem
        except NotStreamableError:
            pass  # JSON Lines after all: read whole below
    data = _source.load_bytes(source)
    if is_parquet(data):
        return _read_parquet(data, schema, where, stem)
    if is_json_name(source) or looks_like_json(data):
        return _tables.from_jsonl(data, schema, where), stem
    fmt = _trec.QRELS_FORMAT if schema is QRELS_SCHEMA else _trec.RUN_FORMAT
    table = _trec.parse_trec(data, fmt, where)
    tag = _trec.last_run_tag(data) if fmt is _trec.RUN_FORMAT else None
    return table, tag or stem


def _is_run_text_file(source: str | os.PathLike[str]) -> bool:
    """A run file that may be TREC text (not stdin, not named as JSON, not Parquet): read in
    chunks parsed in parallel (:func:`irbench.io.chunks.read_run_in_chunks`)."""
    if not is_streamable_path(source):
        return False
    try:
        with open(os.fspath(source), "rb") as fh:
            return not is_parquet(fh.read(len(PARQUET_MAGIC)))
    except OSError:
        return False  # the whole-file path reports it


def _read_parquet(
    data: _source.Data, schema: pa.Schema, where: str, stem: str
) -> tuple[pa.Table, str]:
    try:
        table = read_parquet(pa.BufferReader(pa.py_buffer(data)))
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"unreadable Parquet file ({exc})", path=where) from None
    coerced = _tables.coerce_table(table, schema, where)
    return coerced, _stored_name(coerced) or stem

"""Coercing in-memory and columnar inputs (Arrow, pandas, dicts, records, Parquet, JSONL).

Column rules
------------
* Column names are matched case-insensitively. Aliases, in order of preference:
  ``query_id``: query_id, qid; ``doc_id``: doc_id, docno, docid (PyTerrier frames carry both an
  internal integer ``docid`` and the real ``docno``: ``docno`` wins); ``score``: score, sim;
  ``relevance``: relevance, rel, label, grade.
* Ids become strings: string/binary columns are kept (UTF-8 checked), integer columns become
  their decimal string, float columns holding whole numbers become the integer's decimal string
  (``7.0`` → ``"7"``). Missing ids (nulls) are refused.
* Scores become float64 (no nulls, no NaN). Grades become int64 (whole numbers only).
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from irbench.errors import InputFormatError
from irbench.io._source import Data

__all__ = ["ALIASES", "coerce_table", "from_dict", "from_frame", "from_jsonl", "from_records"]

ALIASES: dict[str, tuple[str, ...]] = {
    "query_id": ("query_id", "qid"),
    "doc_id": ("doc_id", "docno", "docid"),
    "score": ("score", "sim"),
    "relevance": ("relevance", "rel", "label", "grade"),
}


def _resolve(names: Iterable[str], wanted: tuple[str, ...], where: str) -> list[str]:
    """Map each canonical column in *wanted* to an existing column name (alias aware)."""
    by_lower: dict[str, str] = {}
    for name in names:
        by_lower.setdefault(str(name).lower(), str(name))
    chosen = []
    for canonical in wanted:
        match = next((by_lower[a] for a in ALIASES[canonical] if a in by_lower), None)
        if match is None:
            raise InputFormatError(
                f"no {canonical!r} column (accepted names: {', '.join(ALIASES[canonical])}); "
                f"found columns {sorted(by_lower.values())}",
                path=where,
                hint="rename the column",
            )
        chosen.append(match)
    return chosen


def _first_bad_row(mask: pa.ChunkedArray | pa.Array) -> int:
    """Index of the first true value in a boolean mask."""
    return int(pc.index(mask, True).as_py())


def _as_id_column(col: pa.ChunkedArray, name: str, where: str) -> pa.ChunkedArray:
    """Convert an id column to ``string`` following the module rules."""
    if col.null_count:
        row = _first_bad_row(pc.is_null(col))
        raise InputFormatError(
            f"{name} is missing in row {row}", path=where, hint="every row needs both ids"
        )
    typ = col.type
    if pa.types.is_dictionary(typ):
        return _as_id_column(col.cast(typ.value_type), name, where)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return col.cast(pa.string())
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        try:
            return col.cast(pa.string())
        except pa.ArrowInvalid:
            raise InputFormatError(
                f"{name} holds bytes that are not valid UTF-8", path=where
            ) from None
    if pa.types.is_integer(typ):
        return col.cast(pa.string())
    if pa.types.is_floating(typ):
        whole = pc.equal(pc.floor(col), col)
        if not pc.all(whole).as_py():
            raise InputFormatError(
                f"{name} column holds non-integer numbers (row {_first_bad_row(pc.invert(whole))})",
                path=where,
                hint="store ids as strings",
            )
        return col.cast(pa.int64()).cast(pa.string())
    raise InputFormatError(
        f"{name} column has type {typ}, expected strings or integers",
        path=where,
        hint="store ids as strings",
    )


def _as_score_column(col: pa.ChunkedArray, where: str) -> pa.ChunkedArray:
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise InputFormatError(
            f"score column has type {col.type}, expected numbers",
            path=where,
            hint="convert scores to float",
        )
    col = col.cast(pa.float64())
    bad = pc.or_kleene(pc.is_null(col), pc.is_nan(col))
    if pc.any(bad).as_py():
        raise InputFormatError(
            f"score is missing or NaN in row {_first_bad_row(bad)}",
            path=where,
            hint="give every retrieved document a numeric score",
        )
    return col


def _as_grade_column(col: pa.ChunkedArray, where: str) -> pa.ChunkedArray:
    typ = col.type
    if col.null_count:
        raise InputFormatError(
            f"relevance is missing in row {_first_bad_row(pc.is_null(col))}", path=where
        )
    if pa.types.is_boolean(typ) or pa.types.is_integer(typ):
        return col.cast(pa.int64())
    if pa.types.is_floating(typ):
        whole = pc.equal(pc.floor(col), col)
        if pc.all(whole).as_py():
            return col.cast(pa.int64())
        raise InputFormatError(
            f"relevance grade in row {_first_bad_row(pc.invert(whole))} is not a whole number",
            path=where,
            hint="grades must be integers such as 0, 1, 2 or -1",
        )
    raise InputFormatError(
        f"relevance column has type {typ}, expected integers",
        path=where,
        hint="grades must be integers such as 0, 1, 2 or -1",
    )


def coerce_table(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """Select, rename and convert the columns of *table* into *schema* (metadata kept)."""
    value = schema.field(2).name
    qcol, dcol, vcol = _resolve(table.column_names, ("query_id", "doc_id", value), where)
    qids = _as_id_column(table.column(qcol), "query_id", where)
    docs = _as_id_column(table.column(dcol), "doc_id", where)
    raw = table.column(vcol)
    values = _as_score_column(raw, where) if value == "score" else _as_grade_column(raw, where)
    if table.num_rows == 0:
        raise InputFormatError("no records (the table is empty)", path=where)
    out = pa.Table.from_arrays([qids, docs, values], schema=schema)
    return out.replace_schema_metadata(table.schema.metadata)


def from_frame(frame: Any, schema: pa.Schema) -> pa.Table:
    """Convert a pandas DataFrame (pandas is only touched through the object given)."""
    where = "DataFrame"
    value = schema.field(2).name
    names = [str(c) for c in frame.columns]
    chosen = _resolve(names, ("query_id", "doc_id", value), where)
    columns: list[pa.Array] = []
    for name in chosen:
        series = frame[name]
        try:
            columns.append(pa.array(series, from_pandas=True))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            if name == chosen[2]:
                raise InputFormatError(f"column {name!r} is not numeric", path=where) from None
            columns.append(_mixed_ids(series.tolist(), name, where))
    table = pa.table(dict(zip(["query_id", "doc_id", value], columns, strict=True)))
    return coerce_table(table, schema, where)


def _mixed_ids(values: list[Any], name: str, where: str) -> pa.Array:
    out = []
    for row, item in enumerate(values):
        if item is None or (isinstance(item, float) and math.isnan(item)):
            raise InputFormatError(f"{name} is missing in row {row}", path=where)
        out.append(str(item))
    return pa.array(out, pa.string())


def _check_number(value: Any, row: str, where: str, schema: pa.Schema) -> float | int:
    grade = schema.field(2).name == "relevance"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputFormatError(
            f"{schema.field(2).name} {value!r} for {row} is not a number", path=where
        )
    if grade:
        if isinstance(value, numbers.Integral):
            return int(value)
        as_float = float(value)
        if as_float.is_integer():
            return int(as_float)
        raise InputFormatError(f"relevance {value!r} for {row} is not an integer", path=where)
    number = float(value)
    if math.isnan(number):
        raise InputFormatError(f"score for {row} is NaN", path=where)
    return number


def from_dict(data: Mapping[Any, Any], schema: pa.Schema) -> pa.Table:
    """Convert ``{query_id: {doc_id: value}}``; keys are converted with ``str``."""
    where = "dict"
    qids: list[str] = []
    docs: list[str] = []
    values: list[float | int] = []
    for qid, inner in data.items():
        if not isinstance(inner, Mapping):
            raise InputFormatError(
                f"value for query {qid!r} is {type(inner).__name__}, expected a dict "
                "{doc_id: value}",
                path=where,
            )
        for doc, value in inner.items():
            values.append(_check_number(value, f"query {qid!r}, doc {doc!r}", where, schema))
            qids.append(str(qid))
            docs.append(str(doc))
    return _build(qids, docs, values, schema, where)


def from_records(records: Iterable[Any], schema: pa.Schema) -> pa.Table:
    """Convert ir_measures-style records (attributes ``query_id``, ``doc_id``, score/relevance).

    Plain 3-tuples ``(query_id, doc_id, value)`` are accepted too.
    """
    where = "records"
    value_name = schema.field(2).name
    qids: list[str] = []
    docs: list[str] = []
    values: list[float | int] = []
    for index, record in enumerate(records):
        if hasattr(record, "query_id") and hasattr(record, value_name):
            qid, doc, value = record.query_id, record.doc_id, getattr(record, value_name)
        elif isinstance(record, tuple) and len(record) == 3:
            qid, doc, value = record
        else:
            raise InputFormatError(
                f"record {index} ({record!r}) has no query_id/doc_id/{value_name}",
                path=where,
                hint="pass ir_measures Qrel/ScoredDoc records or (query_id, doc_id, value) tuples",
            )
        values.append(_check_number(value, f"record {index}", where, schema))
        qids.append(str(qid))
        docs.append(str(doc))
    return _build(qids, docs, values, schema, where)


def _build(
    qids: list[str], docs: list[str], values: list[float | int], schema: pa.Schema, where: str
) -> pa.Table:
    if not qids:
        raise InputFormatError("no records (the input is empty)", path=where)
    arrays = [
        pa.array(qids, pa.string()),
        pa.array(docs, pa.string()),
        pa.array(values, schema.field(2).type),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def from_jsonl(data: Data, schema: pa.Schema, where: str) -> pa.Table:
    """Parse JSON lines (one object per line); falls back to ``json`` for precise errors."""
    import pyarrow.json as pa_json

    try:
        table = pa_json.read_json(pa.py_buffer(data))
    except (pa.ArrowException, ValueError):
        table = _jsonl_slow(data, where)
    return coerce_table(table, schema, where)


def _jsonl_slow(data: Data, where: str) -> pa.Table:
    """Line-by-line JSON parse: ids kept as given, errors with physical line numbers."""
    rows: list[dict[str, Any]] = []
    for lineno, line in enumerate(bytes(data).split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputFormatError(
                f"not valid JSON ({exc})", path=where, line=lineno, hint="one object per line"
            ) from None
        if not isinstance(obj, dict):
            raise InputFormatError(
                "expected a JSON object", path=where, line=lineno, hint="one object per line"
            )
        rows.append(obj)
    if not rows:
        raise InputFormatError("no records found", path=where)
    columns: dict[str, list[Any]] = {}
    for index, row in enumerate(rows):
        for key, value in row.items():
            columns.setdefault(key, [None] * index).append(value)
        for values in columns.values():
            if len(values) < index + 1:
                values.append(None)
    return pa.table({key: _loose_array(values) for key, values in columns.items()})


def _loose_array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())

"""Writers: :func:`write_run` (TREC text) and :func:`write_parquet`, both atomic.

Atomicity: the data goes to a temporary file in the destination folder, is flushed and
``fsync``-ed, then moved over the destination with ``os.replace``. On any error the temporary
file is removed and an existing destination is left untouched.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench.errors import InputFormatError
from irbench.io import _source
from irbench.io._tables import coerce_table
from irbench.io.atomic import atomic_binary_writer, atomic_output
from irbench.io.readers import read_run
from irbench.io.schema import RUN_NAME_KEY, RUN_SCHEMA

__all__ = ["float32_distinct", "format_run", "write_parquet", "write_run"]

_DEFAULT_TAG = "run"
_SLICE_ROWS = 1 << 20


def write_run(table: Any, path: str | os.PathLike[str], *, name: str | None = None) -> None:
    """Write a run as TREC text ``qid Q0 docid rank score tag``.

    Parameters
    ----------
    table:
        A table in ``RUN_SCHEMA`` (or anything :func:`~irbench.io.read_run` accepts).
    path:
        Destination; ``"-"`` writes to stdout; a ``.gz`` suffix writes gzip.
    name:
        The run tag (6th column). Default: the table's stored run name, else ``"run"``.

    Notes
    -----
    Queries are written in ascending id order; within a query rows are ordered by score
    descending, ties by doc id descending (trec_eval's order), and ranks are 1-based in that
    order. Scores use the shortest text that reads back as the same double (``repr`` precision).

    Raises
    ------
    InputFormatError
        The tag or an id is empty or contains whitespace, or a query id starts with ``#``
        (the file could not be read back).
    """
    if isinstance(table, pa.Table):
        run = coerce_table(table, RUN_SCHEMA, "table")
    else:
        run = read_run(table)
    tag = name if name is not None else _stored_tag(run)
    payload = format_run(run, tag)
    if _source.is_stdin(path):
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
        return
    with atomic_binary_writer(path) as handle:
        handle.write(payload)


def write_parquet(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write *table* (schema metadata included) to a Parquet file, atomically."""
    import pyarrow.parquet as pq

    with atomic_output(path) as handle:
        pq.write_table(table, handle)


def format_run(table: pa.Table, tag: str) -> bytes:
    """Return the TREC text of a run table (see :func:`write_run` for the order rules)."""
    _check_token(tag, "run tag")
    _check_ids(table.column("query_id"), "query id", no_hash=True)
    _check_ids(table.column("doc_id"), "doc id", no_hash=False)
    order = pc.sort_indices(
        table,
        sort_keys=[("query_id", "ascending"), ("score", "descending"), ("doc_id", "descending")],
    )
    ordered = table.take(order)
    rank_values = _ranks(ordered.column("query_id"))
    ranks = pa.array(rank_values).cast(pa.string())
    score_text = _score_text(ordered.column("score"), rank_values == 1)
    parts: list[memoryview] = []
    for start in range(0, ordered.num_rows, _SLICE_ROWS):  # slices keep string offsets < 2 GiB
        piece = ordered.slice(start, _SLICE_ROWS)
        lines = pc.binary_join_element_wise(
            piece.column("query_id"),
            "Q0",
            piece.column("doc_id"),
            ranks[start : start + _SLICE_ROWS],
            score_text[start : start + _SLICE_ROWS],
            tag + "\n",
            " ",
        )
        parts.extend(_chunk_bytes(chunk) for chunk in lines.chunks)
    return b"".join(parts)


def _score_text(scores: pa.ChunkedArray, head: np.ndarray) -> pa.ChunkedArray:
    """The score column as text that trec_eval 9.0.x reads back in the same order.

    9.0.x compares scores as C floats (float32), so two scores of a query that differ as
    doubles but round to the same float32 would tie and fall to the doc-id tie-break, silently
    reordering the run (fusion sums, say). Those scores are written as float32 values that
    keep the order (:func:`float32_distinct`); every other score is written unchanged, with
    the shortest text that reads back as the same double. A warning gives the count.
    """
    text = pc.cast(scores, pa.string())
    values = np.asarray(scores.to_numpy(), dtype=np.float64)
    if np.isnan(values).any():
        raise InputFormatError("a score is NaN; a run's scores must be numbers")
    adjusted, nudged = float32_distinct(values, head)
    count = int(nudged.sum())
    if not count:
        return text
    import warnings

    from irbench.errors import IrbenchWarning

    warnings.warn(
        f"{count} score(s) differ from the previous score of their query only beyond float32 "
        "precision; they are written as the next float32 values below, so that trec_eval "
        "9.0.x (which compares scores as C floats) keeps the ranking's order",
        IrbenchWarning,
        stacklevel=4,
    )
    replacements = pa.array(adjusted[nudged].astype(str))
    return pa.chunked_array(
        [pc.replace_with_mask(text.combine_chunks(), pa.array(nudged), replacements)]
    )


_F32_SIGN = np.int64(0x80000000)


def _f32_order(values: np.ndarray) -> np.ndarray:
    """Each float32 as an int64 whose order is the floats' order (-0.0 and 0.0 both 0)."""
    bits = values.astype(np.float32).view(np.uint32).astype(np.int64)
    negative = bits >= _F32_SIGN
    return np.where(negative, -(bits - _F32_SIGN), bits)


def _f32_from_order(order: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_f32_order` (0 gives +0.0)."""
    bits = np.where(order < 0, (-order) | _F32_SIGN, order).astype(np.uint32)
    return bits.view(np.float32)


def float32_distinct(scores: np.ndarray, head: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores (grouped by query, each query sorted descending; ``head`` marks each query's
    first row) as float32 values that keep every strict step of the doubles, and which rows
    had to change.

    Row i keeps ``float32(s[i])`` unless that is not below the previous row's value where the
    doubles step down; then it takes the next float32 below that value. Ties stay ties. With
    ``o`` the order-preserving integer of a float32, ``c`` the count of strict steps so far in
    the query, ``o'[i] = min(o[i], o'[i-1] - step[i])`` is ``o' = cummin(o + c) - c``
    within each query: one running minimum over the run, each query offset below the last.
    A written float32 is strictly between its neighbours as doubles too, so trec_eval 10.0
    reads the same order.
    """
    n = scores.size
    order = _f32_order(scores)
    if n < 2:
        return _f32_from_order(order), np.zeros(n, dtype=bool)
    step = np.zeros(n, dtype=np.int64)
    step[1:] = (scores[1:] < scores[:-1]) & ~head[1:]
    steps = np.cumsum(step)
    query = np.cumsum(head) - 1
    first = np.flatnonzero(head)
    within = steps - steps[first][query]  # strict steps so far in the row's query
    v = order + within
    span = int(v.max() - v.min()) + 1
    offset = query.astype(np.int64) * span  # each query below every earlier one
    adjusted = np.minimum.accumulate(v - offset) + offset - within
    nudged = adjusted != order
    if nudged.any() and int(adjusted.min()) < int(_f32_order(np.array([-np.inf]))[0]):
        raise InputFormatError(
            "scores too close to -infinity to keep their order as float32",
            hint="rescale the scores",
        )
    return _f32_from_order(adjusted), nudged


def _stored_tag(table: pa.Table) -> str:
    raw = (table.schema.metadata or {}).get(RUN_NAME_KEY)
    return raw.decode("utf-8") if raw else _DEFAULT_TAG


def _check_token(text: str, what: str) -> None:
    if not text or any(ch.isspace() for ch in text):
        raise InputFormatError(
            f"{what} {text!r} is empty or contains whitespace",
            hint="TREC files separate fields by whitespace; choose a name without spaces",
        )


def _check_ids(column: pa.ChunkedArray, what: str, *, no_hash: bool) -> None:
    bad = pc.or_(pc.equal(pc.binary_length(column), 0), pc.match_substring_regex(column, r"\s"))
    if no_hash:
        bad = pc.or_(bad, pc.starts_with(column, "#"))
    if pc.any(bad).as_py():
        value = column[int(pc.index(bad, True).as_py())].as_py()
        raise InputFormatError(
            f"{what} {value!r} cannot be written as TREC text (empty, whitespace"
            + (", or a leading #)" if no_hash else ")"),
            hint="write Parquet instead, or clean the ids",
        )


def _ranks(qids: pa.ChunkedArray) -> np.ndarray:
    """1-based position of each row within its run of equal query ids."""
    n = len(qids)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    changed = np.ones(n, dtype=bool)
    if n > 1:
        changed[1:] = pc.not_equal(qids[1:], qids[:-1]).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(changed)
    group = np.cumsum(changed) - 1
    result: np.ndarray = np.arange(n, dtype=np.int64) - starts[group] + 1
    return result


def _chunk_bytes(chunk: pa.Array) -> memoryview:
    """The concatenated values of a null-free string array, without copying."""
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
    start, stop = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    data = chunk.buffers()[2]
    return memoryview(b"") if data is None else memoryview(data)[start:stop]

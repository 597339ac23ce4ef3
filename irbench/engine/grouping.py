"""Runs not grouped by query: finding them while reading in chunks, and the error that says
how to group them.

A run is *grouped by query* when all rows of each query are consecutive in the file (the
queries themselves may come in any order). Reading a run in chunks of whole queries
(:mod:`irbench.engine.runs`) needs it: :class:`GroupTracker` refuses a query seen in two
chunks, :func:`check_grouped_within` one whose rows are apart within a chunk (what
``--stream`` insists on), and :func:`not_grouped_error` names the lines and gives the ``sort``
command that groups the file.
"""

from __future__ import annotations

import io
import os
import shlex
from typing import Any

import numpy as np
import pyarrow.compute as pc

from irbench._arrow import to_numpy
from irbench.engine.qrels import BoundQrels
from irbench.errors import RunNotGroupedError
from irbench.io import GZIP_MAGIC, describe_source, is_stdin
from irbench.io.chunks import LineSpan, QueryChunk

__all__ = ["GroupTracker", "check_grouped_within", "is_gzip", "not_grouped_error", "sort_command"]


class GroupTracker:
    """Which chunk held each qrels query; refuses a query seen in two chunks."""

    def __init__(self, num_queries: int) -> None:
        self.chunk_of = np.full(num_queries, -1, dtype=np.int64)
        self.chunks: list[LineSpan] = []

    def add(self, present: np.ndarray, chunk: QueryChunk, qrels: BoundQrels, source: Any) -> None:
        again = np.flatnonzero((self.chunk_of >= 0) & present)
        if again.size:
            qpos = int(again[0])
            query = str(qrels.query_ids[qpos].as_py())
            earlier = self.chunks[int(self.chunk_of[qpos])].first_last
            raise not_grouped_error(source, query, earlier, chunk)
        self.chunk_of[present] = len(self.chunks)
        self.chunks.append(LineSpan.of(chunk))


def sort_command(source: str | os.PathLike[str]) -> str:
    """The shell command that groups a run file by query (a stable sort on the first field)."""
    sort = "LC_ALL=C sort -s -k1,1"
    if is_stdin(source):
        return f"... | {sort} | irbench eval --stream QRELS -"
    path = os.fspath(source)
    if is_gzip(path):
        base = path[:-3] if path.lower().endswith(".gz") else path
        out = shlex.quote(f"{base}.grouped.gz")
        return f"zcat {shlex.quote(path)} | {sort} | gzip > {out}"
    return f"{sort} {shlex.quote(path)} > {shlex.quote(path + '.grouped')}"


def check_grouped_within(chunk: QueryChunk, qrels: BoundQrels, source: Any) -> None:
    """Refuse a qrels query whose rows are apart within *chunk* (:class:`RunNotGroupedError`).

    The usual case costs two vectorised passes: when the number of blocks of equal
    consecutive query ids equals the number of distinct ids, every query is one block. Only
    otherwise are the blocks of the qrels queries looked at (other queries are not scored, as
    across chunks, where only qrels queries are tracked).
    """
    ids = chunk.table.column("query_id")
    n = len(ids)
    if n < 2:
        return
    changes = pc.sum(pc.not_equal(ids.slice(1), ids.slice(0, n - 1))).as_py() or 0
    if changes + 1 == pc.count_distinct(ids).as_py():
        return
    qpos = qrels.query_positions(ids)
    starts = np.flatnonzero(np.r_[True, qpos[1:] != qpos[:-1]])
    blocks = starts[qpos[starts] >= 0]  # first row of each block of a qrels query
    if blocks.size < 2:
        return
    _, first = np.unique(qpos[blocks], return_index=True)
    again = np.ones(blocks.size, dtype=bool)
    again[first] = False
    if not again.any():
        return
    block = int(np.flatnonzero(again)[0])
    row = int(blocks[block])
    earlier = int(blocks[np.flatnonzero(qpos[blocks] == qpos[row])[0]])
    earlier_end = int(starts[np.searchsorted(starts, earlier, side="right")]) - 1
    first_line, end_line, line = _lines_of_rows(chunk, [earlier, earlier_end, row])
    query = str(qrels.query_ids[int(qpos[row])].as_py())
    raise not_grouped_error(source, query, (first_line, end_line), chunk, line=line)


def _lines_of_rows(chunk: QueryChunk, rows: list[int]) -> list[int]:
    """Physical lines (Parquet: rows) of the 0-based *rows* of *chunk* (an error path only):
    blank and ``#`` comment lines are lines but not rows."""
    if chunk.text is None:
        return [chunk.first_line + r for r in rows]
    wanted = {r: -1 for r in rows}
    row = 0
    for n, line in enumerate(io.BytesIO(chunk.text)):
        fields = line.split(None, 1)
        if not fields or fields[0].startswith(b"#"):
            continue
        if row in wanted:
            wanted[row] = chunk.first_line + n
        row += 1
        if row > max(rows):
            break
    return [wanted[r] for r in rows]


def not_grouped_error(
    source: str | os.PathLike[str],
    query: str,
    earlier: tuple[int, int],
    chunk: QueryChunk,
    *,
    line: int | None = None,
) -> RunNotGroupedError:
    """The :class:`RunNotGroupedError` for *query*, held by lines *earlier* and again by *chunk*
    (at *line*, default its first line of *query* in *chunk*)."""
    line = _first_line_of(chunk, query) if line is None else line
    unit = "line" if chunk.text is not None else "row"
    command = sort_command(source)
    err = RunNotGroupedError(
        f"query {query!r} occurs again at {unit} {line}, after rows within {unit}s "
        f"{earlier[0]}-{earlier[1]}: the run is not grouped by query, so it cannot be streamed",
        path=describe_source(source),
        line=line,
        hint=f"group each query's rows first: `{command}` (for a huge file add -S 50% -T DIR, "
        "DIR a directory with room for the file), or evaluate without --stream",
    )
    err.query_id, err.first_lines, err.sort_command = query, earlier, command
    return err


def _first_line_of(chunk: QueryChunk, query: str) -> int:
    """Physical line (Parquet: row) of *query*'s first row in *chunk* (an error path only)."""
    if chunk.text is None:
        hits = np.flatnonzero(to_numpy(pc.equal(chunk.table.column("query_id"), query)))
        return chunk.first_line + int(hits[0]) if hits.size else chunk.first_line
    qid = query.encode("utf-8")
    for n, line in enumerate(io.BytesIO(chunk.text)):
        fields = line.split(None, 1)
        if fields and fields[0] == qid:
            return chunk.first_line + n
    return chunk.first_line


def is_gzip(path: str) -> bool:
    """Whether ``path`` starts with gzip's magic bytes (by its suffix when unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == GZIP_MAGIC
    except OSError:
        return path.lower().endswith(".gz")

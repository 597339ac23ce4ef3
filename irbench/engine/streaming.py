"""Streaming evaluation: score a run larger than memory in query-grouped chunks.

Definitions
-----------
* A run is *grouped by query* when all rows of each query are consecutive in the file (the
  queries themselves may come in any order). TREC runs written by a ranker are; a run
  concatenated from several files or sorted by score may not be.
* A *chunk* is a block of whole lines of the file, about ``chunk_bytes`` long, cut so that no
  query straddles two chunks: the rows of the last query of a block are carried into the next
  chunk. A query larger than ``chunk_bytes`` makes its chunk larger; peak memory is a few
  chunks plus the largest query, whatever the file size.
* A query's values depend on its own rows only, so scoring chunk by chunk and merging
  (:meth:`~irbench.engine.evaluator.PartialScores.merge`) gives exactly the numbers of scoring
  the whole file (bit-identical).

Input is TREC run text (plain, gzip, or ``-`` for stdin) or a Parquet file, read and cut by
:mod:`irbench.io.chunks` (re-exported here: :class:`QueryChunk`, :func:`iter_query_chunks`,
:func:`parsed_ahead`). Line numbers in errors are physical lines of the whole file. A qrels
query whose rows occur in two chunks raises :class:`~irbench.errors.RunNotGroupedError` with
the ``sort`` command that groups the file.
"""

from __future__ import annotations

import io
import os
import shlex
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, to_numpy
from irbench.engine.evaluator import Evaluator, PartialScores, RunScores, duplicate_error
from irbench.engine.naming import run_label
from irbench.engine.qrels import BoundQrels
from irbench.errors import DuplicateEntryError, InputFormatError, RunNotGroupedError
from irbench.io import _source, _trec
from irbench.io.chunks import (
    DEFAULT_CHUNK_BYTES,
    LineSpan,
    QueryChunk,
    chunk_jobs,
    iter_query_chunks,
    parsed_ahead,
)
from irbench.io.schema import RUN_SCHEMA

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "QueryChunk",
    "iter_query_chunks",
    "parsed_ahead",
    "score_partitioned_part",
    "score_stream",
    "score_stream_part",
]


def score_stream(
    evaluator: Evaluator,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> RunScores:
    """Score a run file chunk by chunk in bounded memory; the same numbers as
    :meth:`Evaluator.score` on the whole file.

    The run name is ``name``, else the file's stem (``stdin`` for ``-``), the rule of
    :mod:`irbench.engine.naming`.

    Raises
    ------
    RunNotGroupedError
        A qrels query occurs in two chunks (the run is not grouped by query); the message has
        the ``sort`` command that fixes the file.
    DuplicateEntryError
        A document is retrieved twice for a query (both physical lines named).
    """
    part, run_name = score_stream_part(
        evaluator, source, name=name, chunk_bytes=chunk_bytes, strict=True
    )
    return evaluator.finish(part, run_name)


def score_stream_part(
    evaluator: Evaluator,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
    strict: bool = False,
) -> tuple[PartialScores, str]:
    """:func:`score_stream` stopped before :meth:`Evaluator.finish`: the merged
    :class:`PartialScores` of the run and its name. ``workers``: chunks parsed at once (see
    :func:`parsed_ahead`). Raises as :func:`score_stream` does.

    ``strict`` (what ``--stream`` asks for) also refuses a qrels query whose rows are apart
    within one chunk, so that a run is refused whatever its size and the chunk size. Without
    it, only a query seen in two chunks is refused: rows apart within a chunk are sorted
    together by the scoring anyway (the default path of :meth:`Evaluator.score`)."""
    where = _source.describe(source)
    tracker = _GroupTracker(evaluator.qrels.num_queries)
    outside = _Outside(evaluator.qrels)
    merged: PartialScores | None = None
    for chunk in parsed_ahead(chunk_jobs(source, chunk_bytes, name), workers):
        if strict:
            _check_grouped_within(chunk, evaluator, source)
        part = _score_chunk(evaluator, chunk, where)
        if part.num_run_queries_not_in_qrels:
            part.num_run_queries_not_in_qrels = outside.count_new(chunk.table)
        tracker.add(part.present, chunk, evaluator, source)
        merged = part if merged is None else merged.merge(part, what="chunk")
        del chunk, part  # free this chunk before the next one is read
    if merged is None:  # iter_query_chunks raises on a file without records
        raise InputFormatError("no run records found", path=where)
    return merged, name or run_label(source)


def score_partitioned_part(
    evaluator: Evaluator,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
) -> tuple[PartialScores, str]:
    """Score a run that need not be grouped by query, stopping before
    :meth:`Evaluator.finish` (the :class:`PartialScores` and the run name).

    The chunks are parsed on a thread pool and each chunk's rows are split by query position
    into ranges of the qrels queries (about one per ``PARTITION_BYTES`` of run); every
    partition then holds all the rows of its queries and is scored whole, so the numbers are
    those of the whole run. Memory holds the run's rows of qrels queries as Arrow chunks
    (rows of other queries are counted and dropped), while the sort and the temporaries of
    scoring are partition-sized: the whole run is never sorted at once.
    """
    where = _source.describe(source)
    qrels = evaluator.qrels
    n_parts = _partition_count(source, qrels.num_queries)
    pieces: list[list[pa.Table]] = [[] for _ in range(n_parts)]
    outside = _Outside(qrels)
    n_outside = 0
    for chunk in parsed_ahead(chunk_jobs(source, chunk_bytes, name), workers):
        table = chunk.table.replace_schema_metadata(None)
        del chunk
        qpos = qrels.query_positions(table.column("query_id"))
        if (qpos < 0).any():  # their lookup is done: count the distinct ids only
            outside_ids = table.column("query_id").filter(from_numpy(qpos < 0))
            n_outside += outside.count_new_ids(pc.unique(outside_ids))
        kept = np.flatnonzero(qpos >= 0)
        part_of = qpos[kept] * n_parts // max(qrels.num_queries, 1)
        order = np.argsort(part_of, kind="stable")
        bounds = np.searchsorted(part_of[order], np.arange(n_parts + 1))
        for p in np.flatnonzero(np.diff(bounds)).tolist():
            rows = kept[order[bounds[p] : bounds[p + 1]]]
            pieces[p].append(table.take(from_numpy(rows)))
        del table
    merged: PartialScores | None = None
    for held in pieces:
        if not held:
            continue
        whole = pa.concat_tables(held)
        held.clear()
        part = evaluator.score_shard(whole, source=where, run=source)
        merged = part if merged is None else merged.merge(part, what="partition")
    if merged is None:  # no row of a qrels query: an empty ranking of nothing
        empty = pa.Table.from_arrays([pa.nulls(0, f.type) for f in RUN_SCHEMA], schema=RUN_SCHEMA)
        merged = evaluator.score_part(empty, source=where)
    merged.num_run_queries_not_in_qrels = n_outside
    return merged, name or run_label(source)


#: Bytes of run text per partition of :func:`score_partitioned_part` (the partition is sorted
#: and scored whole, so this bounds its temporaries).
PARTITION_BYTES = 32 << 20


def _partition_count(source: str | os.PathLike[str], num_queries: int) -> int:
    """Partitions for a run file: one per ``PARTITION_BYTES`` of text (a gzip file counts four
    times its size), at most one per qrels query."""
    try:
        size = os.path.getsize(source)
        if _is_gzip(os.fspath(source)):
            size *= 4
    except OSError:
        size = PARTITION_BYTES
    return int(max(1, min(num_queries, -(-size // PARTITION_BYTES))))


# --------------------------------------------------------------------------------------------
# scoring helpers
# --------------------------------------------------------------------------------------------


def _score_chunk(evaluator: Evaluator, chunk: QueryChunk, where: str) -> PartialScores:
    """``score_part`` of one chunk; a duplicate names its physical lines in the file."""
    try:
        return evaluator.score_part(chunk.table, source=where)
    except DuplicateEntryError as exc:
        raise _locate_duplicate(exc, chunk, evaluator, where) from None


def _locate_duplicate(
    exc: DuplicateEntryError, chunk: QueryChunk, evaluator: Evaluator, where: str
) -> DuplicateEntryError:
    query = evaluator.qrels.query_ids[exc.qpos].as_py() if exc.qpos is not None else None
    lines: list[int] = []
    if chunk.text is not None and query is not None:
        local = _trec.locate(chunk.text, query, exc.doc_id or "")
        lines = [chunk.first_line + n - 1 for n in local]
    return duplicate_error(exc, query, lines, where, exc.qpos)


class _GroupTracker:
    """Which chunk held each qrels query; refuses a query seen in two chunks."""

    def __init__(self, num_queries: int) -> None:
        self.chunk_of = np.full(num_queries, -1, dtype=np.int64)
        self.chunks: list[LineSpan] = []

    def add(
        self, present: np.ndarray, chunk: QueryChunk, evaluator: Evaluator, source: Any
    ) -> None:
        again = np.flatnonzero((self.chunk_of >= 0) & present)
        if again.size:
            qpos = int(again[0])
            query = str(evaluator.qrels.query_ids[qpos].as_py())
            earlier = self.chunks[int(self.chunk_of[qpos])].first_last
            raise not_grouped_error(source, query, earlier, chunk)
        self.chunk_of[present] = len(self.chunks)
        self.chunks.append(LineSpan.of(chunk))


class _Outside:
    """Distinct run queries that are not in the qrels, over all chunks."""

    def __init__(self, qrels: BoundQrels) -> None:
        self.qrels = qrels
        self.seen: set[str] = set()

    def count_new(self, table: pa.Table) -> int:
        """Queries of *table* outside the qrels not seen in earlier chunks; remembers them."""
        ids = pc.unique(table.column("query_id"))
        outside = np.flatnonzero(self.qrels.query_positions(ids) < 0)
        return self.count_new_ids(pc.take(ids, from_numpy(outside)))

    def count_new_ids(self, outside: pa.Array) -> int:
        """Of these query ids, already known to be outside the qrels, how many are new."""
        new = set(outside.to_pylist()) - self.seen
        self.seen |= new
        return len(new)


# --------------------------------------------------------------------------------------------
# the "not grouped" error
# --------------------------------------------------------------------------------------------


def sort_command(source: str | os.PathLike[str]) -> str:
    """The shell command that groups a run file by query (a stable sort on the first field)."""
    sort = "LC_ALL=C sort -s -k1,1"
    if _source.is_stdin(source):
        return f"... | {sort} | irbench eval --stream QRELS -"
    path = os.fspath(source)
    if _is_gzip(path):
        base = path[:-3] if path.lower().endswith(".gz") else path
        out = shlex.quote(f"{base}.grouped.gz")
        return f"zcat {shlex.quote(path)} | {sort} | gzip > {out}"
    return f"{sort} {shlex.quote(path)} > {shlex.quote(path + '.grouped')}"


def _check_grouped_within(chunk: QueryChunk, evaluator: Evaluator, source: Any) -> None:
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
    qpos = evaluator.qrels.query_positions(ids)
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
    query = str(evaluator.qrels.query_ids[int(qpos[row])].as_py())
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
        path=_source.describe(source),
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


def _is_gzip(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == _source.GZIP_MAGIC
    except OSError:
        return path.lower().endswith(".gz")

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

Input is TREC run text (plain, gzip, or ``-`` for stdin) or a Parquet file (read in row
batches). Line numbers in errors are physical lines of the whole file. A qrels query whose rows
occur in two chunks raises :class:`~irbench.errors.RunNotGroupedError` with the ``sort``
command that groups the file.
"""

from __future__ import annotations

import io
import os
import shlex
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, single_chunk, to_numpy
from irbench.engine.evaluator import Evaluator, PartialScores, RunScores, duplicate_error
from irbench.engine.qrels import BoundQrels
from irbench.errors import (
    DuplicateEntryError,
    InputFormatError,
    NotStreamableError,
    RunNotGroupedError,
)
from irbench.io import _source, _tables, _trec
from irbench.io.schema import RUN_NAME_KEY, RUN_SCHEMA

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "QueryChunk",
    "iter_query_chunks",
    "parsed_ahead",
    "score_stream",
    "score_stream_part",
]

#: Default size of the blocks read from the file (4 MiB): big enough that per-chunk costs
#: vanish, small enough that the temporaries of a chunk are reused memory, not fresh pages.
DEFAULT_CHUNK_BYTES = 4 << 20
_PARQUET_MAGIC = b"PAR1"
_SCAN_WINDOW = 1 << 16
_SNIFF_BYTES = 1 << 16  # the first block is at least this long (to recognise JSON Lines)
_PARQUET_ROW_BYTES = 48  # rows per Parquet batch: chunk_bytes / this (a TREC line's size)
_COUNT_BLOCK = 16 << 20  # bytes read at a time to count lines for an error message


class _LineIndex(Protocol):
    def line_at(self, offset: int) -> int:
        """Physical 1-based line that starts at chunk boundary ``offset``."""
        ...


class _Rows:
    """Parquet chunks: offsets are 0-based rows, reported 1-based."""

    def line_at(self, offset: int) -> int:
        return offset + 1


class _CountedLines:
    """Line numbers of chunk boundaries, counted as the chunks pass (a stream is read once)."""

    def __init__(self) -> None:
        self._at = {0: 1}

    def record(self, start: int, text: bytes | bytearray) -> None:
        self._at[start + len(text)] = self._at[start] + text.count(b"\n")

    def line_at(self, offset: int) -> int:
        return self._at[offset]


class _FileLines:
    """Line numbers counted in the file itself, only when an error message needs one."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._at = {0: 1}

    def line_at(self, offset: int) -> int:
        if offset not in self._at:
            base = max(b for b in self._at if b <= offset)
            line = self._at[base]
            with open(self.path, "rb") as fh:
                fh.seek(base)
                left = offset - base
                while left > 0:
                    block = fh.read(min(left, _COUNT_BLOCK))
                    if not block:
                        break
                    line += block.count(b"\n")
                    left -= len(block)
            self._at[offset] = line
        return self._at[offset]


_ROWS = _Rows()


@dataclass(frozen=True)
class QueryChunk:
    """Rows of some whole queries of a run.

    ``table`` is in RUN_SCHEMA (with the run name in its metadata); ``span`` is the chunk's
    byte range ``[start, end)`` in the (decompressed) file, for Parquet its 0-based row range;
    ``text`` is the raw TREC text of those bytes (None for Parquet), kept to locate lines in
    error messages; ``run_tag`` is the tag of its last line (for Parquet, the stored name).
    ``first_line`` and ``last_line`` are the 1-based physical lines (Parquet: rows) it spans;
    in a plain file they are counted when first asked for, which costs a pass over the file
    before the chunk, so scoring never asks for them unless it reports an error.
    """

    table: pa.Table
    span: tuple[int, int]
    text: bytes | bytearray | None = None
    run_tag: str | None = None
    lines: _LineIndex = field(default=_ROWS, repr=False, compare=False)

    @property
    def first_line(self) -> int:
        return _Lines.of(self).first_last[0]

    @property
    def last_line(self) -> int:
        return _Lines.of(self).first_last[1]


def iter_query_chunks(
    source: str | os.PathLike[str],
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    name: str | None = None,
    workers: int = 1,
) -> Iterator[QueryChunk]:
    """Read a run file sequentially and yield :class:`QueryChunk` s of whole queries.

    Parameters
    ----------
    source:
        A TREC run (plain or gzip, detected by content), ``"-"`` for stdin, or a Parquet file.
    chunk_bytes:
        Bytes read per block (Parquet: about ``chunk_bytes / 48`` rows per batch).
    name:
        Run name stored in each table's metadata (default: the chunk's ``run_tag``).
    workers:
        Chunks parsed at once on a thread pool (in order, see :func:`parsed_ahead`); 1 parses
        each chunk when it is asked for.

    Raises
    ------
    InputFormatError
        Malformed input, with the physical line in the whole file; JSON Lines input (it cannot
        be streamed).
    """
    jobs = _chunk_jobs(source, chunk_bytes, name)
    if workers > 1:
        yield from parsed_ahead(jobs, workers)
        return
    for job in jobs:
        yield job()
        del job


def _chunk_jobs(
    source: str | os.PathLike[str], chunk_bytes: int, name: str | None
) -> Iterator[Callable[[], QueryChunk]]:
    """The chunks of :func:`iter_query_chunks` as jobs: the file is read and cut into whole
    queries here, in order; calling a job parses its chunk (TREC text), so the jobs may run on
    other threads."""
    if chunk_bytes < 1:
        raise InputFormatError(f"the chunk size must be at least 1 byte (got {chunk_bytes})")
    where = _source.describe(source)
    reader, head = _source.open_stream(source)
    try:
        if head[: len(_PARQUET_MAGIC)] == _PARQUET_MAGIC:
            reader.close()
            for chunk in _parquet_chunks(source, where, chunk_bytes):
                yield partial(_labelled, chunk, name)
                del chunk
            return
        lines: _LineIndex = (
            _FileLines(os.fspath(source))
            if not _source.is_stdin(source) and head[:2] != _source.GZIP_MAGIC
            else _CountedLines()
        )
        for start, text in _text_blocks(reader, where, chunk_bytes, _is_jsonl_name(source)):
            if isinstance(lines, _CountedLines):
                lines.record(start, text)
            yield partial(_text_chunk, text, where, start, lines, name)
            del text
    finally:
        reader.close()


def _labelled(chunk: QueryChunk, name: str | None) -> QueryChunk:
    """``chunk`` with the run name (``name``, else its run tag) in its table's metadata."""
    label = name or chunk.run_tag
    if label is None:
        return chunk
    return replace(chunk, table=chunk.table.replace_schema_metadata({RUN_NAME_KEY: label.encode()}))


def score_stream(
    evaluator: Evaluator,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> RunScores:
    """Score a run file chunk by chunk in bounded memory; the same numbers as
    :meth:`Evaluator.score` on the whole file.

    The run name is ``name``, else the tag of the last line (Parquet: the stored name), else the
    file stem, as :func:`~irbench.io.read_run` names it.

    Raises
    ------
    RunNotGroupedError
        A qrels query occurs in two chunks (the run is not grouped by query); the message has
        the ``sort`` command that fixes the file.
    DuplicateEntryError
        A document is retrieved twice for a query (both physical lines named).
    """
    part, run_name = score_stream_part(evaluator, source, name=name, chunk_bytes=chunk_bytes)
    return evaluator.finish(part, run_name)


def score_stream_part(
    evaluator: Evaluator,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
) -> tuple[PartialScores, str]:
    """:func:`score_stream` stopped before :meth:`Evaluator.finish`: the merged
    :class:`PartialScores` of the run and its name. ``workers``: chunks parsed at once (see
    :func:`parsed_ahead`). Raises as :func:`score_stream` does."""
    where = _source.describe(source)
    tracker = _GroupTracker(evaluator.qrels.num_queries)
    outside = _Outside(evaluator.qrels)
    merged: PartialScores | None = None
    tag: str | None = None
    for chunk in parsed_ahead(_chunk_jobs(source, chunk_bytes, name), workers):
        part = _score_chunk(evaluator, chunk, where)
        if part.num_run_queries_not_in_qrels:
            part.num_run_queries_not_in_qrels = outside.count_new(chunk.table)
        tracker.add(part.present, chunk, evaluator, source)
        merged = part if merged is None else merged.merge(part, what="chunk")
        tag = chunk.run_tag
        del chunk, part  # free this chunk before the next one is read
    if merged is None:  # iter_query_chunks raises on a file without records
        raise InputFormatError("no run records found", path=where)
    return merged, name or tag or _source.stem_of(source)


def parsed_ahead(
    jobs: Iterator[Callable[[], QueryChunk]], workers: int | None = None
) -> Iterator[QueryChunk]:
    """Run the chunk ``jobs`` on a small thread pool and yield their chunks in order.

    The file is read here, in order; up to ``workers`` chunks (default: the CPU count, at most
    4) are parsed on other threads while the caller scores the current one. pyarrow's parser
    and numpy release the GIL for their long operations, so this uses several cores; memory
    holds at most ``workers + 1`` chunks. An error comes out in file order.
    """
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="irbench-parse") as pool:
        queue: deque[Future[QueryChunk]] = deque()
        try:
            for job in jobs:
                queue.append(pool.submit(job))
                del job
                if len(queue) > workers:
                    yield queue.popleft().result()
            while queue:
                yield queue.popleft().result()
        finally:
            for future in queue:
                future.cancel()
            wait(queue)
            if isinstance(jobs, Generator):
                jobs.close()


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


@dataclass(frozen=True)
class _Lines:
    """The physical lines of a chunk already scored (for a later error message)."""

    span: tuple[int, int]
    ends_with_newline: bool
    lines: _LineIndex

    @classmethod
    def of(cls, chunk: QueryChunk) -> _Lines:
        ends = chunk.text is None or chunk.text.endswith(b"\n")
        return cls(chunk.span, ends, chunk.lines)

    @property
    def first_last(self) -> tuple[int, int]:
        end = self.lines.line_at(self.span[1])
        return self.lines.line_at(self.span[0]), end - 1 if self.ends_with_newline else end


class _GroupTracker:
    """Which chunk held each qrels query; refuses a query seen in two chunks."""

    def __init__(self, num_queries: int) -> None:
        self.chunk_of = np.full(num_queries, -1, dtype=np.int64)
        self.chunks: list[_Lines] = []

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
        self.chunks.append(_Lines.of(chunk))


class _Outside:
    """Distinct run queries that are not in the qrels, over all chunks."""

    def __init__(self, qrels: BoundQrels) -> None:
        self.qrels = qrels
        self.seen: set[str] = set()

    def count_new(self, table: pa.Table) -> int:
        """Queries of *table* outside the qrels not seen in earlier chunks; remembers them."""
        ids = pc.unique(table.column("query_id"))
        outside = np.flatnonzero(self.qrels.query_positions(single_chunk(ids)) < 0)
        new = set(pc.take(ids, from_numpy(outside)).to_pylist()) - self.seen
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


def not_grouped_error(
    source: str | os.PathLike[str], query: str, earlier: tuple[int, int], chunk: QueryChunk
) -> RunNotGroupedError:
    """The :class:`RunNotGroupedError` for *query*, held by lines *earlier* and again by *chunk*."""
    line = _first_line_of(chunk, query)
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


# --------------------------------------------------------------------------------------------
# TREC text: blocks cut at query boundaries
# --------------------------------------------------------------------------------------------


def _is_jsonl_name(source: str | os.PathLike[str]) -> bool:
    name = "" if _source.is_stdin(source) else os.fspath(source)
    return _source.strip_compression_suffix(name).endswith((".jsonl", ".ndjson", ".json"))


def _refuse_jsonl(first: bytes | bytearray, where: str, by_name: bool) -> None:
    from irbench.io.readers import _looks_like_json

    if by_name or _looks_like_json(first):
        raise NotStreamableError(
            "JSON Lines runs cannot be streamed; streaming reads TREC text or Parquet",
            path=where,
            hint="evaluate without --stream, or convert the run to TREC text or Parquet",
        )


def _fill(reader: _source.Reader, pending: bytearray, need: int) -> tuple[bytearray, bool]:
    """A new buffer of ``need`` bytes: ``pending``, then what the reader gives; and whether the
    reader is exhausted (the buffer is then shorter)."""
    buf = bytearray(need)
    have = len(pending)
    buf[:have] = pending
    with memoryview(buf) as view:
        while have < need:
            got = reader.readinto(view[have:])
            if not got:
                break
            have += got
    eof = have < need
    if eof:
        del buf[have:]
    return buf, eof


def _trailing_run(data: bytes | bytearray, lo: int, hi: int) -> tuple[int, bytes | None]:
    """Find where the last query of ``data[lo:hi]`` (whole lines) begins.

    Returns ``(cut, qid)``: ``qid`` is the query id of the last record line (None if the range
    has only blank and ``#`` lines) and ``cut`` the end of the last record line with another
    query id (``lo`` if there is none). Scans backwards in windows, so its cost is the size of
    the last query, not of the range.
    """
    qid: bytes | None = None
    pos = hi
    while pos > lo:
        start = lo if pos - _SCAN_WINDOW <= lo else data.rfind(b"\n", lo, pos - _SCAN_WINDOW) + 1
        start = max(start, lo)
        window = bytes(data[start:pos])
        segments = window.split(b"\n")
        if window.endswith(b"\n"):
            segments.pop()
        end = pos
        for i in range(len(segments) - 1, -1, -1):
            seg = segments[i]
            begin = end - len(seg) - (1 if i < len(segments) - 1 or window.endswith(b"\n") else 0)
            fields = seg.split(None, 1)
            if fields and not fields[0].startswith(b"#"):
                if qid is None:
                    qid = fields[0]
                elif fields[0] != qid:
                    return end, qid
            end = begin
        pos = start
    return lo, qid


def _text_blocks(
    reader: _source.Reader, where: str, chunk_bytes: int, jsonl_name: bool
) -> Iterator[tuple[int, bytearray]]:
    """Blocks of whole queries of TREC text read ``chunk_bytes`` at a time, with the offset of
    their first byte in the file.

    ``pending`` holds the bytes read but not yet emitted (from file offset ``start``): the
    rows of the last, possibly unfinished, query are carried into the next chunk; a query
    longer than a block makes the next read longer. Each block is read straight into the
    buffer that is emitted (one copy from the kernel; the carried tail is the only other).
    """
    pending = bytearray()
    start = 0
    need = max(chunk_bytes, _SNIFF_BYTES)
    eof = False
    first = True
    emitted = 0
    while True:
        if len(pending) < need and not eof:
            pending, eof = _fill(reader, pending, need)
        if first:
            _trec.check_start(pending, where)
            _refuse_jsonl(pending, where, jsonl_name)
            first = False
        end = len(pending) if eof else pending.rfind(b"\n") + 1
        cut, qid = _trailing_run(pending, 0, end)
        if eof:
            cut = end if qid is not None else 0
        if cut:
            rest = pending[cut:]
            del pending[cut:]
            yield start, pending
            pending = rest
            emitted += 1
            start += cut
            need = chunk_bytes
        elif not eof:
            need = len(pending) + chunk_bytes  # one query fills the block: read more
        if eof:
            break
    if not emitted:
        raise InputFormatError(
            "no run records found (only blank or # comment lines)",
            path=where,
            hint=f"a run line looks like `{_trec.RUN_FORMAT.example}`",
        )


def _text_chunk(
    text: bytes | bytearray, where: str, start: int, lines: _LineIndex, name: str | None
) -> QueryChunk:
    table = _trec.parse_block(
        text,
        _trec.RUN_FORMAT,
        where,
        first_line=lambda: lines.line_at(start),
        first_byte=start,
    )
    chunk = QueryChunk(table, (start, start + len(text)), text, _trec.last_run_tag(text), lines)
    return _labelled(chunk, name)


# --------------------------------------------------------------------------------------------
# Parquet: row batches cut at query boundaries
# --------------------------------------------------------------------------------------------


def _parquet_chunks(
    source: str | os.PathLike[str], where: str, chunk_bytes: int
) -> Iterator[QueryChunk]:
    """Chunks of whole queries from a Parquet run read in row batches."""
    import pyarrow.parquet as pq

    if _source.is_stdin(source):
        raise NotStreamableError(
            "a Parquet run cannot be streamed from stdin", path=where, hint="pass its path"
        )
    try:
        pfile = pq.ParquetFile(os.fspath(source))
        stored = (pfile.schema_arrow.metadata or {}).get(RUN_NAME_KEY)
        batches = pfile.iter_batches(batch_size=max(1, chunk_bytes // _PARQUET_ROW_BYTES))
        tag = stored.decode("utf-8", "replace") if stored else None
        carry: pa.Table | None = None
        row = 0
        for batch in batches:
            table = _tables.coerce_table(pa.Table.from_batches([batch]), RUN_SCHEMA, where)
            done, carry = _split_last_query(carry, table)
            del table, batch
            if done is not None:
                rows = done.num_rows
                yield QueryChunk(done, (row, row + rows), None, tag)
                del done
                row += rows
    except (pa.ArrowException, OSError) as exc:
        raise InputFormatError(f"unreadable Parquet file ({exc})", path=where) from None
    if carry is None:
        raise InputFormatError("no records (the table is empty)", path=where)
    yield QueryChunk(carry, (row, row + carry.num_rows), None, tag)


def _split_last_query(
    carry: pa.Table | None, table: pa.Table
) -> tuple[pa.Table | None, pa.Table | None]:
    """Split ``carry + table`` into whole queries and the rows of its last query."""
    if table.num_rows == 0:
        return None, carry
    qids = table.column("query_id")
    last = qids[table.num_rows - 1]
    other = np.flatnonzero(~to_numpy(pc.equal(qids, last)))
    start = int(other[-1]) + 1 if other.size else 0
    if start == 0:
        if carry is None or carry.column("query_id")[0] == last:
            return None, table if carry is None else pa.concat_tables([carry, table])
        return carry, table
    head = table.slice(0, start)
    done = head if carry is None else pa.concat_tables([carry, head])
    return done, table.slice(start)

"""Reading a run in chunks of whole queries, parsed on a thread pool.

Definitions
-----------
* A *chunk* is a block of whole lines of a run file, about ``chunk_bytes`` long, cut so that
  no query's consecutive lines straddle two chunks: the rows of the last query of a block are
  carried into the next one. A query larger than ``chunk_bytes`` makes its chunk larger.
* A run is *grouped by query* when all rows of each query are consecutive in the file (the
  queries may come in any order); then every query lies in one chunk, which is what lets
  :mod:`irbench.engine.runs` stream a run chunk by chunk. The chunks of any run, grouped
  or not, concatenate to the whole file's table in file order.

Input is TREC run text (plain, gzip, or ``-`` for stdin) or a Parquet file (read in row
batches). The file is read and cut on the caller's thread, one chunk at a time (each chunk is
read straight into its own buffer); parsing (pyarrow's CSV reader, which releases the GIL) can
run on a thread pool (:func:`parsed_ahead`). Line numbers in errors are physical lines of the
whole file; in a plain file they are counted only when an error needs one.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import to_numpy
from irbench.errors import InputFormatError, NotStreamableError
from irbench.io import _source, _tables, _trec
from irbench.io.schema import RUN_NAME_KEY, RUN_SCHEMA
from irbench.io.sniff import is_json_name, is_parquet, looks_like_json

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "LineSpan",
    "QueryChunk",
    "chunk_jobs",
    "is_streamable_path",
    "iter_query_chunks",
    "parsed_ahead",
    "read_run_in_chunks",
]

T = TypeVar("T")

#: Default size of the blocks read from the file (4 MiB): big enough that per-chunk costs
#: vanish, small enough that the temporaries of a chunk are reused memory, not fresh pages.
DEFAULT_CHUNK_BYTES = 4 << 20
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
        return LineSpan.of(self).first_last[0]

    @property
    def last_line(self) -> int:
        return LineSpan.of(self).first_last[1]


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
    jobs = chunk_jobs(source, chunk_bytes, name)
    if workers > 1:
        yield from parsed_ahead(jobs, workers)
        return
    for job in jobs:
        yield job()
        del job


def chunk_jobs(
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
        if is_parquet(head):
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
        for start, text in _text_blocks(reader, where, chunk_bytes, is_json_name(source)):
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


def parsed_ahead(jobs: Iterator[Callable[[], T]], workers: int | None = None) -> Iterator[T]:
    """Run the chunk ``jobs`` on a small thread pool and yield their results in order.

    The file is read here, in order; up to ``workers`` chunks (default: the CPU count, at most
    4) are parsed on other threads while the caller scores the current one. pyarrow's parser
    and numpy release the GIL for their long operations, so this uses several cores; memory
    holds at most ``workers + 1`` chunks. An error comes out in file order.
    """
    first = next(jobs, None)
    if first is None:
        return
    second = next(jobs, None)
    if second is None:  # one chunk (a small run): nothing to overlap, no pool to start
        yield first()
        return
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="irbench-parse") as pool:
        queue: deque[Future[T]] = deque()
        pending = itertools.chain((first, second), jobs)
        del first, second  # (the chain lets go of each job once it is submitted)
        try:
            for job in pending:
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


@dataclass(frozen=True)
class LineSpan:
    """The physical lines of a chunk, kept after the chunk itself is gone (for a later error
    message): its byte span, whether it ends with a newline, and the file's line index."""

    span: tuple[int, int]
    ends_with_newline: bool
    lines: _LineIndex

    @classmethod
    def of(cls, chunk: QueryChunk) -> LineSpan:
        ends = chunk.text is None or chunk.text.endswith(b"\n")
        return cls(chunk.span, ends, chunk.lines)

    @property
    def first_last(self) -> tuple[int, int]:
        end = self.lines.line_at(self.span[1])
        return self.lines.line_at(self.span[0]), end - 1 if self.ends_with_newline else end


# --------------------------------------------------------------------------------------------
# TREC text: blocks cut at query boundaries
# --------------------------------------------------------------------------------------------


def is_streamable_path(source: object) -> bool:
    """True for a run that may be read in chunks: a path, not stdin (``-``), not named as JSON
    Lines. JSON content under another name is found when the first chunk is read
    (:class:`~irbench.errors.NotStreamableError`)."""
    if not isinstance(source, (str, os.PathLike)) or _source.is_stdin(source):
        return False
    return not is_json_name(source)


def _refuse_jsonl(first: bytes | bytearray, where: str, by_name: bool) -> None:
    if by_name or looks_like_json(first):
        raise NotStreamableError(
            "JSON Lines runs cannot be streamed; streaming reads TREC text or Parquet",
            path=where,
            hint="evaluate without --stream, or convert the run to TREC text or Parquet",
        )


def _fill(reader: _source.Reader, pending: bytearray, need: int) -> tuple[bytearray, bool]:
    """A new buffer of ``need`` bytes: ``pending``, then what the reader gives; and whether the
    reader is exhausted (the buffer is then shorter). A small file gets a buffer of its size."""
    left = reader.remaining()
    if left is not None:
        need = min(need, len(pending) + left + 1)  # one byte more: the end is seen at once
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


def read_run_in_chunks(
    source: str | os.PathLike[str], *, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> tuple[pa.Table, str | None]:
    """A TREC text run read in chunks parsed on a thread pool, as one table in file order (the
    columns have one Arrow chunk per file chunk), and the tag of its last record line.

    Parsing small chunks in parallel is faster and needs about half the memory of one parse of
    the whole text, whose fresh multi-hundred-megabyte buffers cost page faults.

    Raises
    ------
    NotStreamableError
        The file is JSON Lines (read it whole).
    InputFormatError
        Malformed input, with the physical line in the whole file.
    """
    tables: list[pa.Table] = []
    tag: str | None = None
    for chunk in parsed_ahead(chunk_jobs(source, chunk_bytes, None)):
        tables.append(chunk.table.replace_schema_metadata(None))
        tag = chunk.run_tag
        del chunk
    return pa.concat_tables(tables), tag

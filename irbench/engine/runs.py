"""How a run reaches the kernels: the one read strategy for every run, file or table.

:func:`score_run_part` decides, and everything that scores a whole run goes through it (the
Python API, ``irbench eval`` with or without ``--stream``, compare, leaderboard, the local
and Dask engines):

* a run file grouped by query (TREC text, ``.gz``, stdin, Parquet) is read in chunks of whole
  queries, parsed ahead on a thread pool while the current chunk is scored: memory is a few
  chunks plus the largest query;
* a run file whose queries are interleaved is re-read in partitions by query position
  (:func:`score_partitions_part`), each scored whole;
* JSON Lines and in-memory runs (tables, DataFrames, dicts) are read whole;
* with :attr:`ReadPolicy.stream` (``--stream``) only the first is allowed: a run that is not
  grouped (:class:`~irbench.errors.RunNotGroupedError`, even within one chunk) or cannot be
  read in chunks (:class:`~irbench.errors.NotStreamableError`) is refused.

Definitions
-----------
* A run is *grouped by query* when all rows of each query are consecutive in the file (the
  queries themselves may come in any order); see :mod:`irbench.engine.grouping`.
* A *chunk* is a block of whole lines of the file, about ``chunk_bytes`` long, cut so that no
  query straddles two chunks: the rows of the last query of a block are carried into the next
  chunk. A query larger than ``chunk_bytes`` makes its chunk larger; peak memory is a few
  chunks plus the largest query, whatever the file size.
* A query's values depend on its own rows only, so scoring chunk by chunk and merging
  (:meth:`~irbench.engine.scores.PartialScores.merge`) gives exactly the numbers of scoring
  the whole file (bit-identical).

Input is TREC run text (plain, gzip, or ``-`` for stdin) or a Parquet file, read and cut by
:mod:`irbench.io.chunks` (re-exported here: :class:`QueryChunk`, :func:`iter_query_chunks`,
:func:`parsed_ahead`). Line numbers in errors are physical lines of the whole file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy
from irbench.engine.evaluator import duplicate_error, source_of
from irbench.engine.grouping import GroupTracker, check_grouped_within, is_gzip
from irbench.engine.naming import run_label
from irbench.engine.qrels import BoundQrels
from irbench.engine.scores import PartialScores, RunScorer, RunScores
from irbench.errors import (
    DuplicateEntryError,
    InputFormatError,
    NotStreamableError,
    RunNotGroupedError,
)
from irbench.io import describe_source, locate_lines
from irbench.io.chunks import (
    DEFAULT_CHUNK_BYTES,
    QueryChunk,
    chunk_jobs,
    is_streamable_path,
    parsed_ahead,
)
from irbench.io.schema import RUN_SCHEMA

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_READ",
    "PARTITION_BYTES",
    "ReadPolicy",
    "score_chunks_part",
    "score_partitions_part",
    "score_run",
    "score_run_part",
]


@dataclass(frozen=True)
class ReadPolicy:
    """How :func:`score_run_part` may read a run.

    ``stream``: insist on chunks of whole queries (``irbench eval --stream``) and refuse a run
    that cannot be read so; ``chunk_bytes``: the size of a chunk; ``workers``: threads parsing
    chunks ahead (default: the CPU count, at most 4; a Dask worker uses 1).
    """

    stream: bool = False
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    workers: int | None = None


#: The default: chunks when the file allows, partitions when interleaved, else whole.
DEFAULT_READ = ReadPolicy()


def score_run_part(
    scorer: RunScorer, run: Any, name: str | None = None, read: ReadPolicy = DEFAULT_READ
) -> tuple[PartialScores, str]:
    """Read and score a whole run, stopping before ``finish``: its :class:`PartialScores` and
    its name (``name``, else the rule of :mod:`irbench.engine.naming`). The strategy is the
    module docstring's; every strategy gives the same bits (tests/test_differential.py)."""
    from irbench.io import read_run

    name = name if name is not None else run_label(run)
    if read.stream:
        return score_chunks_part(
            scorer, run, name=name, chunk_bytes=read.chunk_bytes, workers=read.workers, strict=True
        )
    if is_streamable_path(run):  # chunks: bounded memory, reading overlaps scoring
        try:
            return score_chunks_part(
                scorer, run, name=name, chunk_bytes=read.chunk_bytes, workers=read.workers
            )
        except RunNotGroupedError:  # queries interleaved: split the rows by query instead
            return score_partitions_part(
                scorer, run, name=name, chunk_bytes=read.chunk_bytes, workers=read.workers
            )
        except NotStreamableError:
            pass  # JSON Lines: read it whole
    table = read_run(run, name=name)
    return scorer.score_part(table, source=source_of(run), run=run), name


def score_run(
    scorer: RunScorer, run: Any, name: str | None = None, read: ReadPolicy = DEFAULT_READ
) -> RunScores:
    """:func:`score_run_part`, finished: the run's :class:`RunScores`.

    Raises
    ------
    RunNotGroupedError
        With ``read.stream``: a qrels query's rows are not consecutive; the message has the
        ``sort`` command that fixes the file.
    DuplicateEntryError
        A document is retrieved twice for a query (both physical lines named).
    """
    part, run_name = score_run_part(scorer, run, name, read)
    return scorer.finish(part, run_name)


def score_chunks_part(
    scorer: RunScorer,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
    strict: bool = False,
) -> tuple[PartialScores, str]:
    """Score a run file chunk by chunk, stopping before ``finish``: the merged
    :class:`PartialScores` of the run and its name. ``workers``: chunks parsed at once (see
    :func:`parsed_ahead`). A qrels query seen in two chunks raises
    :class:`~irbench.errors.RunNotGroupedError`.

    ``strict`` (what ``--stream`` asks for) also refuses a qrels query whose rows are apart
    within one chunk, so that a run is refused whatever its size and the chunk size. Without
    it, only a query seen in two chunks is refused: rows apart within a chunk are sorted
    together by the scoring anyway (what :func:`score_run_part` does without ``stream``)."""
    where = describe_source(source)
    tracker = GroupTracker(scorer.qrels.num_queries)
    outside = _Outside(scorer.qrels)
    merged: PartialScores | None = None
    for chunk in parsed_ahead(chunk_jobs(source, chunk_bytes, name), workers):
        if strict:
            check_grouped_within(chunk, scorer.qrels, source)
        part = _score_chunk(scorer, chunk, where)
        if part.num_run_queries_not_in_qrels:
            part.num_run_queries_not_in_qrels = outside.count_new(chunk.table)
        tracker.add(part.present, chunk, scorer.qrels, source)
        merged = part if merged is None else merged.merge(part, what="chunk")
        del chunk, part  # free this chunk before the next one is read
    if merged is None:  # iter_query_chunks raises on a file without records
        raise InputFormatError("no run records found", path=where)
    return merged, name or run_label(source)


def score_partitions_part(
    scorer: RunScorer,
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int | None = None,
) -> tuple[PartialScores, str]:
    """Score a run that need not be grouped by query, stopping before
    ``finish`` (the :class:`PartialScores` and the run name).

    The chunks are parsed on a thread pool and each chunk's rows are split by query position
    into ranges of the qrels queries (about one per ``PARTITION_BYTES`` of run); every
    partition then holds all the rows of its queries and is scored whole, so the numbers are
    those of the whole run. Memory holds the run's rows of qrels queries as Arrow chunks
    (rows of other queries are counted and dropped), while the sort and the temporaries of
    scoring are partition-sized: the whole run is never sorted at once.
    """
    where = describe_source(source)
    qrels = scorer.qrels
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
        part = scorer.score_part(whole, source=where, run=source)
        merged = part if merged is None else merged.merge(part, what="partition")
    if merged is None:  # no row of a qrels query: an empty ranking of nothing
        empty = pa.Table.from_arrays([pa.nulls(0, f.type) for f in RUN_SCHEMA], schema=RUN_SCHEMA)
        merged = scorer.score_part(empty, source=where)
    merged.num_run_queries_not_in_qrels = n_outside
    return merged, name or run_label(source)


#: Bytes of run text per partition of :func:`score_partitions_part` (the partition is sorted
#: and scored whole, so this bounds its temporaries).
PARTITION_BYTES = 32 << 20


def _partition_count(source: str | os.PathLike[str], num_queries: int) -> int:
    """Partitions for a run file: one per ``PARTITION_BYTES`` of text (a gzip file counts four
    times its size), at most one per qrels query."""
    try:
        size = os.path.getsize(source)
        if is_gzip(os.fspath(source)):
            size *= 4
    except OSError:
        size = PARTITION_BYTES
    return int(max(1, min(num_queries, -(-size // PARTITION_BYTES))))


def _score_chunk(scorer: RunScorer, chunk: QueryChunk, where: str) -> PartialScores:
    """``score_part`` of one chunk; a duplicate names its physical lines in the file."""
    try:
        return scorer.score_part(chunk.table, source=where)
    except DuplicateEntryError as exc:
        raise _locate_duplicate(exc, chunk, scorer, where) from None


def _locate_duplicate(
    exc: DuplicateEntryError, chunk: QueryChunk, scorer: RunScorer, where: str
) -> DuplicateEntryError:
    query = scorer.qrels.query_ids[exc.qpos].as_py() if exc.qpos is not None else None
    lines: list[int] = []
    if chunk.text is not None and query is not None:
        local = locate_lines(chunk.text, query, exc.doc_id or "")
        lines = [chunk.first_line + n - 1 for n in local]
    return duplicate_error(exc, query, lines, where, exc.qpos)


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

"""Per-query latency: the files that hold it, and the statistics papers report.

A latency file is a CSV with the header ``query_id,seconds`` (a third column ``candidates``,
the number of documents a re-ranker scored for the query, is optional; other columns are
ignored). ``irbench run`` writes one beside every run it makes (``RUN.latency.csv``; its
``RUN.meta.json`` sidecar names it and says how the times were measured), and users can pass
one measured elsewhere (``irbench leaderboard --latency-file RUN=FILE``).

:func:`latency_stats` turns such a file, a run that has one, or its sidecar into
:class:`LatencyStats`: mean, median and 95th percentile of the per-query seconds
(``numpy.percentile``, linear interpolation) and the throughput ``queries / sum(seconds)``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import ComparabilityError, InputFormatError, IrbenchWarning, MissingFileError

__all__ = [
    "LATENCY_COLUMNS",
    "LATENCY_SUFFIX",
    "LatencyStats",
    "QueryLatency",
    "add_latency_columns",
    "latency_path",
    "latency_stats",
    "read_latency",
    "write_latency",
]

#: Suffix of the latency file ``irbench run`` writes beside a run.
LATENCY_SUFFIX = ".latency.csv"

#: Columns ``irbench leaderboard --latency`` adds, in order (documented in the README).
LATENCY_COLUMNS = (
    "latency_mean_s",
    "latency_median_s",
    "latency_p95_s",
    "throughput_qps",
    "latency_queries",
    "candidates_mean",
    "latency_source",
)


@dataclass(frozen=True)
class QueryLatency:
    """Per-query seconds (and candidates scored, for re-rankers) read from a latency file."""

    query_ids: list[str]
    seconds: np.ndarray
    candidates: np.ndarray | None
    source: str


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-query latency; times in seconds, throughput in queries per second."""

    queries: int
    mean_s: float
    median_s: float
    p95_s: float
    total_s: float
    throughput_qps: float
    candidates_mean: float
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "mean_s": self.mean_s,
            "median_s": self.median_s,
            "p95_s": self.p95_s,
            "total_s": self.total_s,
            "throughput_qps": self.throughput_qps,
            "candidates_mean": self.candidates_mean,
            "source": self.source,
        }


def latency_path(run_path: str | os.PathLike[str]) -> Path:
    """Where ``irbench run`` writes the latency file of *run_path*."""
    return Path(os.fspath(run_path) + LATENCY_SUFFIX)


def summarize(seconds: np.ndarray, candidates: np.ndarray | None, source: str) -> LatencyStats:
    """:class:`LatencyStats` of per-query *seconds* (NaN everywhere for no query)."""
    s = np.asarray(seconds, dtype=np.float64)
    n = int(s.size)
    total = float(s.sum()) if n else 0.0
    cand = math.nan
    if candidates is not None and candidates.size:
        cand = float(np.mean(candidates))
    if n == 0:
        return LatencyStats(0, math.nan, math.nan, math.nan, 0.0, math.nan, cand, source)
    return LatencyStats(
        queries=n,
        mean_s=float(s.mean()),
        median_s=float(np.median(s)),
        p95_s=float(np.percentile(s, 95)),
        total_s=total,
        throughput_qps=n / total if total > 0 else math.inf,
        candidates_mean=cand,
        source=source,
    )


def write_latency(
    path: str | os.PathLike[str],
    query_ids: Sequence[str],
    seconds: np.ndarray,
    candidates: np.ndarray | None = None,
) -> Path:
    """Write a latency file atomically (``query_id,seconds[,candidates]``; ``repr`` floats)."""
    from irbench.io.atomic import atomic_text_writer

    target = Path(os.fspath(path))
    with atomic_text_writer(target) as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ["query_id", "seconds", *(["candidates"] if candidates is not None else [])]
        )
        for i, (qid, sec) in enumerate(zip(query_ids, seconds, strict=True)):
            row = [qid, repr(float(sec))]
            if candidates is not None:
                row.append(str(int(candidates[i])))
            writer.writerow(row)
    return target


def read_latency(path: str | os.PathLike[str]) -> QueryLatency:
    """Read a latency CSV (header ``query_id,seconds``, optional ``candidates``).

    Raises :class:`~irbench.errors.InputFormatError` naming the file and line for a missing
    header column, a value that is not a finite number of seconds >= 0, or a query listed twice.
    """
    src = os.fspath(path)
    if not os.path.exists(src):
        raise MissingFileError(f"{src}: no such latency file")
    try:
        return _read_latency(src)
    except UnicodeDecodeError:
        raise InputFormatError(
            "not a text file", path=src, hint="expected a CSV with the header query_id,seconds"
        ) from None


def _read_latency(src: str) -> QueryLatency:
    with open(src, encoding="utf-8", newline="") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header is None:
            raise InputFormatError(
                "empty latency file", path=src, hint="expected a header line query_id,seconds"
            )
        names = [h.strip().lower() for h in header]
        if "query_id" not in names or "seconds" not in names:
            raise InputFormatError(
                f"the header must name the columns query_id and seconds, found {header}",
                path=src,
                line=1,
                hint="first line: query_id,seconds (candidates optional)",
            )
        qcol, scol = names.index("query_id"), names.index("seconds")
        ccol = names.index("candidates") if "candidates" in names else None
        qids: list[str] = []
        secs: list[float] = []
        cands: list[float] = []
        seen: dict[str, int] = {}
        for lineno, row in enumerate(rows, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) < len(names):
                raise InputFormatError(
                    f"expected {len(names)} fields ({','.join(names)}), found {len(row)}",
                    path=src,
                    line=lineno,
                )
            qid = row[qcol].strip()
            if not qid:
                raise InputFormatError("empty query_id", path=src, line=lineno)
            if qid in seen:
                raise InputFormatError(
                    f"query {qid!r} is listed twice (first on line {seen[qid]})",
                    path=src,
                    line=lineno,
                    hint="one line per query",
                )
            seen[qid] = lineno
            secs.append(_number(row[scol], "seconds", src, lineno))
            if ccol is not None:
                cands.append(_number(row[ccol], "candidates", src, lineno))
            qids.append(qid)
    return QueryLatency(
        qids,
        np.asarray(secs, dtype=np.float64),
        np.asarray(cands, dtype=np.float64) if ccol is not None else None,
        src,
    )


def _number(text: str, what: str, src: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise InputFormatError(
            f"{what} must be a finite number >= 0, found {text.strip()!r}", path=src, line=line
        )
    return value


def _resolve(source: str | os.PathLike[str], run: bool = False) -> str:
    """The latency file behind *source*: a run with a sidecar, a sidecar, or the file itself."""
    from irbench.rankers.runner import METADATA_SUFFIX

    src = os.fspath(source)
    sidecar = src if src.endswith(METADATA_SUFFIX) else src + METADATA_SUFFIX
    if os.path.exists(sidecar):
        try:
            with open(sidecar, encoding="utf-8") as fh:
                meta = json.load(fh)
        except (OSError, ValueError) as err:
            raise InputFormatError(f"unreadable run sidecar: {err}", path=sidecar) from None
        entry = meta.get("latency") if isinstance(meta, dict) else None
        if not isinstance(entry, dict) or not entry.get("file"):
            raise InputFormatError(
                "the run's sidecar records no per-query latency",
                path=sidecar,
                hint="runs made with the Dask engine or before irbench recorded latency have "
                "none; pass a CSV query_id,seconds with --latency-file RUN=FILE",
            )
        return str(Path(sidecar).parent / str(entry["file"]))
    if src.endswith(METADATA_SUFFIX):
        raise MissingFileError(f"{src}: no such run sidecar")
    beside = os.fspath(latency_path(src))
    if os.path.exists(beside):
        return beside
    if run:
        raise MissingFileError(
            f"{src}: no per-query latency recorded for this run (no {Path(beside).name} and no "
            f"{Path(sidecar).name}); pass a CSV query_id,seconds with --latency-file RUN=FILE"
        )
    return src


def latency_stats(
    source: str | os.PathLike[str], queries: Iterable[str] | None = None, *, run: bool = False
) -> LatencyStats:
    """Mean, median, p95 per query and throughput of a run's latency.

    *source* is a run file (its ``.meta.json`` sidecar names the latency file ``irbench run``
    wrote), the sidecar itself, or a latency CSV (``query_id,seconds``). With *queries* (the
    run's query ids) the statistics cover exactly those: a query without a time raises
    :class:`~irbench.errors.ComparabilityError` naming how many and which; times of other
    queries are left out with a warning. ``run=True`` says *source* is a run: without a
    sidecar or latency file beside it, the error says how to give one.
    """
    path = _resolve(source, run)
    lat = read_latency(path)
    seconds, cands = lat.seconds, lat.candidates
    if queries is not None:
        wanted = list(dict.fromkeys(queries))
        index = {q: i for i, q in enumerate(lat.query_ids)}
        missing = [q for q in wanted if q not in index]
        if missing:
            raise ComparabilityError(
                f"{path}: no latency for {len(missing)} of the run's {len(wanted)} queries "
                f"(for example {', '.join(repr(q) for q in missing[:3])}); give every query a "
                "line query_id,seconds"
            )
        extra = len(lat.query_ids) - len(wanted)
        if extra > 0:
            warnings.warn(
                f"{path}: {extra} timed queries are not in the run; left out of the latency",
                IrbenchWarning,
                stacklevel=2,
            )
        take = np.asarray([index[q] for q in wanted], dtype=np.int64)
        seconds = seconds[take]
        cands = cands[take] if cands is not None else None
    return summarize(seconds, cands, path)


def add_latency_columns(board: Any, files: dict[str, str] | None = None) -> Any:
    """Add :data:`LATENCY_COLUMNS` to a leaderboard's table (in place; returns the board).

    Each run's latency comes from ``files`` (keyed by run name, run file name or path; a
    dataset's spec ``latency`` table lands here too), else from the latency file ``irbench
    run`` wrote beside it. The statistics cover the queries the run was scored on. Average
    rows get NaN. A run with no latency raises an error that says how to give one.
    """
    files = dict(files or {})
    table = board.table
    cols: dict[str, list[Any]] = {c: [] for c in LATENCY_COLUMNS}
    cache: dict[tuple[str, str], LatencyStats] = {}
    from irbench.engine.naming import file_stem

    used: set[str] = set()
    chosen: list[tuple[Any, Any, str | None]] = []
    for ds in board.datasets:
        for run in ds.runs:
            keys = (
                f"{ds.name}/{run.name}",
                run.name,
                run.source,
                Path(run.source).name,
                file_stem(run.source),
            )
            key = next((k for k in keys if k in files), None)
            if key is not None:
                used.add(key)
            chosen.append((ds, run, files[key] if key is not None else None))
    unused = [k for k in files if k not in used]
    if unused:
        names = sorted({r.name for ds in board.datasets for r in ds.runs})
        raise ComparabilityError(
            f"latency given for {', '.join(map(repr, unused))}, which names no run "
            f"(the runs: {', '.join(names)}); key a latency file by run name or file name"
        )
    for ds, run, given in chosen:
        qids = [str(q) for q in run.scores.query_ids.to_pylist()]
        cache[(ds.name, run.name)] = latency_stats(given or run.source, qids, run=given is None)
    for r in table.itertuples(index=False):
        st = cache.get((r.dataset, r.run))
        if st is None:
            for c in LATENCY_COLUMNS:
                cols[c].append("" if c == "latency_source" else math.nan)
            continue
        cols["latency_mean_s"].append(st.mean_s)
        cols["latency_median_s"].append(st.median_s)
        cols["latency_p95_s"].append(st.p95_s)
        cols["throughput_qps"].append(st.throughput_qps)
        cols["latency_queries"].append(st.queries)
        cols["candidates_mean"].append(st.candidates_mean)
        cols["latency_source"].append(st.source)
    for c in LATENCY_COLUMNS:
        table[c] = cols[c]
    return board

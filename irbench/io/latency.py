"""Per-query latency files: what ``irbench run`` writes beside a run, and how it is read.

A latency file is a CSV with the header ``query_id,seconds`` (a third column ``candidates``,
the number of documents a re-ranker scored for the query, is optional; other columns are
ignored). ``irbench run`` writes one beside every run it makes (``RUN.latency.csv``; its
``RUN.meta.json`` sidecar names it and says how the times were measured). :func:`summarize`
gives mean, median and 95th percentile of the per-query seconds (``numpy.percentile``, linear
interpolation) and the throughput ``queries / sum(seconds)``; reports read these files through
:mod:`irbench.report.latency`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import InputFormatError, MissingFileError

__all__ = [
    "LATENCY_SUFFIX",
    "METADATA_SUFFIX",
    "LatencyStats",
    "QueryLatency",
    "latency_path",
    "read_latency",
    "summarize",
    "write_latency",
]

#: Suffix of the metadata sidecar ``irbench run`` writes beside a run (which names its
#: latency file).
METADATA_SUFFIX = ".meta.json"

#: Suffix of the latency file ``irbench run`` writes beside a run.
LATENCY_SUFFIX = ".latency.csv"


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

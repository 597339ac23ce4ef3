"""Per-query latency in reports: the statistics papers report, as leaderboard columns.

The files themselves (``RUN.latency.csv`` beside a run, written by ``irbench run`` or measured
elsewhere and passed as ``irbench leaderboard --latency-file RUN=FILE``) are read and written
by :mod:`irbench.io.latency`. :func:`latency_stats` turns such a file, a run that has one, or
its sidecar into :class:`~irbench.io.latency.LatencyStats`: mean, median and 95th percentile of
the per-query seconds (``numpy.percentile``, linear interpolation) and the throughput
``queries / sum(seconds)``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import ComparabilityError, InputFormatError, IrbenchWarning, MissingFileError
from irbench.io.latency import (
    LATENCY_SUFFIX,
    METADATA_SUFFIX,
    LatencyStats,
    QueryLatency,
    latency_path,
    read_latency,
    summarize,
    write_latency,
)

__all__ = [
    "LATENCY_COLUMNS",
    "LATENCY_SUFFIX",
    "METADATA_SUFFIX",
    "LatencyStats",
    "QueryLatency",
    "add_latency_columns",
    "latency_path",
    "latency_stats",
    "read_latency",
    "summarize",
    "write_latency",
]

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


def _resolve(source: str | os.PathLike[str], run: bool = False) -> str:
    """The latency file behind *source*: a run with a sidecar, a sidecar, or the file itself."""
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

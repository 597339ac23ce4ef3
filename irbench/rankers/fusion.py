"""Rank fusion: reciprocal rank fusion and CombSUM / CombMNZ with score normalisation.

Definitions (for a query, runs :math:`r_1..r_n` with weights :math:`w_i`, a document *d*):

- **RRF** (Cormack, Clarke and Büttcher, SIGIR 2009):
  :math:`\\sum_i w_i / (k + \\mathrm{rank}_i(d))`, summed over the runs that retrieved *d*;
  ``k = 60`` by default. Ranks are trec_eval's (score descending, ties by doc id descending),
  never a rank column from a file.
- **CombSUM** (Fox and Shaw, TREC-2 1994): :math:`\\sum_i w_i\\,\\hat s_i(d)`, where
  :math:`\\hat s_i` is run *i*'s score normalised per query; a document a run did not retrieve
  adds 0.
- **CombMNZ**: CombSUM times the number of runs that retrieved *d*.

Normalisation per query and run (as ranx does): ``minmax`` :math:`(s - \\min)/(\\max - \\min)`,
``zscore`` :math:`(s - \\mu)/\\sigma` (population standard deviation), ``sum``
:math:`(s - \\min)/\\sum(s - \\min)`, or ``none``. A zero denominator is replaced by 1e-9, so a
query whose scores are all equal normalises to 0 (ranx's convention).

Everything is vectorised: the runs are concatenated, ranks and per-query statistics come from
one sort and segment reductions, and documents are combined with one Arrow group-by.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import from_numpy, to_numpy
from irbench.errors import RankerError
from irbench.io.schema import RUN_SCHEMA

__all__ = ["FUSION_METHODS", "NORMALISATIONS", "fuse", "trec_ranks"]

FusionMethod = Literal["rrf", "combsum", "combmnz"]
Normalisation = Literal["minmax", "zscore", "sum", "none"]
FUSION_METHODS: tuple[str, ...] = ("rrf", "combsum", "combmnz")
NORMALISATIONS: tuple[str, ...] = ("minmax", "zscore", "sum", "none")
_EPS = 1e-9


def trec_ranks(run: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """*run* sorted into trec_eval's order, with 1-based ranks and per-row query segment starts.

    Returns ``(sorted_run, ranks, starts)`` where ``starts[i]`` is the first row of row *i*'s
    query in the sorted table.
    """
    order = pc.sort_indices(
        run,
        sort_keys=[("query_id", "ascending"), ("score", "descending"), ("doc_id", "descending")],
    )
    ordered = run.take(order)
    n = ordered.num_rows
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ordered, empty, empty
    qids = ordered.column("query_id").combine_chunks()
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = ~to_numpy(pc.equal(qids[1:], qids[:-1]), null=False).astype(bool)
    head = np.flatnonzero(new)
    starts = np.repeat(head, np.diff(np.append(head, n)))
    ranks = np.arange(n, dtype=np.int64) - starts + 1
    return ordered, ranks, starts


def _normalise(scores: np.ndarray, starts: np.ndarray, how: str) -> np.ndarray:
    if how == "none" or scores.size == 0:
        return scores
    head = np.unique(starts)
    seg = np.searchsorted(head, starts)
    lo = np.minimum.reduceat(scores, head)[seg]
    if how == "minmax":
        hi = np.maximum.reduceat(scores, head)[seg]
        return (scores - lo) / np.maximum(hi - lo, _EPS)
    if how == "sum":
        shifted = scores - lo
        total = np.add.reduceat(shifted, head)[seg]
        return shifted / np.maximum(total, _EPS)
    counts = np.diff(np.append(head, scores.size))
    mean = np.add.reduceat(scores, head) / counts
    dev = scores - mean[seg]
    std = np.sqrt(np.add.reduceat(dev * dev, head) / counts)
    return dev / np.maximum(std[seg], _EPS)


def fuse(
    runs: Sequence[pa.Table],
    method: str = "rrf",
    *,
    norm: str = "minmax",
    rrf_k: float = 60.0,
    weights: Sequence[float] | None = None,
    depth: int | None = None,
    k: int | None = 1000,
) -> pa.Table:
    """Fuse *runs* (run tables) into one run table.

    Parameters
    ----------
    runs:
        Two or more run tables (``query_id``, ``doc_id``, ``score``).
    method:
        ``rrf``, ``combsum`` or ``combmnz`` (see the module docstring).
    norm:
        Score normalisation for CombSUM/CombMNZ: ``minmax``, ``zscore``, ``sum`` or ``none``
        (ignored by RRF, which uses ranks).
    rrf_k:
        RRF's constant *k* (60 in the original paper).
    weights:
        One weight per run (default 1 each).
    depth:
        Use only each run's top *depth* documents per query (default: all).
    k:
        Keep the top *k* fused documents per query (``None``: all).
    """
    if method not in FUSION_METHODS:
        raise RankerError(f"unknown fusion method {method!r} (use {', '.join(FUSION_METHODS)})")
    if norm not in NORMALISATIONS:
        raise RankerError(f"unknown normalisation {norm!r} (use {', '.join(NORMALISATIONS)})")
    if len(runs) < 2:
        raise RankerError(f"fusion needs at least two runs, got {len(runs)}")
    w = [1.0] * len(runs) if weights is None else [float(x) for x in weights]
    if len(w) != len(runs):
        raise RankerError(f"{len(w)} weights given for {len(runs)} runs (give one per run)")

    parts = []
    for weight, run in zip(w, runs, strict=True):
        ordered, ranks, starts = trec_ranks(run.select(["query_id", "doc_id", "score"]))
        keep = np.ones(ordered.num_rows, dtype=bool) if depth is None else ranks <= depth
        if method == "rrf":
            contrib = weight / (rrf_k + ranks.astype(np.float64))
        else:
            scores = to_numpy(ordered.column("score")).astype(np.float64)
            contrib = weight * _normalise(scores, starts, norm)
        mask = from_numpy(keep)
        parts.append(
            pa.table(
                {
                    "query_id": ordered.column("query_id").filter(mask),
                    "doc_id": ordered.column("doc_id").filter(mask),
                    "contrib": from_numpy(contrib[keep]),
                }
            )
        )
    grouped = (
        pa.concat_tables(parts)
        .group_by(["query_id", "doc_id"], use_threads=False)
        .aggregate([("contrib", "sum"), ("contrib", "count")])
    )
    score = to_numpy(grouped.column("contrib_sum")).astype(np.float64)
    if method == "combmnz":
        score = score * to_numpy(grouped.column("contrib_count"))
    fused = pa.Table.from_arrays(
        [
            grouped.column("query_id").cast(pa.string()),
            grouped.column("doc_id").cast(pa.string()),
            from_numpy(score),
        ],
        schema=RUN_SCHEMA,
    )
    return cut(fused, k)


def cut(run: pa.Table, k: int | None) -> pa.Table:
    """The top *k* rows of each query in trec_eval's order (the whole run when *k* is None)."""
    ordered, ranks, _ = trec_ranks(run)
    if k is None:
        return ordered
    return ordered.filter(from_numpy(ranks <= k))

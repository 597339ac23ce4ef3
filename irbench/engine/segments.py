"""Segment helpers: per-query operations on arrays grouped by query, without Python loops.

Rows are grouped by a query position ``qpos`` (non-decreasing). Each helper works on whole
arrays with numpy primitives (``cumsum``, ``bincount``, ``maximum.accumulate``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

# Aliases that document intent; numpy's dtype-level typing adds noise without catching bugs here.
IntArray = npt.NDArray[Any]
FloatArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]


def segment_starts(qpos: IntArray, nq: int) -> IntArray:
    """Row index where each query's segment starts (size ``nq``; absent queries get -1)."""
    starts = np.full(nq, -1, dtype=np.int64)
    if qpos.size:
        first = np.flatnonzero(np.r_[True, qpos[1:] != qpos[:-1]])
        starts[qpos[first]] = first
    return starts


def positions_in_segment(qpos: IntArray, nq: int) -> IntArray:
    """0-based position of every row inside its query's segment."""
    starts = segment_starts(qpos, nq)
    return np.arange(qpos.size, dtype=np.int64) - starts[qpos]


def cumcount(mask: BoolArray, qpos: IntArray, nq: int) -> IntArray:
    """Inclusive running count of ``mask`` within each query's segment."""
    cs = np.cumsum(mask, dtype=np.int64)
    if not cs.size:
        return cs
    starts = segment_starts(qpos, nq)
    before = cs[starts] - mask[starts]  # count before each segment (only valid for present q)
    return cs - before[qpos]


def per_query_sum(qpos: IntArray, nq: int, weights: npt.ArrayLike | None = None) -> FloatArray:
    """Sum of ``weights`` (or a count of rows) per query, as float64 of size ``nq``."""
    if weights is None:
        return np.bincount(qpos, minlength=nq).astype(np.float64)
    return np.bincount(qpos, weights=weights, minlength=nq)


def first_in_segment(qpos: IntArray) -> IntArray:
    """Indices of the first row of each distinct run of ``qpos``."""
    if not qpos.size:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, qpos[1:] != qpos[:-1]])


def segment_suffix_max(values: FloatArray, qpos: IntArray) -> FloatArray:
    """For each row, the maximum of ``values`` over this and all later rows of its segment.

    Exact: values are replaced by their integer rank before the segmented accumulate, so no
    floating-point offset trick perturbs them.
    """
    n = values.size
    if n == 0:
        return values.copy()
    uniq, inv = np.unique(values, return_inverse=True)
    seg = np.cumsum(np.r_[0, qpos[1:] != qpos[:-1]], dtype=np.int64)
    # reverse order: segments appear in decreasing seg order, so offset by (last - seg)
    width = np.int64(uniq.size)
    key = inv[::-1].astype(np.int64) + (seg[-1] - seg[::-1]) * width
    acc = np.maximum.accumulate(key)
    return uniq[(acc - (seg[-1] - seg[::-1]) * width)[::-1]]

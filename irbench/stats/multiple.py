"""Multiple-testing corrections (family-wise error and false discovery rate).

Definitions follow ``statsmodels.stats.multitest.multipletests`` (and its results agree with
it to floating-point rounding; the test suite checks all four methods):

* ``bonferroni``: ``min(1, m p_i)`` (Bonferroni inequality; Dunn 1961).
* ``holm``: step-down Bonferroni (Holm 1979): with sorted ``p_(1) <= ... <= p_(m)``,
  ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``.
* ``holm-sidak``: step-down Sidak (Holm 1979 with Sidak 1967 levels):
  ``p~_(i) = max_{j <= i} (1 - (1 - p_(j))^(m - j + 1))``.
* ``bh``: Benjamini-Hochberg (1995) step-up FDR: ``p~_(i) = min_{j >= i} min(1, m p_(j) / j)``.
* ``none``: unadjusted.

NaN p-values are refused (decide what an untestable comparison means first).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from irbench.errors import StatsError
from irbench.stats._common import FloatArray
from irbench.stats.methods import CORRECTIONS

__all__ = ["CORRECTIONS", "Correction", "adjust_pvalues"]

Correction = Literal["bonferroni", "holm", "holm-sidak", "bh", "none"]
_ALIASES = {"fdr_bh": "bh", "benjamini-hochberg": "bh", "sidak-holm": "holm-sidak"}


def adjust_pvalues(p: npt.ArrayLike, method: str = "holm") -> FloatArray:
    """Adjusted p-values for one family of tests (any shape; the whole array is the family).

    Parameters
    ----------
    p:
        Unadjusted p-values in [0, 1].
    method:
        One of ``bonferroni``, ``holm``, ``holm-sidak``, ``bh`` (alias ``fdr_bh``), ``none``.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values, same shape as ``p``. Reject at level ``alpha`` where
        ``p_adjusted <= alpha``.
    """
    method = _ALIASES.get(method, method)
    if method not in CORRECTIONS:
        raise StatsError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    arr = np.asarray(p, dtype=np.float64)
    if np.isnan(arr).any():
        raise StatsError("cannot adjust NaN p-values")
    if ((arr < 0) | (arr > 1)).any():
        raise StatsError("p-values must lie in [0, 1]")
    flat = arr.ravel()
    m = flat.size
    if method == "none" or m == 0:
        return arr.copy()
    if method == "bonferroni":
        return np.minimum(1.0, arr * m)
    order = np.argsort(flat, kind="stable")
    ps = flat[order]
    if method == "holm":
        adj = np.minimum(1.0, np.maximum.accumulate(ps * np.arange(m, 0, -1)))
    elif method == "holm-sidak":
        with np.errstate(divide="ignore"):
            adj = np.maximum.accumulate(-np.expm1(np.arange(m, 0, -1) * np.log1p(-ps)))
    else:  # bh
        raw = ps * m / np.arange(1, m + 1)
        adj = np.minimum(1.0, np.minimum.accumulate(raw[::-1])[::-1])
    out = np.empty(m, dtype=np.float64)
    out[order] = adj
    return out.reshape(arr.shape)

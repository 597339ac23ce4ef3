"""Paired bootstrap: significance test and percentile / BCa confidence intervals of the mean.

Queries are resampled with replacement (Efron & Tibshirani 1993, *An Introduction to the
Bootstrap*; Sakai 2006, "Evaluating evaluation metrics based on the bootstrap", SIGIR). A
bootstrap replicate is a vector of counts ``w`` (how often each query was drawn, summing to
``n``); the replicate mean of every test is ``w @ d / n``, so ``B`` replicates for ``P`` tests
are one matrix product, computed exactly on an integer grid (see
:func:`irbench.stats._common.exact_integer_grid`): results do not depend on thread count.

Test (shift method, Efron & Tibshirani 1993, section 16.4): the null distribution of the mean
is the bootstrap distribution shifted to have mean ``delta0``. With ``m`` the observed mean
and ``m*_b`` the replicate means, two-sided ``p = (1 + #{|m*_b - m| >= |m - delta0|}) /
(B + 1)``; greater: ``m*_b - m >= m - delta0``; less: ``m*_b - m <= m - delta0``. The ``+1``
convention is the same as :mod:`irbench.stats.randomization`.

Intervals at level ``1 - alpha``:

* percentile: the ``alpha/2`` and ``1 - alpha/2`` quantiles of ``m*_b`` (linear interpolation,
  numpy's default ``method="linear"``);
* BCa (Efron 1987; Efron & Tibshirani 1993, eq. 14.9-14.15, the definition of
  ``scipy.stats.bootstrap(method="BCa")``): bias correction
  ``z0 = Phi^-1((#{m*_b < m} + #{m*_b <= m}) / (2B))``, acceleration from the jackknife means
  ``m_(i) = (sum(d) - d_i) / (n - 1)``:
  ``a = sum((mbar - m_(i))^3) / (6 * (sum((mbar - m_(i))^2))^1.5)``; the interval is the
  quantiles at ``Phi(z0 + (z0 + z_q) / (1 - a (z0 + z_q)))`` for ``z_q = Phi^-1(alpha/2)`` and
  ``Phi^-1(1 - alpha/2)``. When every difference is equal (no spread) both intervals collapse
  to the observed mean.

Reproducibility: query indices are drawn with ``Generator.integers(0, n, size=(64, n))`` in
fixed blocks of 64 replicates, so the stream (hence the result) does not depend on the chunk size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from irbench.errors import StatsError
from irbench.stats._common import (
    Alternative,
    FloatArray,
    SeedLike,
    as_generator,
    check_alternative,
    check_differences,
    exact_integer_grid,
)

__all__ = ["BootstrapResult", "bootstrap_counts", "bootstrap_test"]

_BLOCK = 64
DEFAULT_CHUNK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class BootstrapResult:
    """Result of :func:`bootstrap_test` (arrays of the leading shape of ``d``).

    Attributes
    ----------
    statistic: observed mean difference ``mean(d)``.
    p_value: bootstrap test p-value of ``mean = delta0``.
    mc_se: Monte Carlo standard error of the p-value, ``sqrt(p(1-p)/B)``.
    ci_percentile_low, ci_percentile_high: percentile interval.
    ci_bca_low, ci_bca_high: BCa interval.
    replicates: B.
    """

    statistic: FloatArray
    p_value: FloatArray
    mc_se: FloatArray
    ci_percentile_low: FloatArray
    ci_percentile_high: FloatArray
    ci_bca_low: FloatArray
    ci_bca_high: FloatArray
    replicates: int


def bootstrap_counts(
    rng: np.random.Generator, rows: int, n: int, out: FloatArray | None = None
) -> FloatArray:
    """``rows x n`` float64 matrix of resampling counts (each row sums to ``n``).

    ``rows`` must be a multiple of 64; ``out`` (at least ``rows`` rows) is reused when given.
    """
    if rows % _BLOCK:
        raise StatsError(f"rows must be a multiple of {_BLOCK}")
    if out is None:
        out = np.empty((rows, n), dtype=np.float64)
    offsets = (np.arange(_BLOCK, dtype=np.int64) * n)[:, None]
    for start in range(0, rows, _BLOCK):  # fixed-size blocks keep the stream chunk-invariant
        idx = rng.integers(0, n, size=(_BLOCK, n), dtype=np.int64)
        cnt = np.bincount((idx + offsets).ravel(), minlength=_BLOCK * n)
        out[start : start + _BLOCK] = cnt.reshape(_BLOCK, n)
    return out[:rows]


def _quantiles_per_column(sorted_b: FloatArray, prob: FloatArray) -> FloatArray:
    """Linear-interpolation quantile of each column of ``sorted_b`` at its own ``prob``."""
    b = sorted_b.shape[0]
    h = np.clip(prob, 0.0, 1.0) * (b - 1)
    lo = np.floor(h).astype(np.int64)
    hi = np.minimum(lo + 1, b - 1)
    frac = h - lo
    cols = np.arange(sorted_b.shape[1])
    low_v = sorted_b[lo, cols]
    return np.asarray(low_v + frac * (sorted_b[hi, cols] - low_v), dtype=np.float64)


def bootstrap_test(
    d: npt.ArrayLike,
    *,
    replicates: int = 10_000,
    seed: SeedLike = 0,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    delta0: float = 0.0,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> BootstrapResult:
    """Paired bootstrap test and percentile/BCa intervals for the mean of ``d`` (``(..., n)``).

    ``replicates`` is rounded up to a multiple of 64. See the module docstring for definitions.
    """
    from scipy import special

    alternative = check_alternative(alternative)
    arr = check_differences(d, min_n=2)
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha must be in (0, 1), got {alpha}")
    if replicates < 1:
        raise StatsError(f"replicates must be >= 1, got {replicates}")
    replicates = -(-replicates // _BLOCK) * _BLOCK
    n = arr.shape[-1]
    lead = arr.shape[:-1]
    flat = arr.reshape(-1, n)
    ntest = flat.shape[0]
    q, e = exact_integer_grid(flat)
    qt = np.ascontiguousarray(q.T)
    total = q.sum(axis=1)  # exact integer sum of d on the grid
    shift = np.ldexp(np.full(ntest, float(n) * delta0), e)  # n * delta0 on the grid (approx.)
    sums = np.empty((replicates, ntest), dtype=np.float64)
    rng = as_generator(seed)
    rows = min(replicates, max(_BLOCK, (chunk_bytes // (8 * n)) // _BLOCK * _BLOCK))
    buf = np.empty((rows, n), dtype=np.float64)
    for start in range(0, replicates, rows):  # loop over chunks only
        r = min(rows, replicates - start)
        np.matmul(bootstrap_counts(rng, r, n, out=buf), qt, out=sums[start : start + r])
    centred = sums - total
    obs = total - shift
    tol = float(2 * n)  # grid rounding of the inputs (see randomization)
    if alternative == "two-sided":
        count = (np.abs(centred) >= np.abs(obs) - tol).sum(axis=0)
    elif alternative == "greater":
        count = (centred >= obs - tol).sum(axis=0)
    else:
        count = (centred <= obs + tol).sum(axis=0)
    p = (count + 1.0) / (replicates + 1.0)
    se = np.sqrt(p * (1.0 - p) / replicates)

    means = np.ldexp(sums, -e) / n  # (B, P)
    sorted_b = np.sort(means, axis=0)
    pl = np.full(ntest, alpha / 2)
    ph = np.full(ntest, 1 - alpha / 2)
    perc_lo = _quantiles_per_column(sorted_b, pl)
    perc_hi = _quantiles_per_column(sorted_b, ph)
    # BCa
    less = (sums < total).sum(axis=0)
    leq = (sums <= total).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z0 = special.ndtri((less + leq) / (2.0 * replicates))
        jack = (flat.sum(axis=1, keepdims=True) - flat) / (n - 1)
        dev = jack.mean(axis=1, keepdims=True) - jack
        acc = (dev**3).sum(axis=1) / (6.0 * ((dev**2).sum(axis=1)) ** 1.5)
        zl = z0 + special.ndtri(alpha / 2)
        zh = z0 + special.ndtri(1 - alpha / 2)
        a1 = special.ndtr(z0 + zl / (1 - acc * zl))
        a2 = special.ndtr(z0 + zh / (1 - acc * zh))
    degenerate = ~np.isfinite(a1) | ~np.isfinite(a2)
    a1 = np.where(degenerate, alpha / 2, a1)
    a2 = np.where(degenerate, 1 - alpha / 2, a2)
    bca_lo = _quantiles_per_column(sorted_b, a1)
    bca_hi = _quantiles_per_column(sorted_b, a2)
    flat_spread = np.ptp(flat, axis=1) == 0
    for arr_ in (perc_lo, perc_hi, bca_lo, bca_hi):
        arr_[flat_spread] = flat[flat_spread, 0]
    return BootstrapResult(
        statistic=flat.mean(axis=1).reshape(lead),
        p_value=p.reshape(lead),
        mc_se=se.reshape(lead),
        ci_percentile_low=perc_lo.reshape(lead),
        ci_percentile_high=perc_hi.reshape(lead),
        ci_bca_low=bca_lo.reshape(lead),
        ci_bca_high=bca_hi.reshape(lead),
        replicates=replicates,
    )

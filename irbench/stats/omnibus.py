"""Tests across many systems at once: ANOVA, Tukey's HSD and the randomised Tukey HSD.

Input is a matrix ``x`` of shape ``(..., S, n)``: ``S`` systems by ``n`` queries (leading axes,
e.g. measures, are batched).

* :func:`anova`: F test of "all system means equal". ``blocked=True`` (default, the IR design:
  Carterette 2012; Sakai 2014) is the two-way ANOVA without interaction, ``value ~ system +
  query``: ``SS_sys = n sum_s (m_s - m)^2``, ``SS_q = S sum_q (m_q - m)^2``,
  ``SS_res = SS_tot - SS_sys - SS_q``, ``df_res = (S - 1)(n - 1)`` (equals statsmodels
  ``anova_lm(ols("value ~ C(system) + C(query)"))``). ``blocked=False`` is the one-way ANOVA
  of ``scipy.stats.f_oneway`` (within-system residuals, ``df_res = S (n - 1)``).
* :func:`tukey_hsd`: Tukey's honestly significant difference for every pair ``i < j``:
  ``q = |m_i - m_j| / sqrt(MSE / n)``, ``p = P(Q_{S, df_res} >= q)`` (studentized range). With
  ``blocked=False`` this is exactly ``scipy.stats.tukey_hsd(*x)`` (balanced groups); with
  ``blocked=True`` the MSE and its degrees of freedom come from the two-way model.
* :func:`randomized_tukey_hsd`: Carterette (2012, "Multiple testing in statistical analysis
  of systems-based information retrieval experiments", TOIS 30(1)), algorithm 1: per
  permutation, shuffle each query's values across the systems, compute the system means and
  their range ``max - min``; the p-value of a pair is the share of permutations whose range
  reaches the observed ``|m_i - m_j|``. It controls the family-wise error over all pairs.
  Convention as in :mod:`irbench.stats.randomization`: ``p = (1 + #{range_b >= |m_i - m_j|})
  / (B + 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from irbench.errors import StatsError
from irbench.stats._common import FloatArray, SeedLike, as_generator

__all__ = ["AnovaResult", "TukeyResult", "anova", "randomized_tukey_hsd", "tukey_hsd"]


@dataclass(frozen=True)
class AnovaResult:
    """F statistic, p-value, degrees of freedom and residual mean square (leading shape)."""

    statistic: FloatArray
    p_value: FloatArray
    df_between: int
    df_residual: int
    mse: FloatArray


@dataclass(frozen=True)
class TukeyResult:
    """Pairwise results; ``pairs[k] = (i, j)`` with ``i < j``, arrays of shape ``(..., K)``.

    ``statistic`` is ``m_i - m_j`` (mean difference), ``p_value`` the family-wise p-value.
    """

    pairs: list[tuple[int, int]]
    statistic: FloatArray
    p_value: FloatArray


def _check_matrix(x: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim < 2:
        raise StatsError("expected an array of shape (..., systems, queries)")
    if arr.shape[-2] < 2 or arr.shape[-1] < 2:
        raise StatsError(
            f"need at least 2 systems and 2 queries, got {arr.shape[-2]} x {arr.shape[-1]}"
        )
    if not np.isfinite(arr).all():
        raise StatsError("per-query values hold NaN or infinite entries")
    return arr


def anova(x: npt.ArrayLike, *, blocked: bool = True) -> AnovaResult:
    """ANOVA F test over systems; see the module docstring for the two designs."""
    from scipy import special

    arr = _check_matrix(x)
    s, n = arr.shape[-2:]
    grand = arr.mean(axis=(-2, -1))
    m_sys = arr.mean(axis=-1)
    ss_sys = n * ((m_sys - grand[..., None]) ** 2).sum(axis=-1)
    if blocked:
        m_q = arr.mean(axis=-2)
        resid = arr - m_sys[..., None] - m_q[..., None, :] + grand[..., None, None]
        df_res = (s - 1) * (n - 1)
    else:
        resid = arr - m_sys[..., None]
        df_res = s * (n - 1)
    ss_res = (resid**2).sum(axis=(-2, -1))
    mse = ss_res / df_res
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ss_sys / (s - 1)) / mse
    p = special.fdtrc(s - 1, df_res, f)
    return AnovaResult(np.asarray(f), np.asarray(p), s - 1, df_res, np.asarray(mse))


def _pairs(s: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(s) for j in range(i + 1, s)]


def tukey_hsd(x: npt.ArrayLike, *, blocked: bool = True) -> TukeyResult:
    """Tukey's HSD for all pairs of systems; see the module docstring."""
    from scipy import stats

    arr = _check_matrix(x)
    s, n = arr.shape[-2:]
    res = anova(arr, blocked=blocked)
    m_sys = arr.mean(axis=-1)
    pairs = _pairs(s)
    ii = np.array([p[0] for p in pairs])
    jj = np.array([p[1] for p in pairs])
    diff = m_sys[..., ii] - m_sys[..., jj]
    srd = np.sqrt(res.mse / 2.0 * (2.0 / n))[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.abs(diff) / srd
    p = stats.studentized_range.sf(q, s, res.df_residual)
    p = np.where(np.isnan(q) & (diff == 0), 1.0, p)
    return TukeyResult(pairs, np.asarray(diff), np.clip(np.asarray(p, dtype=np.float64), 0, 1))


def randomized_tukey_hsd(
    x: npt.ArrayLike,
    *,
    permutations: int = 10_000,
    seed: SeedLike = 0,
    chunk_bytes: int = 16 * 2**20,
) -> TukeyResult:
    """Carterette's (2012) randomised Tukey HSD for all pairs; see the module docstring.

    All leading slices (measures) use the same permutations of the queries' system labels.
    The permutations of each query are drawn as ``argsort`` of uniform keys, in fixed blocks of
    64 permutations, so the result does not depend on the chunk size.
    """
    arr = _check_matrix(x)
    if permutations < 1:
        raise StatsError(f"permutations must be >= 1, got {permutations}")
    s, n = arr.shape[-2:]
    lead = arr.shape[:-2]
    flat = arr.reshape((-1, s, n))  # (L, S, n)
    per_q = np.ascontiguousarray(np.moveaxis(flat, -1, 0))  # (n, L, S)
    m_sys = flat.mean(axis=-1)
    pairs = _pairs(s)
    ii = np.array([p[0] for p in pairs])
    jj = np.array([p[1] for p in pairs])
    obs = np.abs(m_sys[:, ii] - m_sys[:, jj])  # (L, K)
    count = np.zeros(obs.shape, dtype=np.int64)
    rng = as_generator(seed)
    block = 64
    lsz = flat.shape[0]
    rows = max(block, (chunk_bytes // (8 * n * s * max(lsz, 1))) // block * block)
    qidx = np.arange(n)[None, :, None]
    done = 0
    while done < permutations:  # loop over chunks of permutations only
        r = min(rows, -(-(permutations - done) // block) * block)
        keys = np.concatenate([rng.random((block, n, s)) for _ in range(r // block)])
        perm = np.argsort(keys, axis=-1)  # (r, n, S): system order per permutation and query
        use = min(r, permutations - done)
        perm = perm[:use]
        # permuted[b, q, l, t] = per_q[q, l, perm[b, q, t]]
        permuted = per_q[qidx[..., None], np.arange(lsz)[None, None, :, None], perm[:, :, None, :]]
        means = permuted.mean(axis=1)  # (use, L, S)
        rng_b = means.max(axis=-1) - means.min(axis=-1)  # (use, L)
        count += (rng_b[:, :, None] >= obs[None, :, :]).sum(axis=0)
        done += use
    p = (count + 1.0) / (permutations + 1.0)
    diff = m_sys[:, ii] - m_sys[:, jj]
    k = len(pairs)
    return TukeyResult(pairs, diff.reshape((*lead, k)), p.reshape((*lead, k)))

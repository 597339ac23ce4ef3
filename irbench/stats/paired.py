"""Classical paired tests on per-query differences: t-test, Wilcoxon signed-rank, sign test.

All functions take the per-query differences ``d = x - y`` (run minus baseline) of shape
``(..., n)`` and test every leading index at once. Their p-values equal SciPy's
(``scipy.stats.ttest_rel``, ``scipy.stats.wilcoxon`` with its defaults, ``scipy.stats.binomtest``)
to 1e-12; the test suite checks this on the TREC DL 2019/2020 runs.

A *margin* ``delta0`` shifts the null hypothesis: the tests are run on ``d - delta0``.
Non-inferiority of a run against a baseline by a margin ``m > 0`` is
``alternative="greater", delta0=-m`` (H0: mean difference <= -m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from irbench.stats._common import (
    Alternative,
    FloatArray,
    check_alternative,
    check_differences,
)

__all__ = ["PairedResult", "sign_test", "t_test", "wilcoxon_test"]

#: scipy.stats.wilcoxon(method="auto") uses the exact null distribution up to this n.
WILCOXON_EXACT_MAX_N = 50
#: ... and, with ties or zeros, an exact sign-flip enumeration up to this n.
WILCOXON_PERMUTATION_MAX_N = 13


@dataclass(frozen=True)
class PairedResult:
    """Statistic and p-value of a vectorised paired test (arrays of the leading shape).

    Attributes
    ----------
    statistic:
        t for the t-test, W+ (sum of positive ranks) for Wilcoxon, number of positive
        differences for the sign test.
    p_value:
        The p-value for the requested alternative.
    n:
        Number of queries the test used (non-zero differences for Wilcoxon and sign test).
    method:
        A short description of how the p-value was obtained, per test (e.g. "exact",
        "normal", "permutation-exact").
    """

    statistic: FloatArray
    p_value: FloatArray
    n: npt.NDArray[np.int64]
    method: npt.NDArray[np.str_]


def _p_from_cdf_sf(cdf: FloatArray, sf: FloatArray, alternative: Alternative) -> FloatArray:
    if alternative == "greater":
        return sf
    if alternative == "less":
        return cdf
    return np.clip(2.0 * np.minimum(cdf, sf), 0.0, 1.0)


def t_test(
    d: npt.ArrayLike, *, alternative: Alternative = "two-sided", delta0: float = 0.0
) -> PairedResult:
    """Paired Student t-test on differences ``d`` (shape ``(..., n)``).

    ``t = (mean(d) - delta0) / (sd(d) / sqrt(n))`` with ``sd`` the ``ddof=1`` standard deviation,
    ``n - 1`` degrees of freedom; identical to ``scipy.stats.ttest_rel(x, y)`` with
    ``d = x - y`` (Student 1908; any statistics text). When every difference equals ``delta0``
    the statistic is undefined (0/0) and the p-value is NaN, as in SciPy; :func:`irbench.stats.compare`
    reports such rows with p-value 1. ``n = 1`` gives NaN.
    """
    from scipy import special

    alternative = check_alternative(alternative)
    arr = check_differences(d) - delta0
    n = arr.shape[-1]
    mean = arr.mean(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = arr.var(axis=-1, ddof=1) if n > 1 else np.full(mean.shape, np.nan)
        t = mean / np.sqrt(var / n)
    df = n - 1
    with np.errstate(invalid="ignore"):
        cdf = special.stdtr(df, t) if df > 0 else np.full(t.shape, np.nan)
        sf = special.stdtr(df, -t) if df > 0 else np.full(t.shape, np.nan)
    p = _p_from_cdf_sf(cdf, sf, alternative)
    shape = mean.shape
    return PairedResult(
        statistic=np.asarray(t, dtype=np.float64),
        p_value=np.asarray(p, dtype=np.float64),
        n=np.full(shape, n, dtype=np.int64),
        method=np.full(shape, "t", dtype="<U24"),
    )


def _wilcoxon_pmf(n: int) -> FloatArray:
    """Exact null pmf of W+ for ``n`` untied non-zero differences (2**-n times subset counts)."""
    counts = np.zeros(n * (n + 1) // 2 + 1, dtype=np.float64)
    counts[0] = 1.0
    for k in range(1, n + 1):  # dynamic programme over ranks, not over queries' data
        counts[k:] = counts[k:] + counts[:-k].copy()
    return counts / 2.0**n


def wilcoxon_test(
    d: npt.ArrayLike, *, alternative: Alternative = "two-sided", delta0: float = 0.0
) -> PairedResult:
    """Wilcoxon signed-rank test, matching ``scipy.stats.wilcoxon(x, y)`` with its defaults.

    Definition (Wilcoxon 1945; SciPy >= 1.13 rules for ``method="auto"``,
    ``zero_method="wilcox"``, ``correction=False``):

    * zero differences (after subtracting ``delta0``) are dropped ("wilcox" zero handling);
      the remaining ``m`` differences are ranked by absolute value with average ranks for ties;
      the statistic is ``W+``, the sum of the ranks of the positive differences;
    * the p-value is *exact* (null distribution of ``W+`` for ``m`` untied ranks) when the
      original length ``n <= 50`` and there are neither ties nor zeros; a non-integral ``W+``
      cannot occur then;
    * with ties or zeros and ``n <= 13``, the p-value is an exact enumeration of all ``2**m``
      sign flips of the ranked differences (SciPy's ``PermutationMethod`` enumerates exactly
      then); two-sided is ``2 * min(P(W <= w), P(W >= w))`` clipped to 1;
    * otherwise the normal approximation ``z = (W+ - m(m+1)/4) / sqrt(m(m+1)(2m+1)/24 -
      sum(t^3 - t)/48)`` with tie correction and no continuity correction.

    All differences zero gives NaN (as SciPy); :func:`irbench.stats.compare` reports p = 1.
    """
    from scipy import special, stats

    alternative = check_alternative(alternative)
    arr = check_differences(d) - delta0
    n = arr.shape[-1]
    lead = arr.shape[:-1]
    flat = arr.reshape(-1, n)
    absd = np.abs(flat)
    zero = flat == 0
    nzero = zero.sum(axis=-1)
    m = n - nzero
    # Ranks among non-zero |d|: zeros take the lowest ranks 1..nzero, so subtract nzero.
    r_avg = stats.rankdata(absd, method="average", axis=-1) - nzero[:, None]
    r_min = stats.rankdata(absd, method="min", axis=-1)
    r_max = stats.rankdata(absd, method="max", axis=-1)
    tsize = (r_max - r_min + 1.0) * ~zero
    has_ties = ((tsize > 1).any(axis=-1)) | (nzero > 0)
    r_plus = np.sum(np.where(flat > 0, r_avg, 0.0), axis=-1)
    # sum over tie groups of (t^3 - t) == sum over elements of (t^2 - 1)
    tie_term = np.sum(np.where(zero, 0.0, tsize**2 - 1.0), axis=-1)
    mf = m.astype(np.float64)
    mn = mf * (mf + 1.0) * 0.25
    se = np.sqrt((mf * (mf + 1.0) * (2.0 * mf + 1.0) - tie_term / 2.0) / 24.0)

    p = np.full(flat.shape[0], np.nan)
    method = np.full(flat.shape[0], "", dtype="<U24")
    use_exact = ~has_ties if n <= WILCOXON_EXACT_MAX_N else np.zeros_like(has_ties)
    use_perm = has_ties & (m > 0) if n <= WILCOXON_PERMUTATION_MAX_N else np.zeros_like(has_ties)
    use_norm = ~use_exact & ~use_perm

    if use_norm.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (r_plus[use_norm] - mn[use_norm]) / se[use_norm]
        p[use_norm] = _p_from_cdf_sf(special.ndtr(z), special.ndtr(-z), alternative)
        method[use_norm] = "normal"
    for mi in np.unique(m[use_exact]):  # loop over distinct sample sizes, not queries
        sel = use_exact & (m == mi)
        pmf = _wilcoxon_pmf(int(mi))
        cdf_all = np.cumsum(pmf)
        sf_all = np.cumsum(pmf[::-1])[::-1]
        w = r_plus[sel]
        lo = np.floor(w).astype(np.int64)
        hi = np.ceil(w).astype(np.int64)
        p[sel] = _p_from_cdf_sf(cdf_all[hi], sf_all[lo], alternative)
        method[sel] = "exact"
    if use_perm.any():
        idx = np.flatnonzero(use_perm)
        ranks = np.where(zero[idx], 0.0, r_avg[idx])  # zeros contribute nothing when flipped
        nflip = 2**n
        bits = ((np.arange(nflip)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.float64)
        null = bits @ ranks.T  # (2**n, tests): W+ for every sign assignment
        obs = r_plus[idx]
        gamma = np.abs(obs * np.finfo(np.float64).eps * 100)
        p_less = (null <= obs + gamma).sum(axis=0) / nflip
        p_greater = (null >= obs - gamma).sum(axis=0) / nflip
        p[idx] = _p_from_cdf_sf(p_less, p_greater, alternative)
        method[idx] = "permutation-exact"
    p[m == 0] = np.nan
    return PairedResult(
        statistic=r_plus.reshape(lead),
        p_value=p.reshape(lead),
        n=m.reshape(lead).astype(np.int64),
        method=method.reshape(lead),
    )


def sign_test(
    d: npt.ArrayLike, *, alternative: Alternative = "two-sided", delta0: float = 0.0
) -> PairedResult:
    """Sign test: binomial test of the number of positive differences among non-zero ones.

    Zero differences (ties, after subtracting ``delta0``) are dropped; with ``m`` non-zero
    differences and ``k`` positive, the p-value is ``scipy.stats.binomtest(k, m, 0.5)``'s:
    for two-sided, the total probability of outcomes no more likely than ``k`` (for p = 1/2:
    ``min(1, cdf(min(k, m-k)) + sf(max(k, m-k) - 1))``, and 1 when ``k = m/2``). ``m = 0`` gives
    NaN (SciPy raises); :func:`irbench.stats.compare` reports p = 1.
    """
    from scipy import stats

    alternative = check_alternative(alternative)
    arr = check_differences(d) - delta0
    k = (arr > 0).sum(axis=-1)
    m = k + (arr < 0).sum(axis=-1)
    binom = stats.binom
    with np.errstate(invalid="ignore", divide="ignore"):
        if alternative == "greater":
            p = binom.sf(k - 1, m, 0.5)
        elif alternative == "less":
            p = binom.cdf(k, m, 0.5)
        else:
            lo = np.minimum(k, m - k)
            hi = np.maximum(k, m - k)
            p = np.minimum(1.0, binom.cdf(lo, m, 0.5) + binom.sf(hi - 1, m, 0.5))
            p = np.where(2 * k == m, 1.0, p)
    p = np.where(m == 0, np.nan, p)
    return PairedResult(
        statistic=np.asarray(k, dtype=np.float64),
        p_value=np.asarray(p, dtype=np.float64),
        n=np.asarray(m, dtype=np.int64),
        method=np.full(np.shape(k), "exact-binomial", dtype="<U24"),
    )

"""Effect sizes and uncertainty for paired per-query differences.

* :func:`t_interval`: mean difference with the Student-t confidence interval
  ``mean +- t_{1-alpha/2, n-1} * sd / sqrt(n)``.
* :func:`cohens_dz`: Cohen's ``d_z = mean(d) / sd(d)`` (``ddof=1``; Cohen 1988, the
  standardised mean of paired differences; Lakens 2013, eq. 6).
* :func:`win_tie_loss`: per-query counts of ``d > 0``, ``d == 0``, ``d < 0``.
* :func:`minimum_detectable_effect` / :func:`t_power`: power of the two-sided paired t-test
  from the noncentral t distribution (as ``statsmodels.stats.power.TTestPower``):
  ``power = P(T' > t_c) + P(T' < -t_c)``, ``T' ~ nct(n - 1, delta sqrt(n) / sd)``,
  ``t_c = t_{1-alpha/2, n-1}``; the minimum detectable effect is the ``delta`` at which the
  power equals the target (solved by Brent's method once: it does not depend on sd), reported in the measure's units
  using the observed ``sd`` of the differences.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from irbench.errors import StatsError
from irbench.stats._common import FloatArray, check_differences

__all__ = ["cohens_dz", "minimum_detectable_effect", "t_interval", "t_power", "win_tie_loss"]


def t_interval(d: npt.ArrayLike, alpha: float = 0.05) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(mean, low, high)``: the ``1 - alpha`` Student-t interval of ``mean(d)``.

    With ``n = 1`` or no spread, the interval is NaN or collapses to the mean respectively.
    """
    from scipy import special

    arr = check_differences(d)
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha must be in (0, 1), got {alpha}")
    n = arr.shape[-1]
    mean = arr.mean(axis=-1)
    if n < 2:
        nan = np.full(mean.shape, np.nan)
        return mean, nan, nan.copy()
    sem = arr.std(axis=-1, ddof=1) / np.sqrt(n)
    tc = special.stdtrit(n - 1, 1.0 - alpha / 2.0)
    return mean, mean - tc * sem, mean + tc * sem


def cohens_dz(d: npt.ArrayLike) -> FloatArray:
    """Cohen's ``d_z = mean(d) / sd(d, ddof=1)``; NaN when ``sd = 0`` or ``n < 2``."""
    arr = check_differences(d)
    if arr.shape[-1] < 2:
        return np.full(arr.shape[:-1], np.nan)
    sd = arr.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, arr.mean(axis=-1) / np.where(sd > 0, sd, 1.0), np.nan)


def win_tie_loss(d: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], ...]:
    """Return ``(wins, ties, losses)``: counts of queries with ``d > 0``, ``== 0``, ``< 0``."""
    arr = check_differences(d)
    return (
        (arr > 0).sum(axis=-1).astype(np.int64),
        (arr == 0).sum(axis=-1).astype(np.int64),
        (arr < 0).sum(axis=-1).astype(np.int64),
    )


def t_power(effect_dz: npt.ArrayLike, n: int, alpha: float = 0.05) -> FloatArray:
    """Power of the two-sided paired t-test at standardised effect ``d_z`` with ``n`` queries."""
    # scipy.special's noncentral t CDF is the Boost routine scipy.stats.nct calls, without
    # importing scipy.stats (tens of seconds on a loaded machine, most of a small compare).
    from scipy import special

    es = np.abs(np.asarray(effect_dz, dtype=np.float64))
    if n < 2:
        return np.full(es.shape, np.nan)
    df = n - 1
    tc = special.stdtrit(df, 1.0 - alpha / 2.0)
    nc = es * np.sqrt(n)
    with np.errstate(invalid="ignore"):
        upper = 1.0 - special.nctdtr(df, nc, tc)
        pw = np.asarray(upper + special.nctdtr(df, nc, -tc), dtype=np.float64)
    # SciPy's noncentral t can return NaN far in the tail; the normal approximation is exact
    # to many digits there.
    approx = special.ndtr(nc - tc) + special.ndtr(-nc - tc)
    return np.where(np.isfinite(pw), pw, approx)


def minimum_detectable_effect(
    sd: npt.ArrayLike, n: int, alpha: float = 0.05, power: float = 0.8
) -> FloatArray:
    """Smallest mean difference the two-sided paired t-test detects with the given power.

    Parameters
    ----------
    sd:
        Standard deviation (``ddof=1``) of the per-query differences, any shape.
    n:
        Number of queries.

    Returns
    -------
    numpy.ndarray
        ``d_z * sd`` where ``t_power(d_z, n, alpha) == power``; NaN for ``n < 2``.
    """
    sd_arr = np.asarray(sd, dtype=np.float64)
    if n < 2:
        return np.full(sd_arr.shape, np.nan)
    if not 0.0 < power < 1.0:
        raise StatsError(f"power must be in (0, 1), got {power}")
    from scipy import special

    # Bracket around the normal approximation (z_{1-alpha/2} + z_power) / sqrt(n), then
    # bisect: power is increasing in d_z. 60 halvings of a bracket below 2 reach 1e-12 without
    # importing scipy.optimize.
    approx = (special.ndtri(1 - alpha / 2) + special.ndtri(power)) / np.sqrt(n)
    lo, hi = 0.5 * approx, 1.5 * approx
    while t_power(hi, n, alpha) < power:
        lo, hi = hi, hi * 2.0
    while lo > 1e-12 and t_power(lo, n, alpha) > power:
        lo /= 2.0
    while hi - lo > 1e-12 * max(1.0, hi):  # scalar root, about 40-60 steps
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_power(mid, n, alpha) < power else (lo, mid)
    dz = 0.5 * (lo + hi)
    return np.asarray(dz * sd_arr, dtype=np.float64)

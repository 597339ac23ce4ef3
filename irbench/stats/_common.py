"""Shared helpers of :mod:`irbench.stats`: validation, seeds and exact summation.

Everything here works on arrays of per-query *differences* ``d`` of shape ``(..., n)``: the
leading axes index independent tests (pairs of systems x measures), the last axis indexes the
queries. All functions in the package are vectorised over the leading axes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from irbench.errors import StatsError

__all__ = [
    "Alternative",
    "FloatArray",
    "SeedLike",
    "as_generator",
    "check_alternative",
    "check_differences",
    "exact_integer_grid",
    "exact_integer_scale",
]

FloatArray = npt.NDArray[np.float64]
Alternative = Literal["two-sided", "greater", "less"]
_ALTERNATIVES = ("two-sided", "greater", "less")

SeedLike = int | np.random.Generator | np.random.SeedSequence | None


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` for ``seed``.

    An ``int`` or ``SeedSequence`` makes a fresh PCG64 generator (``numpy.random.default_rng``);
    a ``Generator`` is used as is (and advanced); ``None`` draws fresh OS entropy, which is not
    reproducible.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, float)):
        raise StatsError(f"seed must be an int or numpy Generator, not {type(seed).__name__}")
    return np.random.default_rng(seed)


def check_alternative(alternative: str) -> Alternative:
    """Validate an ``alternative`` argument ("two-sided", "greater" or "less")."""
    if alternative not in _ALTERNATIVES:
        raise StatsError(f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}")
    return alternative  # type: ignore[return-value]


def check_differences(d: npt.ArrayLike, *, min_n: int = 1, name: str = "d") -> FloatArray:
    """Return ``d`` as a float64 array of shape ``(..., n)`` with ``n >= min_n``, no NaN/inf.

    Raises
    ------
    StatsError
        If ``d`` is 0-d, has fewer than ``min_n`` queries, or holds NaN or infinite values
        (per-query values must be complete; decide how to treat missing queries before testing).
    """
    arr = np.asarray(d, dtype=np.float64)
    if arr.ndim == 0:
        raise StatsError(f"{name} must have a query axis (got a scalar)")
    if arr.shape[-1] < min_n:
        raise StatsError(f"{name} needs at least {min_n} queries, got {arr.shape[-1]}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise StatsError(
            f"{name} holds {bad} NaN or infinite value(s); per-query values must be finite "
            "(align the queries first: intersection of shared queries, or zeros as trec_eval -c)"
        )
    return arr


def exact_integer_scale(d: FloatArray, max_weight: int = 1) -> FloatArray:
    """Like :func:`exact_integer_grid` but return only the integer-valued array."""
    return exact_integer_grid(d, max_weight)[0]


def exact_integer_grid(
    d: FloatArray, max_weight: int = 1
) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """Round ``d`` (shape ``(..., n)``) onto a power-of-two grid so that sums are exact.

    Each test (leading index) gets its own scale ``2**e`` with ``e`` chosen so that
    ``max_weight * n * max|d| * 2**e <= 2**52``; ``round(d * 2**e)`` is then an integer-valued
    float64 array and every weighted sum with integer weights in ``[-max_weight, max_weight]``
    (sign flips, bootstrap counts) is computed *exactly*, whatever the summation order. This is
    what makes the Monte Carlo tests independent of BLAS thread count and blocking. The rounding
    moves each value by at most ``2**-e / 2`` (about ``1e-12`` relative to ``max|d|`` at MS MARCO
    scale), and the observed and resampled statistics are computed from the same rounded values.
    """
    n = d.shape[-1]
    amax = np.max(np.abs(d), axis=-1, keepdims=True) if n else np.zeros((*d.shape[:-1], 1))
    bound = float(max_weight) * max(n, 1)
    with np.errstate(divide="ignore"):
        e = np.floor(52.0 - np.log2(bound) - np.ceil(np.log2(np.where(amax > 0, amax, 1.0))))
    ei = np.minimum(e, 1000.0).astype(np.int32)
    return np.rint(np.ldexp(d, ei)), ei[..., 0]

"""The significance tests, intervals and corrections of :func:`irbench.stats.compare`, by name.

One table per kind, and every list of names (the ``--test``, ``--ci`` and ``--correction``
choices of ``irbench compare``, ``leaderboard``, ``table``; the tests a ``check`` policy may
use; the error messages) is read from it. A test's entry says how it runs on the aligned values
(:class:`TestInput` -> :class:`TestOutcome`), what it is, and which comparisons it supports.

Cheap to import (the command line reads the names at start-up): numpy and the test modules are
imported when a test runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from irbench.stats._common import Alternative, FloatArray

__all__ = [
    "CI_METHODS",
    "CORRECTIONS",
    "GATE_TESTS",
    "INTERVALS",
    "SIGNIFICANCE_TESTS",
    "TESTS",
    "Interval",
    "SignificanceTest",
    "TestInput",
    "TestOutcome",
]


@dataclass(frozen=True)
class TestInput:
    """What a test sees: the aligned ``values[system, measure, query]``, the ``pairs``
    (treatment, baseline) and their differences ``d[pair, measure, query]``."""

    values: FloatArray
    pairs: list[tuple[int, int]]
    d: FloatArray
    alternative: Alternative
    delta0: float  # H0: mean(d) = delta0 (-margin for non-inferiority)
    alpha: float
    permutations: int
    rng: np.random.Generator


@dataclass(frozen=True)
class TestOutcome:
    """Per (pair, measure): the statistic, the p-value (NaN: untestable), the Monte Carlo
    standard error of p (``None``: exact, 0) and the ``test_detail`` text (one for all, or
    an array)."""

    statistic: Any
    p_value: FloatArray
    detail: Any
    mc_se: Any = None


@dataclass(frozen=True)
class SignificanceTest:
    """One test of ``--test``: ``run`` computes it for every pair and measure at once."""

    name: str
    summary: str  # for --help and docstrings
    run: Callable[[TestInput], TestOutcome]
    two_sided_only: bool = False  # omnibus tests (Tukey HSD): no margin, no one-sided H1
    gate: bool = True  # usable for one pair in a `check` non-inferiority policy


# ------------------------------------------------------------------------------------ tests


def _t(x: TestInput) -> TestOutcome:
    from irbench.stats.paired import t_test

    r = t_test(x.d, alternative=x.alternative, delta0=x.delta0)
    return TestOutcome(r.statistic, r.p_value, "t")


def _wilcoxon(x: TestInput) -> TestOutcome:
    import numpy as np

    from irbench.stats.paired import wilcoxon_test

    r = wilcoxon_test(x.d, alternative=x.alternative, delta0=x.delta0)
    return TestOutcome(r.statistic, r.p_value, np.char.add("wilcoxon ", r.method).astype(object))


def _sign(x: TestInput) -> TestOutcome:
    from irbench.stats.paired import sign_test

    r = sign_test(x.d, alternative=x.alternative, delta0=x.delta0)
    return TestOutcome(r.statistic, r.p_value, "sign")


def _randomization(x: TestInput) -> TestOutcome:
    from irbench.stats.randomization import randomization_test, randomization_test_pairs

    if x.delta0 == 0.0:  # one product with the system columns serves every pair
        r = randomization_test_pairs(
            x.values, x.pairs, permutations=x.permutations, seed=x.rng, alternative=x.alternative
        )
    else:
        r = randomization_test(
            x.d,
            permutations=x.permutations,
            seed=x.rng,
            alternative=x.alternative,
            delta0=x.delta0,
        )
    kind = "exact" if r.exact else "monte-carlo"
    return TestOutcome(r.statistic, r.p_value, f"randomization {kind} B={r.permutations}", r.mc_se)


def _bootstrap(x: TestInput) -> TestOutcome:
    from irbench.stats.bootstrap import bootstrap_test

    r = bootstrap_test(
        x.d,
        replicates=x.permutations,
        seed=x.rng,
        alpha=x.alpha,
        alternative=x.alternative,
        delta0=x.delta0,
    )
    return TestOutcome(r.statistic, r.p_value, f"bootstrap B={r.replicates}", r.mc_se)


def _tukey_pairs(x: TestInput, result: Any) -> FloatArray:
    """p-values of the omnibus ``result`` for ``x.pairs``, shape (pair, measure)."""
    import numpy as np

    lookup = {pr: k for k, pr in enumerate(result.pairs)}
    kk = np.array([lookup[(min(a, b), max(a, b))] for a, b in x.pairs])
    p: FloatArray = result.p_value[:, kk].T
    return p


def _tukey(x: TestInput) -> TestOutcome:
    import numpy as np

    from irbench.stats.omnibus import tukey_hsd

    r = tukey_hsd(np.moveaxis(x.values, 1, 0), blocked=True)
    return TestOutcome(x.d.mean(axis=-1), _tukey_pairs(x, r), "tukey hsd (system + query)")


def _tukey_randomized(x: TestInput) -> TestOutcome:
    import numpy as np

    from irbench.stats.omnibus import randomized_tukey_hsd

    r = randomized_tukey_hsd(np.moveaxis(x.values, 1, 0), permutations=x.permutations, seed=x.rng)
    p = _tukey_pairs(x, r)
    return TestOutcome(
        x.d.mean(axis=-1),
        p,
        f"randomized tukey hsd B={x.permutations}",
        np.sqrt(p * (1 - p) / x.permutations),
    )


_ALL_TESTS = (
    SignificanceTest("t", "paired t-test", _t),
    SignificanceTest("wilcoxon", "Wilcoxon signed-rank (SciPy's rules)", _wilcoxon),
    SignificanceTest("sign", "sign test", _sign),
    SignificanceTest(
        "randomization",
        "Fisher's sign-flip randomization (exact when 2**n <= permutations)",
        _randomization,
    ),
    SignificanceTest("bootstrap", "paired bootstrap, shift method", _bootstrap),
    SignificanceTest(
        "tukey",
        "Tukey HSD on the two-way system + query model",
        _tukey,
        two_sided_only=True,
        gate=False,
    ),
    SignificanceTest(
        "tukey-randomized",
        "randomized Tukey HSD (Carterette 2012)",
        _tukey_randomized,
        two_sided_only=True,
        gate=False,
    ),
)

#: name -> test, in the order of the command line's choices.
SIGNIFICANCE_TESTS: dict[str, SignificanceTest] = {t.name: t for t in _ALL_TESTS}
#: Names of the tests (``--test``).
TESTS: tuple[str, ...] = tuple(SIGNIFICANCE_TESTS)
#: Tests of a single pair that a ``check`` policy may use (no omnibus test).
GATE_TESTS: tuple[str, ...] = tuple(t.name for t in _ALL_TESTS if t.gate)


# -------------------------------------------------------------------------------- intervals


@dataclass(frozen=True)
class Interval:
    """One ``--ci`` method: ``(low, high)`` of ``mean(d)`` at level ``1 - alpha``; ``None``
    for the Student-t interval that :func:`irbench.stats.effect.t_interval` computes anyway."""

    name: str
    summary: str
    bootstrap_bounds: tuple[str, str] | None = None  # BootstrapResult fields (low, high)


INTERVALS: dict[str, Interval] = {
    i.name: i
    for i in (
        Interval("t", "Student t"),
        Interval("percentile", "bootstrap percentile", ("ci_percentile_low", "ci_percentile_high")),
        Interval("bca", "bootstrap BCa", ("ci_bca_low", "ci_bca_high")),
    )
}
#: Names of the interval methods (``--ci``).
CI_METHODS: tuple[str, ...] = tuple(INTERVALS)


# ------------------------------------------------------------------------------ corrections

#: Multiple-testing corrections of :func:`irbench.stats.adjust_pvalues` (``--correction``).
CORRECTIONS: tuple[str, ...] = ("bonferroni", "holm", "holm-sidak", "bh", "none")

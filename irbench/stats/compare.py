"""Table-level comparison of systems: paired tests for all pairs (or against a baseline) and
all measures at once, with multiple-testing correction, intervals and effect sizes.

:func:`compare_per_query` works on a per-query table (pandas or Arrow, columns ``run``,
``measure``, ``query_id``, ``value``); :func:`compare` evaluates qrels and runs with
:func:`irbench.engine.evaluate` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from irbench.errors import StatsError
from irbench.stats._common import FloatArray, SeedLike, as_generator, check_alternative
from irbench.stats.align import Aligned, QueryPolicy, align
from irbench.stats.methods import (
    CI_METHODS,
    CORRECTIONS,
    INTERVALS,
    SIGNIFICANCE_TESTS,
    TESTS,
    TestInput,
)
from irbench.stats.multiple import adjust_pvalues

__all__ = [
    "COLUMNS",
    "TESTS",
    "compare",
    "compare_aligned",
    "compare_per_query",
    "evaluate_per_query",
]

#: Columns of the result, in order.
COLUMNS = (
    "run",
    "baseline",
    "measure",
    "n_queries",
    "mean",
    "baseline_mean",
    "delta",
    "ci_low",
    "ci_high",
    "ci_method",
    "statistic",
    "p_value",
    "p_adjusted",
    "mc_se",
    "test",
    "test_detail",
    "alternative",
    "margin",
    "correction",
    "family",
    "family_size",
    "alpha",
    "significant",
    "effect_dz",
    "wins",
    "ties",
    "losses",
    "mde",
    "query_policy",
)


def _pairs(n_runs: int, baseline: int | None) -> list[tuple[int, int]]:
    """(treatment, baseline) index pairs: vs the baseline, or every i < j as (j, i)."""
    if baseline is not None:
        return [(i, baseline) for i in range(n_runs) if i != baseline]
    return [(j, i) for i in range(n_runs) for j in range(i + 1, n_runs)]


def _check_options(
    test: str,
    correction: str,
    ci: str,
    family: str,
    alpha: float,
    margin: float,
    alternative: str | None,
) -> str:
    """Validate the options of :func:`compare_aligned`; returns the alternative."""
    if test not in TESTS:
        raise StatsError(f"test must be one of {TESTS}, got {test!r}")
    if correction not in CORRECTIONS:
        raise StatsError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if ci not in CI_METHODS:
        raise StatsError(f"ci must be one of {CI_METHODS}, got {ci!r}")
    if family not in ("all", "measure"):
        raise StatsError(f"family must be 'all' or 'measure', got {family!r}")
    if not 0.0 < alpha < 1.0:
        raise StatsError(f"alpha must be in (0, 1), got {alpha}")
    if margin < 0:
        raise StatsError(f"margin must be >= 0 (a tolerated loss), got {margin}")
    if alternative is None:
        alternative = "greater" if margin > 0 else "two-sided"
    if margin > 0 and alternative != "greater":
        raise StatsError("a non-inferiority margin needs alternative='greater'")
    if SIGNIFICANCE_TESTS[test].two_sided_only and (margin > 0 or alternative != "two-sided"):
        raise StatsError("Tukey HSD is two-sided only; use another test for non-inferiority")
    return alternative


def _interval(
    d: FloatArray, ci: str, alpha: float, permutations: int, rng: np.random.Generator
) -> tuple[FloatArray, Any, Any]:
    """Mean difference and its ``ci`` interval (Student t, or bootstrap with ``rng``)."""
    from irbench.stats import bootstrap, effect

    mean_d, lo, hi = effect.t_interval(d, alpha)
    bounds = INTERVALS[ci].bootstrap_bounds
    if bounds is not None:
        br = bootstrap.bootstrap_test(d, replicates=permutations, seed=rng, alpha=alpha)
        lo, hi = getattr(br, bounds[0]), getattr(br, bounds[1])
    return mean_d, lo, hi


def _adjust(
    p: FloatArray, correction: str, family: str, measures: list[str], scope: str
) -> tuple[FloatArray, Any, Any]:
    """Adjusted p-values over the family (every row, or each measure's column) with the
    family's description and size per row."""
    k_pairs, n_meas = p.shape
    p_adj = np.empty_like(p)
    fam = np.empty(p.shape, dtype=object)
    fam_size = np.empty(p.shape, dtype=np.int64)
    if family == "all":
        p_adj[...] = adjust_pvalues(p, correction)
        fam[...] = f"all {p.size} tests ({k_pairs} {scope} x {n_meas} measures)"
        fam_size[...] = p.size
    else:
        for m in range(n_meas):  # loop over measures (families), not data
            p_adj[:, m] = adjust_pvalues(p[:, m], correction)
            fam[:, m] = f"{measures[m]}: {k_pairs} {scope}"
            fam_size[:, m] = k_pairs
    return p_adj, fam, fam_size


def compare_aligned(
    data: Aligned,
    *,
    baseline: str | None = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    permutations: int = 10_000,
    seed: SeedLike = 0,
    margin: float = 0.0,
    alternative: str | None = None,
    family: Literal["all", "measure"] = "all",
    ci: str = "t",
    power: float = 0.8,
) -> Any:
    """Compare aligned per-query values; see :func:`compare_per_query` for the parameters.

    Assembly only: the test is :data:`irbench.stats.methods.SIGNIFICANCE_TESTS` ``[test]``,
    the interval :data:`~irbench.stats.methods.INTERVALS` ``[ci]``, the effect sizes those of
    :mod:`irbench.stats.effect`, the correction :func:`adjust_pvalues`."""
    import pandas as pd

    from irbench.stats import effect

    alternative = _check_options(test, correction, ci, family, alpha, margin, alternative)
    alt = check_alternative(alternative)
    values = data.values
    n_runs, n_meas, n = values.shape
    if n_runs < 2:
        raise StatsError("need at least two runs to compare")
    if n < 2:
        raise StatsError(f"need at least 2 shared queries for paired tests, got {n}")
    b_idx: int | None = None
    if baseline is not None:
        if baseline not in data.runs:
            raise StatsError(f"baseline {baseline!r} is not one of the runs {data.runs}")
        b_idx = data.runs.index(baseline)
    pairs = _pairs(n_runs, b_idx)
    ti = np.array([p[0] for p in pairs])
    bi = np.array([p[1] for p in pairs])
    d = values[ti] - values[bi]  # (K, M, n): run minus baseline
    rng = as_generator(seed)
    outcome = SIGNIFICANCE_TESTS[test].run(
        TestInput(values, pairs, d, alt, -margin, alpha, permutations, rng)
    )
    # Untestable rows (every difference equal to the null value): no evidence, p = 1.
    p = np.where(np.isnan(outcome.p_value), 1.0, outcome.p_value)
    mc_se = np.zeros(d.shape[:-1]) if outcome.mc_se is None else outcome.mc_se
    detail = np.empty(d.shape[:-1], dtype=object)
    detail[...] = outcome.detail

    mean_d, lo, hi = _interval(d, ci, alpha, permutations, rng)
    dz = effect.cohens_dz(d)
    wins, ties, losses = effect.win_tie_loss(d)
    sd = d.std(axis=-1, ddof=1)
    mde = effect.minimum_detectable_effect(sd, n, alpha=alpha, power=power)

    k_pairs = len(pairs)
    scope = "baseline comparisons" if b_idx is not None else "pairs"
    p_adj, fam, fam_size = _adjust(p, correction, family, list(data.measures), scope)
    means = values.mean(axis=-1)  # (S, M)
    rows = {
        "run": np.repeat([data.runs[i] for i in ti], n_meas),
        "baseline": np.repeat([data.runs[i] for i in bi], n_meas),
        "measure": np.tile(data.measures, k_pairs),
        "n_queries": np.full(p.size, n, dtype=np.int64),
        "mean": means[ti].ravel(),
        "baseline_mean": means[bi].ravel(),
        "delta": mean_d.ravel(),
        "ci_low": np.asarray(lo).ravel(),
        "ci_high": np.asarray(hi).ravel(),
        "ci_method": np.full(p.size, ci, dtype=object),
        "statistic": np.asarray(outcome.statistic, dtype=np.float64).ravel(),
        "p_value": p.ravel(),
        "p_adjusted": p_adj.ravel(),
        "mc_se": np.asarray(mc_se, dtype=np.float64).ravel(),
        "test": np.full(p.size, test, dtype=object),
        "test_detail": detail.ravel(),
        "alternative": np.full(p.size, alternative, dtype=object),
        "margin": np.full(p.size, margin),
        "correction": np.full(p.size, correction, dtype=object),
        "family": fam.ravel(),
        "family_size": fam_size.ravel(),
        "alpha": np.full(p.size, alpha),
        "significant": p_adj.ravel() <= alpha,
        "effect_dz": dz.ravel(),
        "wins": wins.ravel(),
        "ties": ties.ravel(),
        "losses": losses.ravel(),
        "mde": mde.ravel(),
        "query_policy": np.full(p.size, data.policy, dtype=object),
    }
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("run", "baseline", "measure"):
        out[col] = out[col].astype(object)
    return out


def compare_per_query(
    per_query: Any,
    *,
    baseline: str | None = None,
    measures: Sequence[str] | None = None,
    runs: Sequence[str] | None = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    permutations: int = 10_000,
    seed: SeedLike = 0,
    margin: float = 0.0,
    alternative: str | None = None,
    queries: QueryPolicy = "intersection",
    family: Literal["all", "measure"] = "all",
    ci: str = "t",
    power: float = 0.8,
) -> Any:
    """Paired comparison of runs on a per-query table; returns a tidy pandas DataFrame.

    Parameters
    ----------
    per_query:
        pandas DataFrame or pyarrow Table with columns ``run``, ``measure``, ``query_id``,
        ``value`` (``query_id == "all"`` rows are ignored).
    baseline:
        Compare every other run against this one; ``None`` compares every pair ``i < j`` (in
        the order of ``runs``) as ``run = runs[j]`` versus ``baseline = runs[i]``.
    measures, runs:
        Select and order; default all, in order of appearance.
    test:
        ``t`` (paired t-test), ``wilcoxon`` (signed-rank, SciPy rules), ``sign``,
        ``randomization`` (Fisher sign-flip; exact when ``2**n <= permutations``),
        ``bootstrap`` (paired bootstrap, shift method), ``tukey`` (Tukey HSD on the two-way
        system + query model), ``tukey-randomized`` (Carterette 2012).
    correction:
        ``holm`` (default), ``bonferroni``, ``holm-sidak``, ``bh`` or ``none``, applied over
        the family (``family="all"``: every row; ``"measure"``: each measure's rows).
    alpha:
        Significance level for ``significant`` and the intervals (``1 - alpha``).
    permutations:
        Permutations / bootstrap replicates for the resampling tests and intervals.
    seed:
        int or ``numpy.random.Generator``; the same seed gives the same result.
    margin:
        Non-inferiority margin ``m >= 0`` in the measure's units. With ``m > 0`` the test is
        one-sided, H0: ``mean(run - baseline) <= -m`` against H1: ``> -m`` ("the run is no
        worse than the baseline by more than m"); ``significant`` then means non-inferior.
    alternative:
        ``two-sided`` (default without margin), ``greater`` or ``less``.
    queries:
        ``intersection`` (queries every run has) or ``zeros`` (missing scored 0, trec_eval -c).
    ci:
        Interval for ``delta``: ``t`` (Student), ``percentile`` or ``bca`` (bootstrap with
        ``permutations`` replicates). Always two-sided at level ``1 - alpha``.
    power:
        Target power of the minimum-detectable-effect column ``mde`` (two-sided paired t-test
        at ``alpha`` with the observed sd of the differences and ``n_queries``).

    Returns
    -------
    pandas.DataFrame
        One row per (pair, measure) with the columns :data:`COLUMNS`.
    """
    data = align(
        per_query,
        queries=queries,
        runs=list(runs) if runs is not None else None,
        measures=list(measures) if measures is not None else None,
    )
    return compare_aligned(
        data,
        baseline=baseline,
        test=test,
        correction=correction,
        alpha=alpha,
        permutations=permutations,
        seed=seed,
        margin=margin,
        alternative=alternative,
        family=family,
        ci=ci,
        power=power,
    )


def evaluate_per_query(
    qrels: Any,
    runs: Any,
    measures: Sequence[str],
    *,
    names: Sequence[str | None] | None = None,
    complete: bool = False,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    ignore_identical_ids: bool = False,
    engine: Any = None,
    compat: str = "9",
) -> Any:
    """Per-query pandas table of ``runs`` via :class:`irbench.engine.Evaluator`, uniquely named.

    ``runs``: a list or a dict of runs by name. Names: ``names`` if given, else
    :func:`irbench.engine.naming.name_runs`'s rule (as ``irbench eval``). Measures are reported in canonical form (``nDCG@10``). ``engine``
    scores the runs (``"local"`` default, ``"dask"`` or an engine object).
    """
    from irbench.engine.api import evaluate

    return evaluate(
        qrels,
        runs,
        list(measures),
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
        per_query=True,
        output="pandas",
        engine=engine,
        compat=compat,
        names=names,
    )


def compare(
    qrels: Any,
    runs: Any,
    measures: Sequence[str],
    *,
    baseline: str | None = None,
    names: Sequence[str | None] | None = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    permutations: int = 10_000,
    seed: SeedLike = 0,
    margin: float = 0.0,
    alternative: str | None = None,
    complete: bool = False,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    ignore_identical_ids: bool = False,
    family: Literal["all", "measure"] = "all",
    ci: str = "t",
    power: float = 0.8,
    engine: Any = None,
    compat: str = "9",
) -> Any:
    """Evaluate ``runs`` against ``qrels`` and compare them; returns a pandas DataFrame.

    The engine (:class:`irbench.engine.Evaluator`) computes the per-query values; with
    ``complete=False`` the tests use the queries every run retrieved for (intersection), with
    ``complete=True`` (trec_eval ``-c``) every qrels query, missing ones scored 0. ``runs`` is
    a list or a dict of runs by name; runs are named ``names``, else by
    :func:`irbench.engine.naming.name_runs` (a file by its stem); ``baseline`` is one of those
    names. ``engine`` scores the runs (``"local"`` default, ``"dask"`` or an
    engine object; the numbers are identical). ``ignore_identical_ids`` drops documents whose id equals the query id (BEIR's protocol).
    Other parameters: :func:`compare_per_query`.

    Examples
    --------
    >>> import irbench.stats as st
    >>> df = st.compare("qrels.txt", ["bm25.run", "splade.run"], ["nDCG@10", "AP"],
    ...                 baseline="bm25", test="randomization", seed=42)  # doctest: +SKIP
    """
    table = evaluate_per_query(
        qrels,
        runs,
        measures,
        names=names,
        complete=complete,
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        ignore_identical_ids=ignore_identical_ids,
        engine=engine,
        compat=compat,
    )
    return compare_per_query(
        table,
        baseline=baseline,
        test=test,
        correction=correction,
        alpha=alpha,
        permutations=permutations,
        seed=seed,
        margin=margin,
        alternative=alternative,
        queries="zeros" if complete else "intersection",
        family=family,
        ci=ci,
        power=power,
    )

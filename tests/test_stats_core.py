"""Unit tests of irbench.stats on synthetic data: exactness, reproducibility, edge cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from irbench import stats as st
from irbench.errors import IrbenchError, StatsError
from irbench.stats._common import exact_integer_scale
from irbench.stats.randomization import random_signs


@pytest.fixture(scope="module")
def small() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.round(rng.normal(0.02, 0.2, size=(6, 11)), 3)


def test_exact_enumeration_equals_scipy_permutation_test(small: np.ndarray) -> None:
    res = st.randomization_test(small, exact=True)
    assert res.exact and res.permutations == 2**11
    for k in range(small.shape[0]):
        ref = stats.permutation_test(
            (small[k],), np.mean, permutation_type="samples", n_resamples=np.inf
        )
        assert res.p_value[k] == pytest.approx(ref.pvalue, abs=1e-12)
    for alt in ("greater", "less"):
        one = st.randomization_test(small, exact=True, alternative=alt)
        for k in range(small.shape[0]):
            ref = stats.permutation_test(
                (small[k],),
                np.mean,
                permutation_type="samples",
                n_resamples=np.inf,
                alternative=alt,
            )
            assert one.p_value[k] == pytest.approx(ref.pvalue, abs=1e-12)


def test_monte_carlo_within_three_se_of_exact(small: np.ndarray) -> None:
    exact = st.randomization_test(small, exact=True).p_value
    mc = st.randomization_test(small, exact=False, permutations=20_000, seed=123)
    assert not mc.exact
    assert (np.abs(mc.p_value - exact) <= 3 * mc.mc_se + 1 / 20_001).all()


def test_auto_exact_rule(small: np.ndarray) -> None:
    assert st.randomization_test(small, permutations=2**11).exact
    assert not st.randomization_test(small, permutations=2**11 - 1).exact
    with pytest.raises(StatsError):
        st.randomization_test(np.zeros((1, 30)) + 0.1, exact=True)


def test_same_seed_same_answer_any_chunking() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(0, 0.3, size=(4, 3, 300))
    a = st.randomization_test(d, permutations=3000, seed=7)
    b = st.randomization_test(d, permutations=3000, seed=7, chunk_bytes=1)
    c = st.randomization_test(d, permutations=3000, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.p_value, b.p_value)
    np.testing.assert_array_equal(a.p_value, c.p_value)
    assert a.p_value.shape == (4, 3)
    other = st.randomization_test(d, permutations=3000, seed=8)
    assert not np.array_equal(a.count, other.count)
    v = rng.normal(0.4, 0.2, size=(3, 2, 300))
    whole = st.randomization_test_pairs(v, [(1, 0), (2, 1)], permutations=3000, seed=7)
    chunked = st.randomization_test_pairs(
        v, [(1, 0), (2, 1)], permutations=3000, seed=7, chunk_bytes=1
    )
    np.testing.assert_array_equal(whole.count, chunked.count)
    with pytest.raises(StatsError, match="pair indices"):
        st.randomization_test_pairs(v, [(3, 0)])
    ba = st.bootstrap_test(d, replicates=640, seed=3)
    bb = st.bootstrap_test(d, replicates=640, seed=3, chunk_bytes=1)
    np.testing.assert_array_equal(ba.p_value, bb.p_value)
    np.testing.assert_array_equal(ba.ci_bca_low, bb.ci_bca_low)


def test_random_signs_stream_is_chunk_invariant() -> None:
    a = random_signs(np.random.default_rng(1), 30, 100)
    g = np.random.default_rng(1)
    b = np.vstack([random_signs(g, 10, 100), random_signs(g, 20, 100)])
    np.testing.assert_array_equal(a, b)
    assert 0.45 < a.mean() < 0.55


def test_integer_grid_makes_sums_order_independent() -> None:
    """Why results cannot depend on BLAS threads: every partial sum is an exact integer."""
    rng = np.random.default_rng(2)
    d = rng.normal(0, 0.3, size=(3, 5000))
    q = exact_integer_scale(d)
    assert (q == np.rint(q)).all()
    assert (np.abs(q).sum(axis=1) <= 2.0**52).all()
    perm = rng.permutation(5000)
    signs = rng.choice([-1.0, 1.0], size=5000)
    s1 = (q * signs).sum(axis=1)
    s2 = np.array([sum(float(v) for v in row) for row in (q * signs)[:, perm]])
    np.testing.assert_array_equal(s1, s2)
    bits = rng.integers(0, 2, size=(64, 5000)).astype(np.float64)
    np.testing.assert_array_equal(bits @ q.T, np.einsum("bn,pn->bp", bits, q))


def test_bootstrap_intervals() -> None:
    rng = np.random.default_rng(4)
    d = rng.normal(0.05, 0.2, size=(2, 200))
    r = st.bootstrap_test(d, replicates=4000, seed=0, alpha=0.05)
    mean = d.mean(axis=1)
    assert (r.ci_percentile_low < mean).all() and (mean < r.ci_percentile_high).all()
    assert (r.ci_bca_low < mean).all() and (mean < r.ci_bca_high).all()
    _, lo, hi = st.t_interval(d, 0.05)
    np.testing.assert_allclose(r.ci_percentile_low, lo, atol=0.01)
    np.testing.assert_allclose(r.ci_bca_high, hi, atol=0.01)
    assert (r.p_value < 0.05).all()


def test_t_power_equals_scipy_stats_nct() -> None:
    for n, dz in [(43, 0.3), (93, 0.05), (6980, 0.04), (5, 2.0)]:
        tc = stats.t.ppf(0.975, n - 1)
        nc = dz * np.sqrt(n)
        ref = stats.nct.sf(tc, n - 1, nc) + stats.nct.cdf(-tc, n - 1, nc)
        assert st.t_power(dz, n) == pytest.approx(ref, rel=1e-12, abs=1e-15)


def test_t_test_compare_imports_neither_scipy_stats_nor_optimize() -> None:
    """scipy.stats costs tens of seconds to import on a loaded machine; the default path
    (t-test, t interval, MDE) needs only scipy.special."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from irbench.stats import compare_aligned, Aligned\n"
        "v = np.random.default_rng(0).random((3, 2, 30))\n"
        "q = [str(i) for i in range(30)]\n"
        "df = compare_aligned(Aligned(v, ['a', 'b', 'c'], ['m', 'n'], q, 'intersection', 0, 0))\n"
        "assert df['mde'].notna().all()\n"
        "print(sorted(m for m in ('scipy.stats', 'scipy.optimize') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_effects_against_statsmodels() -> None:
    power = pytest.importorskip("statsmodels.stats.power")
    ref = power.TTestPower().solve_power(nobs=43, alpha=0.05, power=0.8)
    assert st.minimum_detectable_effect(1.0, 43) == pytest.approx(ref, rel=1e-6)
    assert st.t_power(0.3, 43) == pytest.approx(power.TTestPower().power(0.3, 43, 0.05))
    d = np.array([[0.1, 0.0, -0.2, 0.3]])
    w, t, loss = st.win_tie_loss(d)
    assert (w[0], t[0], loss[0]) == (2, 1, 1)
    assert st.cohens_dz(d)[0] == pytest.approx(d.mean() / d.std(ddof=1))


def test_nan_refused_with_clear_error() -> None:
    d = np.array([[0.1, np.nan, 0.2]])
    for fn in (st.t_test, st.wilcoxon_test, st.sign_test, st.randomization_test):
        with pytest.raises(StatsError, match="NaN"):
            fn(d)
    with pytest.raises(StatsError, match="NaN"):
        st.adjust_pvalues([0.1, np.nan])


def test_all_differences_zero() -> None:
    d = np.zeros((2, 10))
    assert np.isnan(st.t_test(d).p_value).all()
    assert np.isnan(st.wilcoxon_test(d).p_value).all()
    assert np.isnan(st.sign_test(d).p_value).all()
    assert (st.randomization_test(d).p_value == 1.0).all()
    table = _table(np.zeros((2, 1, 10)))
    df = st.compare_per_query(table, test="t")
    assert (df["p_value"] == 1.0).all() and not df["significant"].any()


def _table(values: np.ndarray, qids: list[str] | None = None) -> pd.DataFrame:
    s, m, n = values.shape
    qids = qids or [str(q) for q in range(n)]
    return pd.DataFrame(
        [
            (f"r{i}", f"m{j}", qids[q], values[i, j, q])
            for i in range(s)
            for j in range(m)
            for q in range(n)
        ],
        columns=["run", "measure", "query_id", "value"],
    )


def test_n_equals_one() -> None:
    assert np.isnan(st.t_test(np.array([[0.3]])).p_value).all()
    with pytest.raises(StatsError, match="at least 2"):
        st.compare_per_query(_table(np.ones((2, 1, 1))))


def test_query_policies() -> None:
    rng = np.random.default_rng(9)
    table = _table(rng.random((3, 2, 20)))
    table = table[~((table["run"] == "r1") & (table["query_id"] == "3"))]
    table = pd.concat([table, pd.DataFrame([("r0", "m0", "all", 0.5)], columns=table.columns)])
    inter = st.compare_per_query(table, baseline="r0")
    assert (inter["n_queries"] == 19).all()
    zeros = st.compare_per_query(table, baseline="r0", queries="zeros")
    assert (zeros["n_queries"] == 20).all()
    a = st.align(table, queries="zeros")
    assert a.values[1, 0, a.query_ids.index("3")] == 0.0 and a.filled == 2
    dup = pd.concat([table, table.iloc[:1]])
    with pytest.raises(StatsError, match="duplicate"):
        st.align(dup)


def test_compare_table_shape_and_corrections() -> None:
    rng = np.random.default_rng(11)
    values = rng.random((4, 3, 30)) + np.linspace(0, 0.3, 4)[:, None, None]
    table = _table(values)
    df = st.compare_per_query(table, test="t", correction="bonferroni")
    assert len(df) == 6 * 3 and list(df.columns) == list(st.COLUMNS)
    np.testing.assert_allclose(df["p_adjusted"], np.minimum(1, df["p_value"] * 18))
    assert df["family"].iloc[0] == "all 18 tests (6 pairs x 3 measures)"
    per = st.compare_per_query(table, test="t", correction="holm", family="measure")
    for _, g in per.groupby("measure"):
        np.testing.assert_allclose(g["p_adjusted"], st.adjust_pvalues(g["p_value"], "holm"))
    for test in st.TESTS:
        out = st.compare_per_query(table, baseline="r0", test=test, permutations=500, seed=1)
        assert len(out) == 9 and out["p_value"].between(0, 1).all()
    tk = st.compare_per_query(table, test="tukey", correction="none")
    ref = st.tukey_hsd(np.moveaxis(values, 1, 0))
    got = tk[(tk["run"] == "r1") & (tk["baseline"] == "r0")]["p_value"].to_numpy()
    np.testing.assert_allclose(got, ref.p_value[:, ref.pairs.index((0, 1))])


def test_non_inferiority() -> None:
    rng = np.random.default_rng(12)
    base = rng.random(200)
    new = base - 0.005 + rng.normal(0, 0.02, 200)  # slightly worse, within a 0.02 margin
    table = _table(np.stack([base, new])[:, None, :])
    gate = st.compare_per_query(table, baseline="r0", margin=0.02, test="t")
    row = gate.iloc[0]
    assert row["alternative"] == "greater" and row["significant"]
    ref = stats.ttest_rel(new + 0.02, base, alternative="greater").pvalue
    assert row["p_value"] == pytest.approx(ref, abs=1e-12)
    strict = st.compare_per_query(table, baseline="r0", margin=0.001, test="randomization")
    assert not strict.iloc[0]["significant"]
    with pytest.raises(StatsError):
        st.compare_per_query(table, baseline="r0", margin=0.02, alternative="two-sided")


def test_randomized_tukey() -> None:
    rng = np.random.default_rng(13)
    x = rng.random((4, 25)) + np.array([0, 0, 0.05, 0.4])[:, None]
    a = st.randomized_tukey_hsd(x, permutations=2000, seed=2)
    b = st.randomized_tukey_hsd(x, permutations=2000, seed=2, chunk_bytes=1)
    np.testing.assert_array_equal(a.p_value, b.p_value)
    classic = st.tukey_hsd(x)
    assert np.corrcoef(a.p_value, classic.p_value)[0, 1] > 0.9
    assert a.p_value[a.pairs.index((0, 3))] < 0.01


def test_errors_are_irbench_errors() -> None:
    with pytest.raises(IrbenchError):
        st.adjust_pvalues([0.1], "nope")
    with pytest.raises(ValueError):
        st.compare_per_query(_table(np.ones((2, 1, 5))), test="nope")

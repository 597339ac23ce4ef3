"""irbench.stats against SciPy / statsmodels on real per-query values (TREC DL 2019/2020).

Per-query values come from pytrec_eval (independent of irbench's engine) for the six
rank_llm first-stage systems.
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from irbench import stats as st

SYSTEMS = [
    "BM25",
    "BM25_RM3",
    "D_BERT_KD_TASB",
    "OPEN_AI_ADA2",
    "REP_LLAMA",
    "SPLADE_P_P_ENSEMBLE_DISTIL",
]
MEASURES = {"ndcg_cut_10": "nDCG@10", "map": "AP", "recip_rank": "RR"}


def _read_run(path: Path) -> dict[str, dict[str, float]]:
    opener = gzip.open if path.suffix == ".gz" else open
    run: dict[str, dict[str, float]] = {}
    with opener(path, "rt") as fh:
        for line in fh:
            q, _, doc, _, score, *_ = line.split()
            run.setdefault(q, {})[doc] = float(score)
    return run


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path) as fh:
        for line in fh:
            q, _, doc, rel = line.split()[:4]
            qrels.setdefault(q, {})[doc] = int(rel)
    return qrels


def _per_query(shared: Path, year: str) -> pd.DataFrame:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels = _read_qrels(shared / "trec-dl" / f"qrels.{year}-passage.txt")
    ev = pytrec_eval.RelevanceEvaluator(qrels, set(MEASURES))
    rows = []
    for sysname in SYSTEMS:
        base = shared / "runs-rank_llm" / sysname / f"trec_results_{year}.txt"
        path = base if base.exists() else base.with_name(base.name + ".gz")
        res = ev.evaluate(_read_run(path))
        for q, vals in res.items():
            for key, name in MEASURES.items():
                rows.append((sysname, name, q, vals[key]))
    return pd.DataFrame(rows, columns=["run", "measure", "query_id", "value"])


@pytest.fixture(scope="module", params=["dl19", "dl20"])
def aligned(request: pytest.FixtureRequest, shared_data: Path) -> st.Aligned:
    return st.align(_per_query(shared_data, request.param))


def _pairs(a: st.Aligned):
    for i, j in itertools.combinations(range(len(a.runs)), 2):
        for m in range(len(a.measures)):
            yield a.values[j, m], a.values[i, m]


def _batch(a: st.Aligned) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    pairs = list(_pairs(a))
    return np.stack([x - y for x, y in pairs]), pairs


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_t_wilcoxon_sign_equal_scipy(aligned: st.Aligned, alternative: str) -> None:
    d, pairs = _batch(aligned)
    assert len(pairs) == 15 * 3
    t = st.t_test(d, alternative=alternative).p_value
    w = st.wilcoxon_test(d, alternative=alternative).p_value
    s = st.sign_test(d, alternative=alternative).p_value
    for k, (x, y) in enumerate(pairs):
        assert abs(t[k] - stats.ttest_rel(x, y, alternative=alternative).pvalue) <= 1e-12
        assert abs(w[k] - stats.wilcoxon(x, y, alternative=alternative).pvalue) <= 1e-12
        diff = x - y
        ref = stats.binomtest(int((diff > 0).sum()), int((diff != 0).sum()), 0.5, alternative)
        assert abs(s[k] - ref.pvalue) <= 1e-12


def test_margin_shifts_null(aligned: st.Aligned) -> None:
    d, pairs = _batch(aligned)
    margin = 0.02
    t = st.t_test(d, alternative="greater", delta0=-margin).p_value
    for k, (x, y) in enumerate(pairs):
        ref = stats.ttest_rel(x + margin, y, alternative="greater").pvalue
        assert abs(t[k] - ref) <= 1e-12


def test_tukey_and_anova_equal_scipy_statsmodels(aligned: st.Aligned) -> None:
    for m in range(len(aligned.measures)):
        x = aligned.values[:, m, :]
        res = st.tukey_hsd(x, blocked=False)
        ref = stats.tukey_hsd(*x)
        for k, (i, j) in enumerate(res.pairs):
            assert abs(res.p_value[k] - ref.pvalue[i, j]) <= 1e-12
            assert abs(res.statistic[k] - ref.statistic[i, j]) <= 1e-12
        one = st.anova(x, blocked=False)
        assert abs(one.p_value - stats.f_oneway(*x).pvalue) <= 1e-12


def test_blocked_anova_equals_statsmodels(aligned: st.Aligned) -> None:
    smf = pytest.importorskip("statsmodels.formula.api")
    sm = pytest.importorskip("statsmodels.api")
    x = aligned.values[:, 0, :]
    s, n = x.shape
    df = pd.DataFrame(
        {
            "system": np.repeat([f"s{i}" for i in range(s)], n),
            "query": np.tile([f"q{j}" for j in range(n)], s),
            "value": x.ravel(),
        }
    )
    table = sm.stats.anova_lm(smf.ols("value ~ C(system) + C(query)", df).fit())
    res = st.anova(x, blocked=True)
    assert res.statistic == pytest.approx(table.loc["C(system)", "F"], rel=1e-9)
    assert res.p_value == pytest.approx(table.loc["C(system)", "PR(>F)"], rel=1e-9, abs=1e-300)
    assert res.df_residual == table.loc["Residual", "df"]


@pytest.mark.parametrize(
    "method,sm_name",
    [
        ("bonferroni", "bonferroni"),
        ("holm", "holm"),
        ("holm-sidak", "holm-sidak"),
        ("bh", "fdr_bh"),
    ],
)
def test_corrections_equal_statsmodels(aligned: st.Aligned, method: str, sm_name: str) -> None:
    multitest = pytest.importorskip("statsmodels.stats.multitest")
    d, _ = _batch(aligned)
    p = st.wilcoxon_test(d).p_value
    ours = st.adjust_pvalues(p, method)
    reject, ref, _, _ = multitest.multipletests(p, alpha=0.05, method=sm_name)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ours <= 0.05, reject)


def test_randomization_close_to_t_on_real_data(aligned: st.Aligned) -> None:
    d, _ = _batch(aligned)
    r = st.randomization_test(d, permutations=4000, seed=1)
    t = st.t_test(d).p_value
    # same null, different tests: agree loosely (sanity, not identity)
    assert np.corrcoef(r.p_value, t)[0, 1] > 0.9


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_randomization_pairs_equals_differences(aligned: st.Aligned, alternative: str) -> None:
    """One product with system columns gives the counts of testing each difference."""
    d, _ = _batch(aligned)
    n_runs = len(aligned.runs)
    pairs = list(itertools.combinations(range(n_runs), 2))
    by_pair = st.randomization_test_pairs(
        aligned.values,
        [(j, i) for i, j in pairs],
        permutations=3000,
        seed=4,
        alternative=alternative,
    )
    direct = st.randomization_test(d, permutations=3000, seed=4, alternative=alternative)
    np.testing.assert_array_equal(by_pair.count.ravel(), direct.count)
    np.testing.assert_array_equal(by_pair.p_value.ravel(), direct.p_value)
    np.testing.assert_allclose(by_pair.statistic.ravel(), direct.statistic, rtol=0, atol=1e-15)
    # exact enumeration on the first 12 queries, through both paths
    few = aligned.values[:, :, :12]
    ex_pairs = st.randomization_test_pairs(few, [(1, 0), (2, 0)], exact=True)
    ex_direct = st.randomization_test(few[[1, 2]] - few[0], exact=True)
    assert ex_pairs.exact and ex_pairs.permutations == 2**12
    np.testing.assert_array_equal(ex_pairs.count, ex_direct.count)


def test_compare_per_query_real(aligned: st.Aligned) -> None:
    table = pd.DataFrame(
        [
            (aligned.runs[s], aligned.measures[m], aligned.query_ids[q], aligned.values[s, m, q])
            for s in range(len(aligned.runs))
            for m in range(len(aligned.measures))
            for q in range(len(aligned.query_ids))
        ],
        columns=["run", "measure", "query_id", "value"],
    )
    df = st.compare_per_query(table, baseline="BM25", test="wilcoxon", correction="holm")
    assert len(df) == 5 * 3
    assert (df["baseline"] == "BM25").all()
    assert (df["n_queries"] == len(aligned.query_ids)).all()
    row = df[(df["run"] == "SPLADE_P_P_ENSEMBLE_DISTIL") & (df["measure"] == "nDCG@10")].iloc[0]
    x = aligned.values[aligned.runs.index("SPLADE_P_P_ENSEMBLE_DISTIL"), 0]
    y = aligned.values[0, 0]
    assert abs(row["p_value"] - stats.wilcoxon(x, y).pvalue) <= 1e-12
    assert row["delta"] == pytest.approx(x.mean() - y.mean(), abs=1e-15)
    assert row["ci_low"] < row["delta"] < row["ci_high"]
    assert set(df["family"]) == {"all 15 tests (5 baseline comparisons x 3 measures)"}

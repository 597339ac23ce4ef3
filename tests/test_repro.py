"""Reproducibility measures against repro_eval's definitions, values worked out by hand on
constructed runs (see irbench.report.repro for the formulas)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from scipy.stats import kendalltau
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.errors import ComparabilityError, InputFormatError
from irbench.io import read_run
from irbench.report.repro import (
    delta_ri,
    effect_ratio,
    ktu,
    qrels_agreement,
    rbo,
    reproduce,
    rmse,
    tau_ap,
)

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"


def run(rows: list[tuple[str, str, float]]) -> pa.Table:
    return pa.table(
        {
            "query_id": [r[0] for r in rows],
            "doc_id": [r[1] for r in rows],
            "score": [float(r[2]) for r in rows],
        }
    )


def ranked(query: str, docs: list[str]) -> list[tuple[str, str, float]]:
    return [(query, d, float(len(docs) - i)) for i, d in enumerate(docs)]


def test_ktu_by_hand() -> None:
    original = run(ranked("q1", ["d1", "d2", "d3"]) + ranked("q2", ["a", "b", "c"])
                   + ranked("q3", ["a", "b", "c"]))  # fmt: skip
    reproduced = run(ranked("q1", ["d2", "d1", "d4"]) + ranked("q2", ["a", "b", "c"])
                     + ranked("q3", ["c", "b", "a"]))  # fmt: skip
    # q1: union d1<d2<d3<d4; positions (0,1,2) vs (1,0,3): pairs -, +, + -> (2-1)/3
    values = ktu(original, reproduced, 3)
    assert values == pytest.approx({"q1": 1 / 3, "q2": 1.0, "q3": -1.0})
    assert values["q1"] == pytest.approx(kendalltau([0, 1, 2], [1, 0, 3]).statistic)
    # cutoff 2: q1 compares (d1, d2) with (d2, d1) -> -1
    assert ktu(original, reproduced, 2)["q1"] == pytest.approx(-1.0)
    # a single document: tau undefined
    assert math.isnan(ktu(original, reproduced, 1)["q1"])


def test_ktu_breaks_ties_as_trec_eval() -> None:
    # equal scores: trec_eval (and repro_eval's break_ties) order by doc id descending: d2, d1
    original = run([("q", "d1", 1.0), ("q", "d2", 1.0), ("q", "d3", 0.5)])
    reproduced = run(ranked("q", ["d2", "d1", "d3"]))
    assert ktu(original, reproduced, 3)["q"] == pytest.approx(1.0)


def test_rbo_by_hand() -> None:
    original = run(ranked("q1", ["d1", "d2", "d3"]) + ranked("q2", ["a"]))
    reproduced = run(ranked("q1", ["d2", "d1", "d4"]) + ranked("q2", ["a"]))
    values = rbo(original, reproduced, p=0.5, depth=3)
    # q1: overlaps 0/1, 2/2, 2/3 weighted 1, 0.5, 0.25, over 1.75
    assert values["q1"] == pytest.approx((0 + 0.5 * 1 + 0.25 * 2 / 3) / 1.75)
    # q2: lists of one: 1/1, 1/2, 1/3 (the lists stop, the depth does not)
    assert values["q2"] == pytest.approx((1 + 0.5 / 2 + 0.25 / 3) / 1.75)
    assert rbo(original, original, p=0.9, depth=3)["q1"] == pytest.approx(1.0)
    with pytest.raises(InputFormatError, match="p must be between 0 and 1"):
        rbo(original, reproduced, p=1.0)


def test_queries_of_the_reproduction_must_be_in_the_original() -> None:
    with pytest.raises(ComparabilityError, match="1 queries of the reproduced run"):
        ktu(run(ranked("q1", ["a", "b"])), run(ranked("q9", ["a", "b"])), 2)


def test_rmse_er_delta_ri_by_hand() -> None:
    assert rmse({"1": 0.5, "2": 1.0}, {"1": 0.25, "2": 0.0}) == pytest.approx(
        math.sqrt((0.25**2 + 1.0) / 2)
    )
    oa, ob = {"1": 0.8, "2": 0.6}, {"1": 0.4, "2": 0.4}
    ra, rb = {"1": 0.7, "2": 0.5}, {"1": 0.5, "2": 0.4}
    # mean improvements: original (0.4 + 0.2) / 2 = 0.3, reproduced (0.2 + 0.1) / 2 = 0.15
    assert effect_ratio(oa, ob, ra, rb) == pytest.approx(0.5)
    # RI original (0.7 - 0.4) / 0.4 = 0.75; reproduced (0.6 - 0.45) / 0.45 = 1/3
    assert delta_ri(oa, ob, ra, rb) == pytest.approx(0.75 - 1 / 3)
    assert math.isinf(effect_ratio(oa, oa, ra, rb))  # no original improvement
    with pytest.raises(ComparabilityError, match="different queries"):
        rmse({"1": 0.5}, {"2": 0.5})


def _fixture(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "qrels").write_text("q1 0 d1 1\nq2 0 d1 1\n")
    runs = {
        "orig_adv": ranked("q1", ["d1", "d2"]) + ranked("q2", ["d1", "d2"]),  # P@1 1, 1
        "rep_adv": ranked("q1", ["d1", "d2"]) + ranked("q2", ["d2", "d1"]),  # 1, 0
        "orig_base": ranked("q1", ["d1", "d2"]) + ranked("q2", ["d2", "d1"]),  # 1, 0
        "rep_base": ranked("q1", ["d1", "d2"]) + ranked("q2", ["d2", "d1"]),  # 1, 0
    }
    out = {"qrels": tmp_path / "qrels"}
    for name, rows in runs.items():
        path = tmp_path / f"{name}.run"
        path.write_text("".join(f"{q} Q0 {d} 0 {s} {name}\n" for q, d, s in rows))
        out[name] = path
    return out


def test_reproduce_by_hand(tmp_path: Path) -> None:
    f = _fixture(tmp_path)
    res = reproduce(f["qrels"], f["orig_adv"], f["rep_adv"], baseline_original=f["orig_base"],
                    baseline_reproduced=f["rep_base"], measures=["P@1"], cutoffs=[2],
                    rbo_p=0.5)  # fmt: skip
    s = res.summary.set_index(["statistic", "run", "measure"])["value"]
    assert s[("KTU", "advanced", "KTU@2")] == pytest.approx(0.0)  # q1 1, q2 -1
    assert s[("RBO", "advanced", "RBO@2(p=0.5)")] == pytest.approx((1.0 + 1 / 3) / 2)
    assert s[("KTU", "baseline", "KTU@2")] == pytest.approx(1.0)
    assert s[("RMSE", "advanced", "P@1")] == pytest.approx(math.sqrt(0.5))
    assert s[("RMSE", "baseline", "P@1")] == pytest.approx(0.0)
    # improvements: original (0 + 1) / 2 = 0.5, reproduced 0 -> ER 0; RI 1 and 0
    assert s[("ER", "", "P@1")] == pytest.approx(0.0)
    assert s[("DeltaRI", "", "P@1")] == pytest.approx(1.0)
    means = res.summary[res.summary.statistic == "mean"].set_index("run")
    assert means.loc["advanced", "original"] == 1.0 and means.loc["advanced", "reproduced"] == 0.5
    pq = res.per_query.set_index(["run", "measure", "query_id"])["value"]
    assert pq[("advanced", "KTU@2", "q2")] == -1.0 and pq[("advanced", "delta P@1", "q2")] == 1.0
    with pytest.raises(InputFormatError, match="both baseline runs"):
        reproduce(f["qrels"], f["orig_adv"], f["rep_adv"], baseline_original=f["orig_base"])


def test_tau_ap_by_hand() -> None:
    ref = [4.0, 3.0, 2.0, 1.0]  # A > B > C > D
    # B, A, C, D: C(2) = 0, C(3) = 2, C(4) = 3 -> 2/3 * (0 + 1 + 1) - 1
    assert tau_ap(ref, [3.0, 4.0, 2.0, 1.0]) == pytest.approx(1 / 3)
    # A, B, D, C: 1 + 1 + 2/3 -> a swap at the bottom costs less than at the top
    assert tau_ap(ref, [4.0, 3.0, 1.0, 2.0]) == pytest.approx(2 / 3 * (2 + 2 / 3) - 1)
    assert tau_ap(ref, ref) == 1.0 and tau_ap(ref, ref[::-1]) == -1.0
    # Kendall's tau gives both swaps the same 2/3
    assert kendalltau(ref, [3.0, 4.0, 2.0, 1.0]).statistic == pytest.approx(2 / 3)


def test_qrels_agreement_by_hand(tmp_path: Path) -> None:
    (tmp_path / "a.qrels").write_text("q1 0 d1 1\n")
    (tmp_path / "b.qrels").write_text("q1 0 d2 1\n")
    paths = []
    for name, docs in (("r1", ["d1", "d2", "d3"]), ("r2", ["d2", "d3", "d1"]),
                       ("r3", ["d3", "d1", "d2"])):  # fmt: skip
        path = tmp_path / f"{name}.run"
        path.write_text("".join(f"q1 Q0 {d} 0 {s} {name}\n" for _, d, s in ranked("q1", docs)))
        paths.append(path)
    # AP under A: 1, 1/3, 1/2 (r1 > r3 > r2); under B: 1/2, 1, 1/3 (r2 > r1 > r3)
    ag = qrels_agreement(tmp_path / "a.qrels", tmp_path / "b.qrels", paths, "AP")
    assert ag.systems["run"].tolist() == ["r1", "r3", "r2"]
    assert ag.systems["rank_b"].tolist() == [2, 3, 1]
    assert ag.kendall_tau == pytest.approx(-1 / 3)
    assert ag.tau_ap_b_vs_a == pytest.approx(-0.5)  # C(2) = 0, C(3) = 1 of 2
    assert ag.tau_ap_a_vs_b == pytest.approx(0.0)  # C(2) = 1, C(3) = 0
    assert ag.tau_ap_symmetric == pytest.approx(-0.25)

    result = CliRunner().invoke(app, ["repro", "qrels", str(tmp_path / "a.qrels"),
                                      str(tmp_path / "b.qrels"), *map(str, paths), "-m", "AP",
                                      "-f", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tau_ap_b_vs_a"] == pytest.approx(-0.5) and len(data["ranking"]) == 3


def test_cli_repro_runs_on_demo_data(tmp_path: Path) -> None:
    runs = DEMO / "runs"
    out = tmp_path / "repro.csv"
    result = CliRunner().invoke(app, ["repro", "runs", str(DEMO / "qrels.txt.gz"),
                                      str(runs / "tas-b.run.gz"), str(runs / "repllama.run.gz"),
                                      "--baseline-original", str(runs / "bm25.run.gz"),
                                      "--baseline-reproduced", str(runs / "bm25-rm3.run.gz"),
                                      "-k", "10", "-f", "csv", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    import pandas as pd

    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns) == ["statistic", "run", "measure", "original", "reproduced",
                                "value", "n_queries"]  # fmt: skip
    er = df[(df.statistic == "ER")]["value"].astype(float).iloc[0]
    # nDCG@10: (0.7384 - 0.5216) / (0.7210 - 0.5058), the same queries in all four runs
    assert er == pytest.approx((0.738440 - 0.521581) / (0.721033 - 0.505831), abs=1e-4)
    result = CliRunner().invoke(app, ["repro", "runs", str(DEMO / "qrels.txt.gz"),
                                      str(runs / "tas-b.run.gz"), str(runs / "repllama.run.gz"),
                                      "--baseline-original", str(runs / "bm25.run.gz")])  # fmt: skip
    assert result.exit_code == 2 and "both baseline runs" in result.output


def _top_lists(path: Path, k: int) -> dict[str, list[str]]:
    """Each query's top k in trec_eval order (score descending, doc id descending)."""
    t = read_run(path).to_pydict()
    by_query: dict[str, list[tuple[float, str]]] = {}
    for q, d, s in zip(t["query_id"], t["doc_id"], t["score"], strict=True):
        by_query.setdefault(q, []).append((s, d))
    return {
        q: [d for _, d in sorted(rows, key=lambda sd: (sd[0], sd[1]), reverse=True)][:k]
        for q, rows in by_query.items()
    }


@pytest.mark.parametrize("k", [10, 1000])
def test_ktu_and_rbo_equal_the_definitions_on_real_runs(k: int) -> None:
    """The vectorised KTU and RBO against repro_eval's per-query loops, written out here."""
    a, b = DEMO / "runs" / "tas-b.run.gz", DEMO / "runs" / "repllama.run.gz"
    orig, rep = _top_lists(a, k), _top_lists(b, k)
    fast_ktu, fast_rbo = ktu(a, b, k), rbo(a, b, 0.95, k)
    assert set(fast_ktu) == set(rep) == set(fast_rbo)
    for q in rep:
        n = min(len(orig[q]), len(rep[q]))  # repro_eval raises when the lengths differ
        union = sorted(set(orig[q][:n] + rep[q][:n]))
        expected = kendalltau([union.index(d) for d in orig[q][:n]],
                              [union.index(d) for d in rep[q][:n]]).statistic  # fmt: skip
        assert fast_ktu[q] == pytest.approx(expected, abs=1e-12)
        # repro_eval.measure.document_order._rbo(run=rep, ideal=orig, p, depth)
        seen_r: set[str] = set()
        seen_o: set[str] = set()
        score = norm = 0.0
        weight = 1.0
        for i in range(k):
            if i < len(rep[q]):
                seen_r.add(rep[q][i])
            if i < len(orig[q]):
                seen_o.add(orig[q][i])
            score += weight * len(seen_o & seen_r) / (i + 1)
            norm += weight
            weight *= 0.95
        assert fast_rbo[q] == pytest.approx(score / norm, abs=1e-12)

"""Unjudged documents: judged_only per measure (against global -J), Judged@k companions,
low/high bounds (against explicitly augmented qrels) and RBP's residual (closed form)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irbench.engine import BoundQrels, Evaluator
from irbench.engine.ranking import condense, rank_run
from irbench.engine.unjudged import (
    augmented_qrels,
    bounds_table,
    judged_companion,
    score_bounds,
    upper_depth,
    upper_grade,
    with_judged,
)
from irbench.errors import MeasureError
from irbench.io import read_qrels, read_run
from irbench.io.schema import QRELS_SCHEMA, RUN_SCHEMA
from irbench.measures import parse_measure, parse_measures
from irbench.measures.catalog import CATALOG, JUDGED_ONLY_FAMILIES

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"
DEMO_RUNS = sorted((DEMO / "runs").glob("*.run.gz"))

# Every family that takes judged_only, with and without a cutoff where it has one.
JUDGED_ONLY = [
    "AP", "AP@100", "GMAP", "IPrec@0.3", "IPrecAvg", "nDCG", "nDCG@10",
    "nDCG(dcg='exp-log2')@10", "P@5", "P(rel=2)@10", "R@100", "Rprec", "RR", "RR(rel=2)@10",
    "SetP", "SetF", "Success@3", "AP(rel=2)",
]  # fmt: skip


def _judged_only(text: str) -> str:
    m = parse_measure(text)
    return str(m.with_params(judged_only=True))


# ------------------------------------------------------------------------------ measure syntax


def test_judged_only_is_spelled_as_ir_measures_and_round_trips() -> None:
    ir_measures = pytest.importorskip("ir_measures")
    assert {f for f in CATALOG if "judged_only" in CATALOG[f].params} == JUDGED_ONLY_FAMILIES
    for text in JUDGED_ONLY:
        m = parse_measure(_judged_only(text))
        assert m["judged_only"] is True
        assert parse_measure(str(m)) == m
        if m.name not in ("GMAP", "IPrecAvg"):  # irbench's own families
            # ir_measures reads irbench's string back as the same measure (and vice versa)
            theirs = ir_measures.parse_measure(str(m))
            assert theirs["judged_only"] is True
            assert parse_measures(theirs) == [m]
    assert str(parse_measure("nDCG(judged_only=True)@10")) == "nDCG(judged_only=True)@10"
    assert str(parse_measure("AP(rel=2,judged_only=True)")) == "AP(judged_only=True,rel=2)"
    assert parse_measure("P(judged_only=False)@5") == parse_measure("P@5")  # default dropped


@pytest.mark.parametrize("text", ["RBP(judged_only=True)", "Bpref(judged_only=True)"])
def test_judged_only_elsewhere_is_refused_with_the_families_that_take_it(text: str) -> None:
    with pytest.raises(MeasureError, match=r"takes no judged_only.*nDCG.*-J"):
        parse_measure(text)
    with pytest.raises(MeasureError, match="not a valid bool"):
        parse_measure("nDCG(judged_only=1)")


def test_judged_companions() -> None:
    got = [str(m) for m in with_judged(["nDCG@10", "RR(rel=2)@10", "AP", "IPrec@0.5", "NumQ"])]
    assert got == ["nDCG@10", "Judged@10", "RR(rel=2)@10", "AP", "Judged", "IPrec@0.5", "NumQ"]
    assert [str(m) for m in with_judged(["Judged@10", "P@10"])] == ["Judged@10", "P@10"]
    assert judged_companion(parse_measure("NumRel")) is None


# ------------------------------------------------------------------------- judged_only == -J


def _per_query(ev: Evaluator, run: pa.Table) -> dict[str, np.ndarray]:
    s = ev.score(run, name="r")
    return {str(m): v for m, v in s.values.items()}


def _assert_judged_only_equals_minus_j(
    qrels: pa.Table | BoundQrels, run: pa.Table, **opts: object
) -> None:
    marked = [_judged_only(t) for t in JUDGED_ONLY]
    ev = Evaluator(qrels, JUDGED_ONLY + marked, **opts)  # type: ignore[arg-type]
    per_measure = _per_query(ev, run)
    global_j = _per_query(Evaluator(qrels, JUDGED_ONLY, judged_only=True, **opts), run)  # type: ignore[arg-type]
    plain = _per_query(Evaluator(qrels, JUDGED_ONLY, **opts), run)  # type: ignore[arg-type]
    n = len(JUDGED_ONLY)
    for key, mark in zip(ev.measures[:n], ev.measures[n:], strict=True):
        assert mark == key.with_params(judged_only=True)
        np.testing.assert_array_equal(per_measure[str(mark)], global_j[str(key)], str(mark))
        np.testing.assert_array_equal(per_measure[str(key)], plain[str(key)], str(key))


@pytest.mark.parametrize("run_path", DEMO_RUNS, ids=lambda p: p.name.split(".")[0])
@pytest.mark.parametrize("opts", [{}, {"max_results": 20}, {"complete": True, "rel_level": 2}])
def test_judged_only_equals_global_minus_j_on_real_runs(
    run_path: Path, opts: dict[str, object]
) -> None:
    qrels = BoundQrels.from_table(read_qrels(DEMO / "qrels.txt.gz"))
    run = read_run(run_path)
    _assert_judged_only_equals_minus_j(qrels, run, **opts)


def test_judged_only_equals_global_minus_j_on_shared_runs(shared_data: Path) -> None:
    qrels = BoundQrels.from_table(read_qrels(shared_data / "trec-dl" / "qrels.dl20-passage.txt"))
    for name in ("REP_LLAMA/trec_results_dl20.txt.gz", "OPEN_AI_ADA2/trec_results_dl20.txt"):
        run = read_run(shared_data / "runs-rank_llm" / name)
        _assert_judged_only_equals_minus_j(qrels, run)


@st.composite
def collections(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    """Small qrels (grades -1..3, some documents unjudged) and a run with tied scores."""
    qrows, rrows = [], []
    for q in range(draw(st.integers(1, 4))):
        qid = f"q{q}"
        docs = [f"d{i}" for i in range(draw(st.integers(1, 12)))]
        for d in docs:
            if draw(st.booleans()):
                qrows.append((qid, d, draw(st.integers(-1, 3))))
        if not any(r[0] == qid for r in qrows):
            qrows.append((qid, docs[0], draw(st.integers(0, 3))))
        retrieved = draw(st.lists(st.sampled_from(docs), unique=True, max_size=len(docs)))
        rrows += [(qid, d, float(draw(st.integers(0, 3)))) for d in retrieved]
    if not rrows:
        rrows.append(("q0", "dX", 1.0))
    qrels = pa.table(list(map(list, zip(*qrows, strict=True))), schema=QRELS_SCHEMA)
    run = pa.table(list(map(list, zip(*rrows, strict=True))), schema=RUN_SCHEMA)
    return qrels, run


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections(), st.one_of(st.none(), st.integers(1, 6)), st.booleans())
def test_judged_only_equals_global_minus_j_on_random_inputs(
    data: tuple[pa.Table, pa.Table], max_results: int | None, complete: bool
) -> None:
    qrels, run = data
    _assert_judged_only_equals_minus_j(qrels, run, max_results=max_results, complete=complete)
    bound = BoundQrels.from_table(qrels)
    full = rank_run(run, bound, max_results=max_results)
    want = rank_run(run, bound, max_results=max_results, judged_only=True)
    got = condense(full, bound.num_queries)
    for field in ("qpos", "rank", "grade", "num_ret", "present"):
        np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=field)


# ------------------------------------------------------------------------------------ bounds

BOUND_MEASURES = [
    "nDCG@10", "nDCG", "AP(rel=2)", "AP", "RR@10", "P@5", "R@100", "Rprec", "Bpref", "infAP",
    "Judged@10", "RBP(p=0.8)@10", "ERR@10", "SetP", "NumRet(rel=1)", "NumRel",
    "nDCG(judged_only=True)@10", "RBP_resid(p=0.8)@10",
]  # fmt: skip


def _trec_order(run: pa.Table) -> dict[str, list[str]]:
    """Each query's documents in trec_eval 9.0.x's order (score as float32 desc, id bytes desc),
    by hand."""
    rows: dict[str, list[tuple[float, bytes]]] = {}
    for q, d, s in zip(*(run[c].to_pylist() for c in ("query_id", "doc_id", "score")), strict=True):
        rows.setdefault(q, []).append((float(np.float32(s)), d.encode()))
    return {q: [d.decode() for _, d in sorted(v, reverse=True)] for q, v in rows.items()}


def _augment_by_hand(qrels: pa.Table, run: pa.Table, grade: int, depth: int | None) -> pa.Table:
    """The test's own augmented qrels: every unjudged (absent or negative) document retrieved
    for a qrels query down to ``depth`` judged ``grade``."""
    judged = {
        (q, d): g
        for q, d, g in zip(*(qrels[c].to_pylist() for c in QRELS_SCHEMA.names), strict=True)
    }
    queries = set(qrels["query_id"].to_pylist())
    for q, docs in _trec_order(run).items():
        if q not in queries:
            continue
        for d in docs[:depth]:
            if judged.get((q, d), -1) < 0:
                judged[(q, d)] = grade
    q, d, g = zip(*((q, d, g) for (q, d), g in judged.items()), strict=True)
    return pa.table([list(q), list(d), list(g)], schema=QRELS_SCHEMA)


def _assert_bounds_by_construction(qrels: pa.Table, run: pa.Table, **opts: object) -> None:
    ev = Evaluator(qrels, BOUND_MEASURES, **opts)  # type: ignore[arg-type]
    b = score_bounds(ev, run, name="r")
    today = ev.score(run, name="r")
    assert b.low.query_ids.equals(today.query_ids) and b.high.query_ids.equals(today.query_ids)
    augmented: dict[tuple[int, int | None], pa.Table] = {}
    for m in ev.measures:
        np.testing.assert_array_equal(b.low.values[m], today.values[m], err_msg=str(m))
        key = (upper_grade(m, ev.rel_level), upper_depth(m, ev.max_results))
        if key not in augmented:
            augmented[key] = _augment_by_hand(qrels, run, *key)
        expected = Evaluator(augmented[key], [m], **opts).score(run, name="r")  # type: ignore[arg-type]
        assert expected.query_ids.equals(b.high.query_ids)
        np.testing.assert_array_equal(b.high.values[m], expected.values[m], err_msg=str(m))
        assert b.high.aggregates[m] == expected.aggregates[m]


@pytest.mark.parametrize("run_path", DEMO_RUNS, ids=lambda p: p.name.split(".")[0])
def test_bounds_by_construction_on_real_runs(run_path: Path) -> None:
    qrels = read_qrels(DEMO / "qrels.txt.gz")
    run = read_run(run_path)
    _assert_bounds_by_construction(qrels, run)
    _assert_bounds_by_construction(qrels, run, max_results=50, rel_level=2, complete=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    collections(),
    st.one_of(st.none(), st.integers(1, 6)),
    st.booleans(),
    st.booleans(),
    st.integers(1, 2),
)
def test_bounds_by_construction_on_random_inputs(
    data: tuple[pa.Table, pa.Table],
    max_results: int | None,
    judged_only: bool,
    complete: bool,
    rel_level: int,
) -> None:
    qrels, run = data
    _assert_bounds_by_construction(
        qrels,
        run,
        max_results=max_results,
        judged_only=judged_only,
        complete=complete,
        rel_level=rel_level,
    )


def test_high_bound_on_a_hand_made_query() -> None:
    """q1 retrieves d1 (grade 2), d2 (absent), d3 (grade -1), d4 (grade 0); d9 (grade 1) is
    not retrieved. With d2 and d3 counted relevant (grade 1): P@4 goes 1/4 -> 3/4, R = 2 -> 4
    and AP(rel=1) = (1/1 + 2/2 + 3/3)/4 = 0.75 against 1/2 today."""
    qrels = pa.table([["q1"] * 4, ["d1", "d3", "d4", "d9"], [2, -1, 0, 1]], schema=QRELS_SCHEMA)
    run = pa.table([["q1"] * 4, ["d1", "d2", "d3", "d4"], [4.0, 3.0, 2.0, 1.0]], schema=RUN_SCHEMA)
    b = score_bounds(Evaluator(qrels, ["P@4", "AP", "NumRel", "Judged@4"]), run)
    low = {str(m): float(v) for m, v in b.low.aggregates.items()}
    high = {str(m): float(v) for m, v in b.high.aggregates.items()}
    assert low == {"P@4": 0.25, "AP": 0.5, "NumRel": 2.0, "Judged@4": 0.75}
    assert high == {"P@4": 0.75, "AP": 0.75, "NumRel": 4.0, "Judged@4": 1.0}
    t = bounds_table(b, per_query=False)
    assert t.column_names == ["run", "measure", "query_id", "value", "low", "high"]
    assert t["high"].to_pylist() == [0.75, 0.75, 4.0, 1.0]
    aug = augmented_qrels(BoundQrels.from_table(qrels), run, 1)
    assert sorted(zip(aug["doc_id"].to_pylist(), aug["relevance"].to_pylist(), strict=True)) == [
        ("d1", 2), ("d2", 1), ("d3", 1), ("d4", 0), ("d9", 1)
    ]  # fmt: skip


def test_upper_grade_and_depth() -> None:
    assert upper_grade(parse_measure("AP(rel=2)")) == 2
    assert upper_grade(parse_measure("nDCG@10"), rel_level=2) == 2
    assert upper_grade(parse_measure("AP(rel=0)")) == 1
    assert upper_depth(parse_measure("nDCG@10")) == 10
    assert upper_depth(parse_measure("nDCG@10"), 5) == 5
    assert upper_depth(parse_measure("AP"), 100) == 100
    assert upper_depth(parse_measure("IPrec@0.5")) is None


# ------------------------------------------------------------------------------ RBP residual

# Query a: ranks 1 d1 (grade 1), 2 d2 (absent), 3 d3 (grade 0), 4 d4 (grade -1), 5 d5 (grade 2).
# Query b: judged (d1) but not retrieved (scored only with -c). Query c: nothing judged retrieved.
_RESID_QRELS = [
    ("a", "d1", 1), ("a", "d3", 0), ("a", "d4", -1), ("a", "d5", 2), ("b", "d1", 1),
    ("c", "d1", 1),
]  # fmt: skip
_RESID_RUN = [
    ("a", "d1", 5.0), ("a", "d2", 4.0), ("a", "d3", 3.0), ("a", "d4", 2.0), ("a", "d5", 1.0),
    ("c", "x1", 2.0), ("c", "x2", 1.0),
]  # fmt: skip


def _resid(measure: str, **opts: object) -> dict[str, float]:
    qrels = pa.table(list(map(list, zip(*_RESID_QRELS, strict=True))), schema=QRELS_SCHEMA)
    run = pa.table(list(map(list, zip(*_RESID_RUN, strict=True))), schema=RUN_SCHEMA)
    s = Evaluator(qrels, [measure], **opts).score(run)  # type: ignore[arg-type]
    return dict(zip(s.query_ids.to_pylist(), next(iter(s.values.values())).tolist(), strict=True))


@pytest.mark.filterwarnings("ignore::irbench.errors.IrbenchWarning")
def test_rbp_residual_closed_form() -> None:
    """(1 - p) sum_{unjudged i <= d} p^(i-1) + p^d, worked by hand with p = 0.8."""
    full = _resid("RBP_resid(p=0.8)", complete=True)
    # a: unjudged ranks 2 and 4, d = 5: 0.2 * (0.8 + 0.512) + 0.32768 = 0.59008
    assert full["a"] == pytest.approx(0.59008, abs=1e-15)
    assert full["b"] == 1.0  # nothing retrieved: d = 0, p^0
    # c: unjudged ranks 1 and 2, d = 2: 0.2 * (1 + 0.8) + 0.64 = 1
    assert full["c"] == pytest.approx(1.0, abs=1e-15)
    # a@3: unjudged rank 2, d = 3: 0.2 * 0.8 + 0.512 = 0.672
    assert _resid("RBP_resid(p=0.8)@3")["a"] == pytest.approx(0.672, abs=1e-15)
    # -M 4: unjudged ranks 2 and 4, d = 4: 0.2 * (0.8 + 0.512) + 0.4096 = 0.672
    assert _resid("RBP_resid(p=0.8)", max_results=4)["a"] == pytest.approx(0.672, abs=1e-15)
    # -J: d1, d3, d5 at ranks 1..3, nothing unjudged, d = 3: 0.8^3
    assert _resid("RBP_resid(p=0.8)", judged_only=True)["a"] == pytest.approx(0.512, abs=1e-15)
    # p = 0.5, d = 5: 0.5 * (0.5 + 0.125) + 0.03125 = 0.34375
    assert _resid("RBP_resid(p=0.5)")["a"] == pytest.approx(0.34375, abs=1e-15)
    # default p is RBP's 0.8
    assert _resid("RBP_resid")["a"] == pytest.approx(0.59008, abs=1e-15)


@pytest.mark.parametrize("run_path", DEMO_RUNS, ids=lambda p: p.name.split(".")[0])
def test_rbp_high_plus_tail_is_rbp_plus_residual(run_path: Path) -> None:
    """Counting the unjudged top-k documents relevant adds exactly the residual minus the
    p^d tail, d = min(k, number retrieved)."""
    ev = Evaluator(DEMO / "qrels.txt.gz", ["RBP(p=0.7)@10", "RBP_resid(p=0.7)@10", "NumRet"])
    b = score_bounds(ev, run_path)
    rbp, resid, num_ret = (b.low.values[m] for m in ev.measures)
    tail = 0.7 ** np.minimum(num_ret, 10)
    np.testing.assert_allclose(b.high.values[ev.measures[0]] + tail, rbp + resid, atol=1e-12)
    assert (resid >= tail - 1e-15).all()


def test_bounds_keep_query_positions_for_negative_only_queries() -> None:
    """A query judged only negatively stays a query once its retrieved documents are added."""
    qrels = pa.table([["q1", "q2"], ["d1", "d1"], [-1, 1]], schema=QRELS_SCHEMA)
    run = pa.table([["q1", "q2"], ["d1", "d2"], [1.0, 1.0]], schema=RUN_SCHEMA)
    b = score_bounds(Evaluator(qrels, ["P@1"]), run)
    assert b.high.query_ids.to_pylist() == ["q1", "q2"]
    assert b.high.values[parse_measure("P@1")].tolist() == [1.0, 1.0]
    assert b.low.values[parse_measure("P@1")].tolist() == [0.0, 0.0]


def test_condense_keeps_extra_ranking_fields() -> None:
    qrels = BoundQrels.from_table(read_qrels(DEMO / "qrels.txt.gz"))
    ranking = rank_run(read_run(DEMO_RUNS[0]), qrels)
    again = condense(replace(ranking), qrels.num_queries)
    assert again.num_queries_not_in_qrels == ranking.num_queries_not_in_qrels
    assert again.present is ranking.present


@pytest.mark.parametrize("run_name", ["repllama", "openai-ada2"])
def test_judged_only_agrees_with_ir_measures(run_name: str) -> None:
    """ir_measures (pytrec_eval provider, trec_eval's -J per measure) on the same measures."""
    ir_measures = pytest.importorskip("ir_measures")
    pytest.importorskip("pytrec_eval")
    texts = ["nDCG(judged_only=True)@10", "AP(judged_only=True,rel=2)", "P(judged_only=True)@10",
             "RR(judged_only=True)", "R(judged_only=True)@100"]  # fmt: skip
    qrels = read_qrels(DEMO / "qrels.txt.gz")
    run = read_run(DEMO / "runs" / f"{run_name}.run.gz")
    ours = Evaluator(qrels, texts).score(run)
    qids = ours.query_ids.to_pylist()
    qrels_dict: dict[str, dict[str, int]] = {}
    for q, d, g in zip(*(qrels[c].to_pylist() for c in QRELS_SCHEMA.names), strict=True):
        qrels_dict.setdefault(q, {})[d] = g
    run_dict: dict[str, dict[str, float]] = {}
    for q, d, s in zip(*(run[c].to_pylist() for c in ("query_id", "doc_id", "score")), strict=True):
        run_dict.setdefault(q, {})[d] = s
    provider = ir_measures.pytrec_eval
    theirs: dict[tuple[str, str], float] = {}
    for r in provider.iter_calc(
        [ir_measures.parse_measure(t) for t in texts], qrels_dict, run_dict
    ):
        theirs[(str(r.measure), r.query_id)] = r.value
    for m in ours.values:
        key = str(ir_measures.parse_measure(str(m)))
        want = np.array([theirs[(key, q)] for q in qids])
        np.testing.assert_allclose(ours.values[m], want, rtol=0, atol=1e-9, err_msg=str(m))


def test_bounds_follow_ignore_identical_ids() -> None:
    """A document dropped as the query itself (BEIR) is not retrieved, so not counted relevant:
    kept, q1 and d2 are unjudged (R 1 -> 3); dropped, only d2 is (R 1 -> 2)."""
    qrels = pa.table([["q1"], ["d1"], [1]], schema=QRELS_SCHEMA)
    run = pa.table([["q1"] * 3, ["q1", "d1", "d2"], [3.0, 2.0, 1.0]], schema=RUN_SCHEMA)
    r, p1 = parse_measure("NumRel"), parse_measure("P@1")
    kept = score_bounds(Evaluator(qrels, [r, p1]), run)
    dropped = score_bounds(Evaluator(qrels, [r, p1], ignore_identical_ids=True), run)
    assert (kept.low.values[r][0], kept.high.values[r][0]) == (1.0, 3.0)
    assert (dropped.low.values[r][0], dropped.high.values[r][0]) == (1.0, 2.0)
    assert (kept.low.values[p1][0], kept.high.values[p1][0]) == (0.0, 1.0)  # q1 at rank 1
    assert (dropped.low.values[p1][0], dropped.high.values[p1][0]) == (1.0, 1.0)  # d1 at 1

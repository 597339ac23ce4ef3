"""Property tests of the engine (hypothesis): invariances, ranges, perfect runs, edge cases."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from irbench.engine import Evaluator
from irbench.engine.ranking import Ranking
from irbench.errors import DuplicateEntryError
from irbench.io.schema import QRELS_SCHEMA, RUN_SCHEMA

BOUNDED = [
    "AP", "AP@10", "nDCG", "nDCG@5", "RR", "RR@3", "P@5", "R@10", "Rprec", "Bpref", "infAP",
    "Success@3", "Judged@5", "IPrec@0.3", "IPrecAvg", "SetP", "SetR", "SetF", "ERR@10",
    "RBP(p=0.5)", "nDCG(dcg='exp-log2')@10", "AP(rel=2)",
]  # fmt: skip


@st.composite
def collections(draw: st.DrawFn, distinct_scores: bool = False) -> tuple[pa.Table, pa.Table]:
    nq = draw(st.integers(1, 4))
    qrows, rrows = [], []
    for q in range(nq):
        qid = f"q{q}"
        docs = [f"d{i}" for i in range(draw(st.integers(1, 12)))]
        for d in docs:
            if draw(st.booleans()):
                qrows.append((qid, d, draw(st.integers(-1, 3))))
        if not any(r[0] == qid for r in qrows):
            qrows.append((qid, docs[0], draw(st.integers(0, 3))))
        retrieved = draw(st.lists(st.sampled_from(docs), unique=True, max_size=len(docs)))
        for i, d in enumerate(retrieved):
            score = float(i) if distinct_scores else float(draw(st.integers(0, 3)))
            rrows.append((qid, d, score))
    qrels = pa.table(list(map(list, zip(*qrows, strict=True))), schema=QRELS_SCHEMA)
    if not rrows:
        rrows.append(("q0", "dX", 1.0))
    run = pa.table(list(map(list, zip(*rrows, strict=True))), schema=RUN_SCHEMA)
    return qrels, run


def _values(
    qrels: pa.Table, run: pa.Table, measures: list[str], **opts: object
) -> dict[str, dict[str, float]]:
    scores = Evaluator(qrels, measures, **opts).score(run)  # type: ignore[arg-type]
    qids = scores.query_ids.to_pylist()
    return {str(m): dict(zip(qids, v.tolist(), strict=True)) for m, v in scores.values.items()}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections(), st.randoms(use_true_random=False))
def test_shuffling_lines_changes_nothing(data: tuple[pa.Table, pa.Table], rnd: object) -> None:
    qrels, run = data
    perm = list(range(run.num_rows))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    shuffled = run.take(pa.array(perm))
    assert _values(qrels, run, BOUNDED) == _values(qrels, shuffled, BOUNDED)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections())
def test_values_stay_in_range(data: tuple[pa.Table, pa.Table]) -> None:
    qrels, run = data
    for opts in ({}, {"judged_only": True}, {"complete": True}, {"max_results": 2}):
        for m, per_q in _values(qrels, run, BOUNDED, **opts).items():
            for v in per_q.values():
                assert 0.0 <= v <= 1.0 + 1e-12, (m, v, opts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections(distinct_scores=True))
def test_renaming_ids_changes_nothing(data: tuple[pa.Table, pa.Table]) -> None:
    """Any bijective renaming of query and document ids, when scores do not tie."""
    qrels, run = data

    def rename(t: pa.Table) -> pa.Table:
        q = [f"Q-{x[::-1]}" for x in t.column("query_id").to_pylist()]
        d = [f"doc{len(x)}{x[::-1]}z" for x in t.column("doc_id").to_pylist()]
        return t.set_column(0, "query_id", pa.array(q)).set_column(1, "doc_id", pa.array(d))

    a = _values(qrels, run, BOUNDED)
    b = _values(rename(qrels), rename(run), BOUNDED)
    for m in a:
        assert sorted(a[m].values()) == sorted(b[m].values()), m


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(collections())
def test_perfect_run_scores_one(data: tuple[pa.Table, pa.Table]) -> None:
    """Every judged document in decreasing grade order: the ideal ranking."""
    qrels, _ = data
    grades = qrels.column("relevance").to_numpy()
    keep = grades >= 0
    assume(keep.any())  # an empty run is an input error, tested in test_io
    q = np.array(qrels.column("query_id").to_pylist())[keep]
    d = np.array(qrels.column("doc_id").to_pylist())[keep]
    g = grades[keep]
    run = pa.table(
        {"query_id": q, "doc_id": d, "score": g.astype(float) + np.linspace(0.5, 0.1, g.size)},
        schema=RUN_SCHEMA,
    )
    ideal = ["AP", "nDCG", "nDCG@3", "RR", "Rprec", "Bpref", "IPrecAvg", "SetR", "R@1000"]
    values = _values(qrels, run, ideal)
    has_rel = {qid for qid, grade in zip(q, g, strict=True) if grade >= 1}
    for m, per_q in values.items():
        for qid, v in per_q.items():
            if qid in has_rel:
                assert v == pytest.approx(1.0, abs=1e-12), (m, qid)
            else:
                assert v == 0.0, (m, qid)


def test_ties_break_by_doc_id_descending() -> None:
    qrels = pa.table({"query_id": ["q"], "doc_id": ["a"], "relevance": [1]}, schema=QRELS_SCHEMA)
    run = pa.table(
        {"query_id": ["q", "q"], "doc_id": ["a", "z"], "score": [1.0, 1.0]}, schema=RUN_SCHEMA
    )
    assert _values(qrels, run, ["RR"])["RR"]["q"] == 0.5  # trec_eval ranks z before a


def test_duplicate_documents_in_a_run_are_refused() -> None:
    qrels = pa.table({"query_id": ["q"], "doc_id": ["a"], "relevance": [1]}, schema=QRELS_SCHEMA)
    run = pa.table(
        {"query_id": ["q", "q"], "doc_id": ["a", "a"], "score": [2.0, 1.0]}, schema=RUN_SCHEMA
    )
    with pytest.raises(DuplicateEntryError, match="twice"):
        Evaluator(qrels, ["RR"]).score(run)


def test_query_with_no_relevant_document_is_averaged_as_zero() -> None:
    qrels = pa.table(
        {"query_id": ["q1", "q2"], "doc_id": ["a", "b"], "relevance": [1, 0]}, schema=QRELS_SCHEMA
    )
    run = pa.table(
        {"query_id": ["q1", "q2"], "doc_id": ["a", "b"], "score": [1.0, 1.0]}, schema=RUN_SCHEMA
    )
    scores = Evaluator(qrels, ["AP", "nDCG"]).score(run)
    assert [scores.aggregates[m] for m in scores.values] == [0.5, 0.5]


_ID_PARTS = ["", "a", "b", "ab", "abcdefgh", "abcdefghi", "é", "\x7f", "9", "0" * 9]


def _ranked_rows(ranking: Ranking, qids: list[str]) -> list[tuple[str, int, int]]:
    """(query id, rank, grade) of every row of a ranking."""
    return list(
        zip(
            (qids[p] for p in ranking.qpos),
            ranking.rank.tolist(),
            ranking.grade.tolist(),
            strict=True,
        )
    )


@st.composite
def _tied_run(draw: st.DrawFn) -> list[tuple[str, str, float]]:
    """Runs with many tied scores and ids that share long prefixes (the hard tie-break cases)."""
    ids = draw(
        st.lists(
            st.lists(st.sampled_from(_ID_PARTS), min_size=1, max_size=4).map("".join),
            min_size=1,
            max_size=40,
            unique=True,
        ).filter(lambda xs: all(xs))
    )
    queries = draw(
        st.lists(st.sampled_from(["q1", "q2", "q10"]), min_size=len(ids), max_size=len(ids))
    )
    scores = draw(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=len(ids), max_size=len(ids)))
    rows = list(zip(queries, ids, scores, strict=True))
    return draw(st.permutations(rows))


@given(_tied_run())
@example(
    [
        ("q1", "abcdefgh", 1.0),
        ("q1", "abcdefghi", 1.0),
        ("q1", "abcdefghia", 1.0),
        ("q1", "abcdefghb", 1.0),
        ("q1", "abcdefgg", 1.0),
        ("q1", "b", 1.0),
    ]
)
def test_rank_order_equals_trec_eval_sort(rows: list[tuple[str, str, float]]) -> None:
    """Every document's rank equals trec_eval's: score descending, then id bytes descending."""
    from irbench.engine import BoundQrels
    from irbench.engine.ranking import rank_run

    qrels_rows = [(q, d, i) for i, (q, d, _) in enumerate(rows)]
    qrels = BoundQrels.from_table(
        pa.table(
            {
                "query_id": [r[0] for r in qrels_rows],
                "doc_id": [r[1] for r in qrels_rows],
                "relevance": [r[2] for r in qrels_rows],
            }
        )
    )
    run = pa.table(
        {
            "query_id": [r[0] for r in rows],
            "doc_id": [r[1] for r in rows],
            "score": [r[2] for r in rows],
        }
    )
    ranking = rank_run(run, qrels)
    grade_of = {(q, d): g for q, d, g in qrels_rows}
    qids = qrels.query_ids.to_pylist()
    got = _ranked_rows(ranking, qids)
    want = []
    for q in sorted({r[0] for r in rows}, key=str.encode):
        docs = sorted(((s, d.encode()) for qq, d, s in rows if qq == q), reverse=True)
        want += [(q, i + 1, grade_of[(q, d.decode())]) for i, (_, d) in enumerate(docs)]
    assert got == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    collections(),
    st.sampled_from(["", "abcdefgh", "abcdefghij-"]),
    st.one_of(st.none(), st.integers(1, 6)),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_listed_ranks_equal_the_full_trec_eval_sort(
    data: tuple[pa.Table, pa.Table],
    prefix: str,
    max_results: int | None,
    judged_only: bool,
    rnd: object,
) -> None:
    """The ranking keeps only the documents the qrels list, with the ranks trec_eval gives them
    after sorting every retrieved document (score desc, id bytes desc), -M, then -J; and the
    number retrieved per query. Ids may share long prefixes; lines come in any order."""
    from irbench.engine import BoundQrels
    from irbench.engine.qrels import UNJUDGED
    from irbench.engine.ranking import rank_run

    qrels_t, run_t = data
    qrels_t = qrels_t.set_column(
        1, "doc_id", pa.array([prefix + d for d in qrels_t["doc_id"].to_pylist()])
    )
    run_t = run_t.set_column(
        1, "doc_id", pa.array([prefix + d for d in run_t["doc_id"].to_pylist()])
    )
    perm = list(range(run_t.num_rows))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    run_t = run_t.take(pa.array(perm))
    qrels = BoundQrels.from_table(qrels_t)
    ranking = rank_run(run_t, qrels, max_results=max_results, judged_only=judged_only)

    grade_of = {
        (q, d): g
        for q, d, g in zip(*(qrels_t[c].to_pylist() for c in qrels_t.column_names), strict=True)
    }
    qids = qrels.query_ids.to_pylist()
    want, num_ret = [], [0] * len(qids)
    for qi, q in enumerate(qids):
        docs = [
            (s, d.encode())
            for qq, d, s in zip(
                *(run_t[c].to_pylist() for c in ("query_id", "doc_id", "score")), strict=True
            )
            if qq == q
        ]
        ranked = [d.decode() for _, d in sorted(docs, reverse=True)][:max_results]
        if judged_only:
            ranked = [d for d in ranked if grade_of.get((q, d), -1) >= 0]
        num_ret[qi] = len(ranked)
        for r, d in enumerate(ranked, 1):
            if (q, d) in grade_of:
                g = grade_of[(q, d)]
                want.append((q, r, g if g >= 0 else UNJUDGED))
    got = _ranked_rows(ranking, qids)
    assert got == want
    assert ranking.num_ret.tolist() == num_ret

"""Rank fusion and re-ranking: definitions checked on hand-computed examples and real runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from toy_ranker import Toy

from irbench.errors import RankerError
from irbench.io import read_run
from irbench.rankers.fusion import fuse, trec_ranks
from irbench.rankers.rerank import rerank

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"


def run(rows: list[tuple[str, str, float]]) -> pa.Table:
    q, d, s = zip(*rows, strict=True)
    return pa.table({"query_id": list(q), "doc_id": list(d), "score": list(s)})


def as_dict(table: pa.Table) -> dict[tuple[str, str], float]:
    cols = [table.column(c).to_pylist() for c in ("query_id", "doc_id", "score")]
    return {(q, d): s for q, d, s in zip(*cols, strict=True)}


A = run([("q1", "d1", 3.0), ("q1", "d2", 2.0), ("q2", "d9", 1.0)])
B = run([("q1", "d2", 5.0), ("q1", "d3", 1.0), ("q2", "d8", 4.0), ("q2", "d9", 0.5)])


def test_rrf_sums_reciprocal_ranks() -> None:
    got = as_dict(fuse([A, B], "rrf", k=None))
    assert got == pytest.approx(
        {
            ("q1", "d1"): 1 / 61,
            ("q1", "d2"): 1 / 62 + 1 / 61,
            ("q1", "d3"): 1 / 62,
            ("q2", "d9"): 1 / 61 + 1 / 62,
            ("q2", "d8"): 1 / 61,
        }
    )


def test_rrf_ranks_follow_trec_eval_ties_not_file_order() -> None:
    # Equal scores: trec_eval ranks the larger doc id first, so d2 gets rank 1.
    tied = run([("q", "d1", 1.0), ("q", "d2", 1.0)])
    other = run([("q", "d1", 1.0)])
    got = as_dict(fuse([tied, other], "rrf", rrf_k=0, k=None))
    assert got == pytest.approx({("q", "d2"): 1.0, ("q", "d1"): 1 / 2 + 1.0})


def test_combsum_and_combmnz_with_minmax() -> None:
    # q1: A min-max -> d1 1, d2 0; B -> d2 1, d3 0. q2: A has one doc -> 0; B d8 1, d9 0.
    expected_sum = {("q1", "d1"): 1.0, ("q1", "d2"): 1.0, ("q1", "d3"): 0.0,
                    ("q2", "d9"): 0.0, ("q2", "d8"): 1.0}  # fmt: skip
    assert as_dict(fuse([A, B], "combsum", k=None)) == pytest.approx(expected_sum)
    mnz = as_dict(fuse([A, B], "combmnz", k=None))
    assert mnz[("q1", "d2")] == pytest.approx(2.0)
    assert mnz[("q1", "d1")] == pytest.approx(1.0)


def test_zscore_and_sum_normalisation() -> None:
    one = run([("q", "a", 1.0), ("q", "b", 3.0)])
    two = run([("q", "a", 10.0), ("q", "c", 10.0)])
    z = as_dict(fuse([one, two], "combsum", norm="zscore", k=None))
    # one: mean 2, population std 1 -> a -1, b +1; two: all equal -> 0.
    assert z == pytest.approx({("q", "a"): -1.0, ("q", "b"): 1.0, ("q", "c"): 0.0})
    s = as_dict(fuse([one, two], "combsum", norm="sum", k=None))
    assert s == pytest.approx({("q", "a"): 0.0, ("q", "b"): 1.0, ("q", "c"): 0.0})


def test_weights_depth_and_cut() -> None:
    got = as_dict(fuse([A, B], "combsum", norm="none", weights=[2.0, 1.0], k=None))
    assert got[("q1", "d2")] == pytest.approx(2 * 2.0 + 5.0)
    shallow = as_dict(fuse([A, B], "rrf", depth=1, k=None))
    assert ("q1", "d3") not in shallow and ("q1", "d2") in shallow
    top1 = fuse([A, B], "rrf", k=1)
    assert top1.num_rows == 2
    assert as_dict(top1).keys() == {("q1", "d2"), ("q2", "d9")}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "borda"}, "unknown fusion method"),
        ({"norm": "rank"}, "unknown normalisation"),
        ({"weights": [1.0]}, "1 weights given for 2 runs"),
    ],
)
def test_bad_fusion_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(RankerError, match=message):
        fuse([A, B], **kwargs)


def test_fusion_needs_two_runs() -> None:
    with pytest.raises(RankerError, match="at least two"):
        fuse([A], "rrf")


def test_rrf_of_a_run_with_itself_keeps_its_order() -> None:
    real = read_run(DEMO / "runs" / "bm25.run.gz")
    fused = fuse([real, real], "rrf", k=None)
    ordered, _, _ = trec_ranks(real)
    assert fused.column("doc_id").to_pylist() == ordered.column("doc_id").to_pylist()
    assert fused.column("query_id").to_pylist() == ordered.column("query_id").to_pylist()


def test_fusion_of_real_runs_has_every_document_once() -> None:
    runs = [read_run(DEMO / "runs" / f"{n}.run.gz") for n in ("bm25", "tas-b")]
    fused = fuse(runs, "combmnz", k=None)
    pairs = set()
    for r in runs:
        pairs |= set(as_dict(r))
    assert set(as_dict(fused)) == pairs
    assert fused.num_rows == len(pairs)
    cut = fuse(runs, "combmnz", k=10)
    counts = np.unique(cut.column("query_id").to_numpy(zero_copy_only=False), return_counts=True)[1]
    assert counts.max() == 10


def test_rerank_rescores_the_top_depth_in_trec_order() -> None:
    queries = pa.table({"query_id": ["q1"], "text": ["red fox"]})
    first = run([("q1", "a", 3.0), ("q1", "b", 2.0), ("q1", "c", 2.0), ("q1", "d", 1.0)])
    texts = pa.table({"doc_id": ["a", "b", "c", "d"],
                      "text": ["blue", "red fox", "fox", "red fox"]})  # fmt: skip
    out = rerank(Toy(), queries, first, depth=3, texts=texts)
    # Top 3 in trec_eval order: a (3), c (2, larger id), b (2); d is below the cut.
    assert as_dict(out) == {("q1", "b"): 2.0, ("q1", "c"): 1.0, ("q1", "a"): 0.0}
    assert out.column("doc_id").to_pylist() == ["b", "c", "a"]


def test_rerank_errors_name_the_missing_piece() -> None:
    queries = pa.table({"query_id": ["q1"], "text": ["red"]})
    first = run([("q1", "a", 1.0), ("q2", "b", 1.0)])
    with pytest.raises(RankerError, match="no text to re-rank"):
        rerank(Toy(), queries, first)
    with pytest.raises(RankerError, match="no text"):
        rerank(Toy(), queries, first.slice(0, 1), texts=pa.table({"doc_id": ["z"], "text": ["x"]}))
    with pytest.raises(RankerError, match="depth"):
        rerank(Toy(), queries, first, depth=0)

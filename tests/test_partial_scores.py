"""Scoring a run in query shards and merging gives bit-identical numbers (the base of the Dask
engine and of streaming evaluation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from irbench.engine import Evaluator
from irbench.engine.scores import PartialScores
from irbench.errors import IrbenchError
from irbench.io import read_run
from irbench.measures.catalog import CATALOG

# Every family, with a cutoff where it takes one, so each kernel is covered.
MEASURES = [
    "AP", "AP@100", "GMAP", "nDCG", "nDCG@10", "nDCG(dcg='exp-log2')@10", "RR", "RR@10",
    "P@10", "R@100", "Rprec", "Bpref", "infAP", "Success@5", "Judged@10", "IPrec@0.2",
    "IPrecAvg", "NumQ", "NumRet", "NumRel", "NumRet(rel=1)", "ERR@20", "RBP(p=0.8)", "SetP",
    "SetR", "SetF", "AP(rel=2)", "RBP_resid(p=0.5)@10", "nDCG(judged_only=True)@10",
    "AP(judged_only=True)",
]  # fmt: skip


def _shards(run: pa.Table, n: int) -> list[pa.Table]:
    """Split by query: query i of the sorted distinct ids goes to shard i % n."""
    qids = pc.unique(run.column("query_id")).sort()
    shard_of = pc.index_in(run.column("query_id"), qids)
    shard_of = pc.cast(shard_of, pa.int64()).to_numpy() % n
    return [run.filter(pa.array(shard_of == i)) for i in range(n)]


def _merged(ev: Evaluator, run: pa.Table, n: int) -> PartialScores:
    parts = [ev.score_part(t) for t in _shards(run, n)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    return merged


def test_every_family_is_covered() -> None:
    names = {m.split("@")[0].split("(")[0] for m in MEASURES}
    assert set(CATALOG) <= names


@pytest.mark.parametrize(
    "opts",
    [{}, {"complete": True}, {"judged_only": True}, {"max_results": 50, "rel_level": 2}],
    ids=["default", "c", "J", "M50-l2"],
)
def test_shards_merge_bit_identical(dl19_data: Path, opts: dict[str, object]) -> None:
    qrels = dl19_data / "trec-dl" / "qrels.dl19-passage.txt"
    run = read_run(dl19_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt")
    ev = Evaluator(qrels, MEASURES, **opts)  # type: ignore[arg-type]
    whole = ev.score(run, name="r")
    # drop some qrels queries from the run so -c has missing queries to score
    qids = pc.unique(run.column("query_id")).sort()
    run = run.filter(pc.invert(pc.is_in(run.column("query_id"), qids[:3])))
    whole = ev.score(run, name="r")
    for n in (2, 5):
        sharded = ev.finish(_merged(ev, run, n), "r")
        assert sharded.query_ids.equals(whole.query_ids)
        for m in ev.measures:
            np.testing.assert_array_equal(sharded.values[m], whole.values[m], err_msg=str(m))
            assert sharded.aggregates[m] == whole.aggregates[m] or (
                np.isnan(sharded.aggregates[m]) and np.isnan(whole.aggregates[m])
            )
        assert sharded.num_qrels_queries_missing == whole.num_qrels_queries_missing


def test_a_query_in_two_parts_is_refused(dl19_data: Path) -> None:
    qrels = dl19_data / "trec-dl" / "qrels.dl19-passage.txt"
    run = read_run(dl19_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt")
    ev = Evaluator(qrels, ["AP"])
    half = run.num_rows // 2
    a, b = ev.score_part(run.slice(0, half)), ev.score_part(run.slice(half))
    with pytest.raises(IrbenchError, match="split by query"):
        a.merge(b)

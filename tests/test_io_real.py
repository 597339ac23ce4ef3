"""irbench.io on the real files in ../shared/data (see PROVENANCE.md there)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from irbench.io import RUN_NAME_KEY, read_qrels, read_run

DL19_SYSTEMS = {
    "BM25": ("trec_results_dl19.txt", 4300),
    "BM25_RM3": ("trec_results_dl19.txt", 4300),
    "D_BERT_KD_TASB": ("trec_results_dl19.txt", 4300),
    "OPEN_AI_ADA2": ("trec_results_dl19.txt", 4300),
    "SPLADE_P_P_ENSEMBLE_DISTIL": ("trec_results_dl19.txt", 4300),
    "REP_LLAMA": ("trec_results_dl19.txt.gz", 43000),
}


@pytest.mark.parametrize("system", sorted(DL19_SYSTEMS))
def test_rank_llm_dl19_runs(shared_data: Path, system: str) -> None:
    name, rows = DL19_SYSTEMS[system]
    run = read_run(shared_data / "runs-rank_llm" / system / name)
    assert run.num_rows == rows
    assert pc.count_distinct(run.column("query_id")).as_py() == 43
    assert run.schema.metadata[RUN_NAME_KEY] == b"rank"
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl19-passage.txt")
    assert set(run.column("query_id").to_pylist()) == set(qrels.column("query_id").to_pylist())


def test_dl19_qrels(shared_data: Path) -> None:
    qrels = read_qrels(shared_data / "trec-dl" / "qrels.dl19-passage.txt")
    assert qrels.num_rows == 9260
    assert set(qrels.column("relevance").to_pylist()) == {0, 1, 2, 3}


def test_results_trunc_extra_columns(trec_eval_tests: Path) -> None:
    run = read_run(trec_eval_tests / "results.trunc")
    assert run.num_rows == 584
    assert run.schema.metadata[RUN_NAME_KEY] == b"STANDARD"
    first = run.slice(0, 1).to_pylist()[0]
    assert first == {"query_id": "301", "doc_id": "FBIS3-27619", "score": 2.138276}


def test_results_test_leading_spaces(trec_eval_tests: Path) -> None:
    run = read_run(trec_eval_tests / "results.test")
    assert run.num_rows == 1500
    assert pc.count_distinct(run.column("query_id")).as_py() == 3
    assert run.column("score")[0].as_py() == 2.129133


def test_qrels_with_comments_same_as_plain(trec_eval_tests: Path) -> None:
    plain = read_qrels(trec_eval_tests / "qrels.test")
    commented = read_qrels(trec_eval_tests / "qrels.test.with-comments")
    assert commented.num_rows == plain.num_rows == 3681
    # the commented copy also renames one (non-relevant) docno to test '#' inside ids
    a, b = plain.to_pylist(), commented.to_pylist()
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    assert differ == [
        (
            {"query_id": "301", "doc_id": "CR93E-1860", "relevance": 0},
            {"query_id": "301", "doc_id": "CR#93E-1860", "relevance": 0},
        )
    ]


def test_msmarco_doc_qrels_crlf_tabs(shared_data: Path) -> None:
    qrels = read_qrels(shared_data / "msmarco-doc" / "qrels.msmarco-doc.dev.txt")
    assert qrels.num_rows == 5193
    assert not any("\r" in d for d in qrels.column("doc_id").to_pylist()[:100])
    assert qrels.slice(0, 1).to_pylist()[0] == {
        "query_id": "2",
        "doc_id": "D1650436",
        "relevance": 1,
    }


def test_robust03_gzip_runs(shared_data: Path) -> None:
    folder = shared_data / "robust03-trectools"
    runs = sorted((folder / "runs").glob("input.*.gz"))
    assert len(runs) == 17
    qrels = read_qrels(folder / "robust03_qrels.txt")
    assert qrels.num_rows == 128796
    judged = set(qrels.column("query_id").to_pylist())
    for path in runs:
        run = read_run(path)
        tag = path.name.removeprefix("input.").removesuffix(".gz")
        assert run.schema.metadata[RUN_NAME_KEY].decode() == tag
        assert set(run.column("query_id").to_pylist()) <= judged
        assert run.num_rows >= 1000  # NLPR03vb10: 10 docs x 100 queries


def test_results_comment_gz(trec_eval_tests: Path) -> None:
    run = read_run(trec_eval_tests / "results.comment.test.gz")
    qrels = read_qrels(trec_eval_tests / "qrels.comment.test")
    assert run.num_rows > 0 and qrels.num_rows > 0

"""Agreement with pytrec_eval-terrier (it embeds trec_eval 9.0.x) on every real run in shared/data.

Per query, to 1e-9, for every measure both compute, with and without -c, -l 2, -J and -M 100.
pytrec_eval has no -c and no -M: -M is simulated by cutting its input run to the top 100 in
trec_eval's order, and -c by handing it an empty ranking for each query the run lacks.

Both tools get the run exactly as read: trec_eval 9.0.x (and so pytrec_eval) stores scores in
C floats and compares them in single precision, and so does irbench by default
(``test_scores_compare_as_float32``); ``compat="10"`` compares doubles as trec_eval 10.0 does.
"""

from __future__ import annotations

import functools
import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

pytrec_eval = pytest.importorskip("pytrec_eval")  # a declared dev dependency: present in CI

from irbench.engine import BoundQrels, Evaluator  # noqa: E402
from irbench.io import read_qrels  # noqa: E402
from irbench.io.schema import RUN_SCHEMA  # noqa: E402

PYTREC_MEASURES = {
    "map", "gm_map", "ndcg", "ndcg_cut", "recip_rank", "P", "recall", "Rprec", "bpref",
    "infAP", "iprec_at_recall", "11pt_avg", "set_P", "set_recall", "set_F", "num_ret",
    "num_rel", "num_rel_ret", "map_cut", "success",
}  # fmt: skip


def _key_to_measure(key: str) -> str:
    """pytrec_eval result key -> trec_eval measure spec irbench parses (``P_10`` -> ``P.10``)."""
    plain = {"num_rel_ret", "num_ret", "num_rel", "gm_map", "recip_rank", "set_P"}
    plain |= {"set_recall", "set_F", "11pt_avg", "map", "ndcg", "Rprec", "bpref", "infAP"}
    if key in plain:
        return key
    base, _, param = key.rpartition("_")
    return f"{base}.{param}"


def _runs(shared: Path) -> Iterator[tuple[str, str]]:
    rl = shared / "runs-rank_llm"
    for year in ("dl19", "dl20"):
        for run in sorted(rl.glob(f"*/trec_results_{year}.txt*")):
            yield f"trec-dl/qrels.{year}-passage.txt", str(run.relative_to(shared))
    for run in sorted((shared / "robust03-trectools" / "runs").glob("input.*.gz")):
        yield "robust03-trectools/robust03_qrels.txt", str(run.relative_to(shared))
    for run in sorted((shared / "robust05-wad").glob("runs-*/*.gz")):
        yield "robust05-wad/aq.trec2005.qrels", str(run.relative_to(shared))
    for run in sorted((shared / "web-dg-wad").glob("**/*.res*")):
        qrels = next((shared / "web-dg-wad").glob("*qrels*"))
        yield str(qrels.relative_to(shared)), str(run.relative_to(shared))


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Without shared/ one placeholder case, skipped by the shared_data fixture like the others.
CASES = list(_runs(SHARED)) if SHARED.is_dir() else [("-", "-")]


@functools.lru_cache(maxsize=8)
def _bound(path: Path) -> BoundQrels:
    """Qrels bound once per file for all runs and variants (as a user would)."""
    return BoundQrels.from_table(read_qrels(path), source=str(path))


@functools.lru_cache(maxsize=8)
def _read(path: Path, kind: str) -> dict[str, dict[str, float]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return pytrec_eval.parse_run(fh) if kind == "run" else pytrec_eval.parse_qrel(fh)


def _table(run: dict[str, dict[str, float]]) -> pa.Table:
    sizes = [len(docs) for docs in run.values()]
    return pa.table(
        {
            "query_id": np.repeat(np.array(list(run), dtype=object), sizes),
            "doc_id": [d for docs in run.values() for d in docs],
            "score": np.fromiter((x for docs in run.values() for x in docs.values()), float),
        },
        schema=RUN_SCHEMA,
    )


def _top(run: dict[str, dict[str, float]], m: int) -> dict[str, dict[str, float]]:
    """Top m documents per query in trec_eval 9.0.x's order (float32 score desc, doc id
    desc)."""
    out = {}
    for q, docs in run.items():
        ranked = sorted(
            docs.items(), key=lambda kv: (float(np.float32(kv[1])), kv[0]), reverse=True
        )[:m]
        out[q] = dict(ranked)
    return out


VARIANTS = {
    "default": {},
    "c": {"complete": True},
    "l2": {"rel_level": 2},
    "J": {"judged_only": True},
    "M100": {"max_results": 100},
}


def _zero_fill_missing(
    want: np.ndarray, qids: list[str], run: dict[str, dict[str, float]]
) -> np.ndarray:
    """trec_eval 9.0.x ``-c``: a qrels query the run lacks contributes 0 to every measure.

    The empty ranking handed to pytrec_eval gives 0 for all but iprec_at_recall_0.00 (and so
    11pt_avg), where te_calc_iprec_at_recall divides num_rel_ret by num_ret = 0 and returns NaN.
    trec_eval 10.0, which evaluates that empty ranking itself, prints the NaN; 9.0.x does not.
    """
    missing = np.array([q not in run for q in qids])
    return np.where(missing & np.isnan(want), 0.0, want)


def test_real_runs_were_found(shared_data: Path) -> None:
    assert len(CASES) >= 40, CASES


@pytest.mark.parametrize(("qrels_rel", "run_rel"), CASES, ids=[r for _, r in CASES])
def test_agrees_with_pytrec_eval(shared_data: Path, qrels_rel: str, run_rel: str) -> None:
    qrels_path, run_path = shared_data / qrels_rel, shared_data / run_rel
    qrels = _read(qrels_path, "qrels")
    run = _read(run_path, "run")
    table = _table(run)
    evaluators: dict[tuple[int, bool], Any] = {}  # qrels parsed once per option set
    refs: dict[str, dict[str, dict[str, float]]] = {}
    for variant, options in VARIANTS.items():
        params = (options.get("rel_level", 1), options.get("judged_only", False))
        if params not in evaluators:
            evaluators[params] = pytrec_eval.RelevanceEvaluator(
                qrels, PYTREC_MEASURES, relevance_level=params[0], judged_docs_only_flag=params[1]
            )
        evaluator = evaluators[params]
        if options.get("complete"):
            # the runs' queries score as in "default"; only the missing ones are evaluated
            missing = {q: {} for q in qrels if q not in run}
            ref = {**refs["default"], **(evaluator.evaluate(missing) if missing else {})}
        else:
            oracle_run = _top(run, options["max_results"]) if "max_results" in options else run
            ref = evaluator.evaluate(oracle_run)
        refs[variant] = ref
        keys = sorted(next(iter(ref.values())))
        ours = Evaluator(_bound(qrels_path), [_key_to_measure(k) for k in keys], **options)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # missing-query warnings are tested elsewhere
            scores = ours.score(table)
        qids = scores.query_ids.to_pylist()
        expected_q = sorted(q for q in ref if q in qrels)
        assert sorted(qids) == expected_q, (variant, set(qids) ^ set(expected_q))
        by_spec = dict(zip(keys, ours.measures, strict=True))
        for key in keys:
            m = by_spec[key]
            got = scores.values[m]
            want = np.array([ref[q][key] for q in qids])
            if options.get("complete"):
                want = _zero_fill_missing(want, qids, run)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=f"{variant} {key}")


def test_scores_compare_as_float32() -> None:
    """trec_eval 9.0.x ties scores equal in float32 (pytrec_eval too); compat="10" does not."""
    qrels = {"q": {"a": 1}}
    run = {"q": {"a": 1.00000001, "z": 1.0}}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run)
    table = pa.table({"query_id": ["q"], "doc_id": ["a"], "relevance": [1]})
    nine = Evaluator(table, ["RR"]).score(_table(run))
    ten = Evaluator(table, ["RR"], compat="10").score(_table(run))
    assert ref["q"]["recip_rank"] == 0.5  # 1.00000001 == 1.0 in float32: a tie, z ranks first
    assert list(nine.aggregates.values()) == [0.5]
    assert list(ten.aggregates.values()) == [1.0]  # 10.0: a scores higher, RR = 1


def test_robust03_inexpc2_query_330(shared_data: Path) -> None:
    """The issue's reproducer: trec_eval 9.0.8 and 10.0's ndcg on one Robust 2003 query."""
    qrels = shared_data / "robust03-trectools" / "robust03_qrels.txt"
    run = shared_data / "robust03-trectools" / "runs" / "input.InexpC2.gz"
    values = {}
    for compat in ("9", "10"):
        scores = Evaluator(_bound(qrels), ["ndcg"], compat=compat).score(str(run))
        values[compat] = float(scores.values[scores_measure(scores)][_index(scores, "330")])
    assert values["9"] == 0.49929955453567787  # trec_eval 9.0.8
    assert abs(values["10"] - 0.49930168683083093) < 1e-16  # trec_eval 10.0


def scores_measure(scores: Any) -> Any:
    return next(iter(scores.values))


def _index(scores: Any, qid: str) -> int:
    return int(scores.query_ids.to_pylist().index(qid))

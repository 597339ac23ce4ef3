"""Golden tests: trec_eval's own test suite (qrels, results and expected outputs).

The expected outputs in shared/data/trec_eval-tests were produced by trec_eval 10.0 with the
flags listed in shared/data/PROVENANCE.md. Every measure irbench shares with trec_eval is
compared at trec_eval's printed precision (``%6.4f``), per query and for ``all``. The two
measures whose definition changed in 10.0 (iprec_at_recall and 11pt_avg: ``lround`` instead of
``(long)(x + 0.9)``) are checked with ``compat="10"``; the 9.0.x rule is checked against
pytrec_eval in test_oracle_pytrec_eval.py.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import pytest

from irbench.engine import Evaluator, resolve_measures
from irbench.measures import Measure, parse_measures

# trec_eval output names irbench does not implement (documented in README).
UNSUPPORTED = {
    "runid", "G", "binG", "Rndcg", "ndcg_rel", "gm_bpref", "num_nonrel_judged_ret", "set_map",
    "set_relative_P", "utility", "rbp_resid", "Rprec_mult", "relative_P", "unj",
    # trec_eval 10's rbp: p = 0.9 and graded gains rescaled with uninitialised min/max
    # (m_rbp.c); irbench's RBP follows ir_measures (p = 0.8, binary relevance).
    "rbp",
}  # fmt: skip
PLAIN = {
    "num_q", "num_ret", "num_rel", "num_rel_ret", "gm_map", "recip_rank", "set_P",
    "set_recall", "set_F", "11pt_avg", "map", "Rprec", "bpref", "infAP", "ndcg",
}  # fmt: skip


def to_measure(name: str) -> Measure | None:
    """trec_eval output name (``ndcg_cut_10``) -> irbench measure, or None if unsupported."""
    if name in PLAIN:
        return parse_measures(name)[0]
    base, _, param = name.rpartition("_")
    if name.startswith("ndcg_") and "=" in name:
        return parse_measures("ndcg." + name[len("ndcg_") :])[0]
    if not base or base in UNSUPPORTED or base.startswith("11pt_avg"):
        return None
    if base in {"P", "recall", "ndcg_cut", "map_cut", "success", "iprec_at_recall"}:
        return parse_measures(f"{base}.{param}")[0]
    return None


def read_expected(path: Path) -> dict[tuple[str, str], str]:
    out = {}
    for line in path.read_text().splitlines():
        name, qid, value = line.split()
        out[(name, qid)] = value
    return out


CASES = {
    # expected file: (qrels, results, options)
    "out.test": ("qrels.test", "results.test", {}),
    "out.test.a": ("qrels.test", "results.test", {}),
    "out.test.aq": ("qrels.test", "results.test", {}),
    "out.test.aqc": ("qrels.test", "results.trunc", {"complete": True}),
    "out.test.aqcM": ("qrels.test", "results.trunc", {"complete": True, "max_results": 100}),
    "out.test.aql": ("qrels.rel_level", "results.test", {"rel_level": 2}),
    "out.test.meas_params": ("qrels.test", "results.test", {}),
    "out.comment.test": ("qrels.comment.test", "results.comment.test.gz", {}),
}


@pytest.mark.parametrize("expected_file", sorted(CASES))
def test_trec_eval_expected_output(trec_eval_tests: Path, expected_file: str) -> None:
    qrels_name, results_name, options = CASES[expected_file]
    expected = read_expected(trec_eval_tests / expected_file)
    names = sorted({name for name, _ in expected})
    measures = {n: m for n in names if (m := to_measure(n)) is not None}
    assert len(measures) >= min(10, len(names) - 2), "too few measures matched the file"
    rel_level = options.get("rel_level", 1)
    # trec_eval's -l applies to every thresholded measure, as irbench's rel_level does
    measures = {n: resolve_measures([m], rel_level)[0] for n, m in measures.items()}
    ev = Evaluator(
        trec_eval_tests / qrels_name,
        list(dict.fromkeys(measures.values())),
        compat="10",
        **options,
    )
    scores = ev.score(trec_eval_tests / results_name)
    qids = scores.query_ids.to_pylist()
    checked = 0
    mismatches = defaultdict(list)
    for (name, qid), want in expected.items():
        m = measures.get(name)
        if m is None:
            continue
        got = scores.aggregates[m] if qid == "all" else float(scores.values[m][qids.index(qid)])
        if m.name == "GMAP" and qid != "all":
            got = math.exp(got)
        text = f"{got:.4f}" if not want.lstrip("-").isdigit() else str(round(got))
        if text != want:
            mismatches[name].append((qid, want, text))
        checked += 1
    assert not mismatches, dict(mismatches)
    assert checked >= 10

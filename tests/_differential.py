"""Adversarial cases for the differential tests: generators, the pytrec_eval oracle, and the
comparison of irbench's values with it (tests/test_differential.py, tests/test_dask_engine.py).

A *case* is a qrels and a run, both as rows, built to stress what has gone wrong before:

- ids of 1-40 bytes clustered around multiples of 8 (the fingerprint reads 8-byte words), ids
  that prefix each other, multi-byte UTF-8 ids, the same document id under several queries;
- queries only in the qrels, only in the run, without relevant documents, with negative grades,
  with one document and with thousands;
- heavy ties, scores that differ only beyond float32 (trec_eval 9.0.x compares C floats),
  negative and huge scores, written in plain, scientific and ``%E`` notation;
- run lines grouped by query in any query order, sorted or not within a query, or interleaved.

The oracle is pytrec_eval-terrier (trec_eval 9.0.x inside). It has no ``-c`` and no ``-M``:
``-M`` is applied by cutting its run to the top M in 9.0.x's order (float32 score descending,
document id descending), ``-c`` by handing it an empty ranking for each query the run lacks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from hypothesis import strategies as st

from irbench.io.schema import QRELS_SCHEMA, RUN_SCHEMA

#: Examples per hypothesis test: a fixed, seeded budget in `make test`; `make fuzz` raises it.
BUDGET = int(os.environ.get("IRBENCH_FUZZ_EXAMPLES", "120"))
#: `make fuzz` draws new random cases each time; `make test` replays the same ones.
RANDOM = os.environ.get("IRBENCH_FUZZ_RANDOM", "") not in ("", "0")

#: trec_eval measures pytrec_eval computes, with irbench's spelling of each result key.
PYTREC_MEASURES = {
    "map", "gm_map", "ndcg", "ndcg_cut", "recip_rank", "P", "recall", "Rprec", "bpref",
    "infAP", "iprec_at_recall", "11pt_avg", "set_P", "set_recall", "set_F", "num_ret",
    "num_rel", "num_rel_ret", "map_cut", "success",
}  # fmt: skip
_PLAIN_KEYS = {
    "num_rel_ret", "num_ret", "num_rel", "gm_map", "recip_rank", "set_P", "set_recall",
    "set_F", "11pt_avg", "map", "ndcg", "Rprec", "bpref", "infAP",
}  # fmt: skip


def nan_on_empty(key: str) -> bool:
    """Where trec_eval 9.0.x divides 0 by 0 for an empty ranking (num_ret = 0: a query ``-c``
    adds, or one whose retrieved documents ``-J`` removes all of) and irbench gives 0."""
    return key.startswith("iprec_at_recall_") or key == "11pt_avg"


FLAG_SETS: dict[str, dict[str, Any]] = {
    "none": {},
    "c": {"complete": True},
    "l2": {"rel_level": 2},
    "J": {"judged_only": True},
    "M5": {"max_results": 5},
}


def key_to_measure(key: str) -> str:
    """pytrec_eval result key -> trec_eval measure irbench parses (``P_10`` -> ``P.10``)."""
    if key in _PLAIN_KEYS:
        return key
    base, _, param = key.rpartition("_")
    return f"{base}.{param}"


# ----------------------------------------------------------------------------------- cases


@dataclass
class Case:
    """One qrels and one run; ``run`` rows are in file order, scores with their text."""

    qrels: list[tuple[str, str, int]]
    run: list[tuple[str, str, float, str]]  # query, doc, score, the score as written
    notes: list[str] = field(default_factory=list)

    def qrels_table(self) -> pa.Table:
        cols = list(zip(*self.qrels, strict=True))
        return pa.table([list(c) for c in cols], schema=QRELS_SCHEMA)

    def run_table(self) -> pa.Table:
        q, d, s, _ = zip(*self.run, strict=True)
        return pa.table([list(q), list(d), list(s)], schema=RUN_SCHEMA)

    def qrels_dict(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for q, d, g in self.qrels:
            out.setdefault(q, {})[d] = g
        return out

    def run_dict(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for q, d, s, _ in self.run:
            out.setdefault(q, {})[d] = s
        return out

    def qrels_text(self) -> str:
        return "".join(f"{q} 0 {d} {g}\n" for q, d, g in self.qrels)

    def run_text(self, *, grouped: bool = False) -> str:
        rows = self.run
        if grouped:  # stable: each query's lines together, in the order they come
            first: dict[str, int] = {}
            for i, r in enumerate(rows):
                first.setdefault(r[0], i)
            rows = sorted(rows, key=lambda r: first[r[0]])
        return "".join(f"{q} Q0 {d} {i + 1} {t} tag\n" for i, (q, d, _, t) in enumerate(rows))


_ID_CHARS = st.sampled_from([*"abcxyz0189_-.:/", "é", "日", "ß", "Z"])
#: Byte lengths around the 8-byte words the fingerprint reads.
_LENGTHS = st.one_of(
    st.sampled_from([1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 32, 33, 40]), st.integers(1, 40)
)


@st.composite
def _id(draw: st.DrawFn, pool: list[str]) -> str:
    """A new id: fresh, or an existing one extended or cut (ids that prefix each other)."""
    kind = draw(st.sampled_from(["fresh", "fresh", "extend", "cut"])) if pool else "fresh"
    if kind == "fresh":
        n = draw(_LENGTHS)
        text = "".join(draw(st.lists(_ID_CHARS, min_size=n, max_size=n)))
    else:
        base = draw(st.sampled_from(pool))
        if kind == "extend" or len(base) < 2:
            text = base + "".join(draw(st.lists(_ID_CHARS, min_size=1, max_size=9)))
        else:
            text = base[: draw(st.integers(1, len(base) - 1))]
    while len(text.encode()) > 40:
        text = text[:-1]
    return text


def _unique(draw: st.DrawFn, n: int, pool: list[str], taken: set[str]) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        new = draw(_id(pool))
        if new in taken:
            new = f"{new}{len(taken)}"[-40:]
        if new in taken:
            continue
        taken.add(new)
        pool.append(new)
        out.append(new)
    return out


_FORMATS = ["{!r}", "{:.6e}", "{:.3E}", "{:.9g}", "{!r}"]


def _scores(draw: st.DrawFn, n: int) -> list[float]:
    mode = draw(st.sampled_from(["ties", "close", "random", "huge"]))
    if mode == "ties":
        return [float(draw(st.integers(-1, 2))) for _ in range(n)]
    if mode == "close":  # equal as float32, different as doubles (or exactly equal)
        base = draw(st.sampled_from([1.0, 13.2854, 44.66467650232517, -0.3, 1e-3]))
        eps = draw(st.sampled_from([1e-12, 1e-9, 3e-8, 1e-7]))
        return [base * (1 + eps * draw(st.integers(0, 4))) for _ in range(n)]
    if mode == "huge":
        return [draw(st.sampled_from([1e30, -1e30, 1e-30, 3.4e38, 0.0, -0.0])) for _ in range(n)]
    return [draw(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)) for _ in range(n)]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """An adversarial case (see the module docstring)."""
    pool: list[str] = []
    queries = _unique(draw, draw(st.integers(1, 6)), pool, set())
    qrels: list[tuple[str, str, int]] = []
    run: list[tuple[str, str, float, str]] = []
    notes = []
    doc_pool: list[str] = []
    for q in queries:
        role = draw(st.sampled_from(["both", "both", "both", "qrels", "run"]))
        big = draw(st.integers(0, 19)) == 19  # sometimes a query with thousands of documents
        if big:
            stem = draw(_id([]))[:8]
            docs = [f"{stem}{i}" for i in range(draw(st.integers(1000, 2500)))]
            notes.append(f"{q!r}: {len(docs)} documents")
        else:
            taken: set[str] = set()
            # ids shared by queries (the pool may hold an id twice: two queries drew it)
            reuse = [d for d in dict.fromkeys(doc_pool) if draw(st.booleans())][:4]
            taken.update(reuse)
            docs = reuse + _unique(draw, draw(st.integers(1, 14)), doc_pool, taken)
        if role in ("both", "qrels"):
            grades = st.sampled_from([-1, 0, 0, 1, 1, 2, 3])
            judged = [(q, d, draw(grades)) for d in docs if draw(st.integers(0, 2)) > 0 or big]
            if big:
                judged = judged[:: draw(st.integers(3, 50))]
            if not any(g >= 0 for _, _, g in judged):  # all-negative: a documented difference
                judged.append((q, docs[0] + "j" if (q, docs[0], -1) in judged else docs[0], 0))
                judged = list({(a, b): (a, b, c) for a, b, c in judged}.values())
            qrels.extend(judged)
        if role in ("both", "run"):
            retrieved = [d for d in docs if draw(st.integers(0, 3)) > 0] or docs[:1]
            if big:
                retrieved = docs
            scores = _scores(draw, len(retrieved))
            fmt = draw(st.sampled_from(_FORMATS))
            for d, s in zip(retrieved, scores, strict=True):
                text = fmt.format(s)
                run.append((q, d, float(text), text))
    if not qrels:
        qrels.append((queries[0], "only", 1))
    if not run:
        run.append((queries[0], "lonely", 1.0, "1.0"))
    order = draw(st.sampled_from(["as-made", "sorted", "shuffled", "queries-reversed"]))
    if order == "sorted":  # as rankers write: score descending within each query
        run.sort(key=lambda r: (queries.index(r[0]), -r[2]))
    elif order == "shuffled":
        perm = draw(st.permutations(range(len(run))))
        run = [run[i] for i in perm]
    elif order == "queries-reversed":
        run.sort(key=lambda r: -queries.index(r[0]))
    notes.append(f"run order {order}")
    return Case(qrels=qrels, run=run, notes=notes)


# ---------------------------------------------------------------------------------- oracle


def _top(run: dict[str, dict[str, float]], m: int) -> dict[str, dict[str, float]]:
    """Top m documents per query in trec_eval 9.0.x's order (float32 score, then doc id, both
    descending; ids compared as bytes)."""
    out = {}
    for q, docs in run.items():
        ranked = sorted(
            docs.items(),
            key=lambda kv: (float(np.float32(kv[1])), kv[0].encode()),
            reverse=True,
        )
        out[q] = dict(ranked[:m])
    return out


def oracle(case: Case, flags: dict[str, Any]) -> dict[str, dict[str, float]]:
    """pytrec_eval's per-query values, ``{query: {key: value}}``, under trec_eval flags."""
    import pytrec_eval

    qrels, run = case.qrels_dict(), case.run_dict()
    evaluator = pytrec_eval.RelevanceEvaluator(
        qrels,
        PYTREC_MEASURES,
        relevance_level=flags.get("rel_level", 1),
        judged_docs_only_flag=flags.get("judged_only", False),
    )
    if "max_results" in flags:
        run = _top(run, flags["max_results"])
    ref = dict(evaluator.evaluate(run))
    if flags.get("complete"):
        missing = {q: {} for q in qrels if q not in run}
        if missing:
            ref.update(evaluator.evaluate(missing))
    return {q: v for q, v in ref.items() if q in qrels}


def mismatches(case: Case, flags: dict[str, Any], *, tol: float = 1e-9) -> list[str]:
    """Every way irbench's values differ from the oracle's (per query and aggregate)."""
    import warnings

    from irbench.engine import Evaluator

    ref = oracle(case, flags)
    keys = sorted(next(iter(ref.values()))) if ref else ["map"]
    ev = Evaluator(case.qrels_table(), [key_to_measure(k) for k in keys], **flags)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = ev.score(case.run_table())
    qids = scores.query_ids.to_pylist()
    problems = []
    if sorted(qids) != sorted(ref):
        problems.append(f"queries: irbench {sorted(qids)} oracle {sorted(ref)}")
        return problems
    for key, m in zip(keys, ev.measures, strict=True):
        got = scores.values[m]
        want = np.array([ref[q][key] for q in qids], dtype=np.float64)
        empty = scores.values[_num_ret(ev)] == 0 if nan_on_empty(key) else None
        if empty is not None:  # 9.0.x's 0/0 on an empty ranking: irbench gives 0 (README)
            nan = np.isnan(want)
            if (nan & ~empty).any() or (got[nan] != 0).any():
                problems.append(f"{key}: NaN where the ranking is not empty, or not 0")
            want = np.where(nan, 0.0, want)
        bad = np.flatnonzero(~np.isclose(got, want, rtol=0, atol=tol))
        for i in bad[:3]:
            problems.append(f"{key} query {qids[i]!r}: irbench {got[i]!r} oracle {want[i]!r}")
        agg = _aggregate(key, want, case, flags)
        mine = scores.aggregates[m]
        both_nan = math.isnan(mine) and math.isnan(agg)  # no query evaluated: nan in both
        if not both_nan and not math.isclose(mine, agg, rel_tol=1e-12, abs_tol=tol):
            problems.append(f"{key} aggregate: irbench {mine!r} oracle {agg!r}")
    return problems


def _num_ret(ev: Any) -> Any:
    return next(m for m in ev.measures if m.name == "NumRet" and m["rel"] is None)


def _aggregate(key: str, per_query: np.ndarray, case: Case, flags: dict[str, Any]) -> float:
    """trec_eval's aggregate of per-query values: sums for num_*, exp(mean) for gm_map, with
    ``-c`` num_rel counting every grade > 0 of the qrels (m_num_rel.c), else the mean."""
    if key == "num_rel" and flags.get("complete"):
        return float(sum(1 for _, _, g in case.qrels if g > 0))
    if key.startswith("num_"):
        return float(per_query.sum())
    if per_query.size == 0:
        return math.nan
    if key == "gm_map":
        return float(np.exp(per_query.mean()))
    return float(per_query.mean())

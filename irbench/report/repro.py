"""Reproducibility measures (Breuer et al., "How to Measure the Reproducibility of
System-oriented IR Experiments", SIGIR 2020), with the definitions of their ``repro_eval``
package (0.5).

Rankings are trec_eval's: score descending, ties by document id descending (what
``repro_eval.util.break_ties`` does). Per query, between an original run and its reproduction:

- **KTU@k** (Kendall's tau Union): the top *k* of each run; every document is replaced by its
  position in the sorted union of both lists, and Kendall's tau is taken between the two
  position sequences, rank by rank (``repro_eval.measure.document_order._KTU``). The documents
  of one list are distinct, so tau-b equals tau-a: (concordant - discordant) / (n(n-1)/2).
  Where the two lists differ in length (repro_eval raises) both are cut to the shorter.
  Fewer than two documents: NaN, left out of the mean.
- **RBO@d** (rank-biased overlap as repro_eval 0.5 computes it, after Clarke et al.'s
  Compatibility code): ``sum_{t=1..d} p^(t-1) |O_t ∩ R_t| / t`` divided by
  ``sum_{t=1..d} p^(t-1)``, with ``O_t``, ``R_t`` the top *t* of each run (a list shorter
  than *t* adds nothing more). This normalised, truncated form is what repro_eval reports;
  it does not extrapolate beyond *d* (Webber et al.'s RBO_EXT). Defaults p = 0.95, d = 1000.

Per measure, over queries (``repro_eval.measure.effectiveness`` / ``overall_effects``):

- **RMSE** = sqrt(mean over queries of (original - reproduced)^2).
- **ER** (effect ratio) = mean per-query improvement of the reproduced advanced run over the
  reproduced baseline / the same for the original runs.
- **DeltaRI** = RI(original) - RI(reproduced), with RI = (mean(advanced) - mean(baseline)) /
  mean(baseline).

System orderings under two qrels: :mod:`irbench.report.qrels_agreement`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irbench._arrow import to_numpy
from irbench.errors import ComparabilityError, InputFormatError, IrbenchWarning
from irbench.report.qrels_agreement import QrelsAgreement, qrels_agreement, tau_ap

__all__ = [
    "QrelsAgreement",
    "ReproResult",
    "delta_ri",
    "effect_ratio",
    "ktu",
    "qrels_agreement",
    "rbo",
    "reproduce",
    "rmse",
    "tau_ap",
]

RBO_P = 0.95
RBO_DEPTH = 1000
_BLOCK_CELLS = 1 << 22  # cells of one KTU comparison block (queries x k x k)


# ------------------------------------------------------------------------ document orderings


@dataclass
class _Pair:
    """Two runs in trec_eval order over the reproduced run's queries, docs as sortable codes."""

    query_ids: list[str]
    o_q: np.ndarray  # query position of every row of the original (rank order per query)
    o_rank: np.ndarray  # 1-based rank
    o_code: np.ndarray  # doc code: codes sort like the doc ids (byte order)
    r_q: np.ndarray
    r_rank: np.ndarray
    r_code: np.ndarray


def _table(run: Any) -> pa.Table:
    if isinstance(run, pa.Table):
        return run.select(["query_id", "doc_id", "score"])
    from irbench.io import read_run

    return read_run(run).select(["query_id", "doc_id", "score"])


def _pair(original: Any, reproduced: Any, depth: int) -> _Pair:
    from irbench.rankers.fusion import trec_ranks

    if depth < 1:
        raise InputFormatError(f"a cutoff must be at least 1, got {depth}")
    o_sorted, o_ranks, _ = trec_ranks(_table(original))
    r_sorted, r_ranks, _ = trec_ranks(_table(reproduced))
    o_sorted = o_sorted.filter(pa.array(o_ranks <= depth))
    r_sorted = r_sorted.filter(pa.array(r_ranks <= depth))
    o_ranks, r_ranks = o_ranks[o_ranks <= depth], r_ranks[r_ranks <= depth]
    queries = pc.unique(r_sorted.column("query_id").combine_chunks())
    known = pc.is_in(queries, value_set=o_sorted.column("query_id").combine_chunks())
    if not pc.all(known).as_py() and len(queries):
        missing = queries.filter(pc.invert(known)).to_pylist()
        raise ComparabilityError(
            f"{len(missing)} queries of the reproduced run are not in the original (for example "
            f"{missing[0]!r}); compare runs of the same topics"
        )
    o_in = to_numpy(pc.is_in(o_sorted.column("query_id"), value_set=queries)).astype(bool)
    extra = len(pc.unique(o_sorted.column("query_id"))) - len(queries)
    if extra > 0:
        warnings.warn(
            f"{extra} queries of the original run are not in the reproduction; "
            "KTU and RBO cover the reproduced run's queries (as repro_eval does)",
            IrbenchWarning,
            stacklevel=3,
        )
    o_sorted = o_sorted.filter(pa.array(o_in))
    o_ranks = o_ranks[o_in]
    docs = pa.concat_arrays(
        [o_sorted.column("doc_id").combine_chunks(), r_sorted.column("doc_id").combine_chunks()]
    ).cast(pa.string())
    vocab = pc.unique(docs)
    vocab = vocab.take(pc.sort_indices(vocab))
    codes = to_numpy(pc.index_in(docs, value_set=vocab)).astype(np.int64)
    n_o = o_sorted.num_rows
    return _Pair(
        [str(q) for q in queries.to_pylist()],
        to_numpy(pc.index_in(o_sorted.column("query_id"), value_set=queries)).astype(np.int64),
        o_ranks.astype(np.int64),
        codes[:n_o],
        to_numpy(pc.index_in(r_sorted.column("query_id"), value_set=queries)).astype(np.int64),
        r_ranks.astype(np.int64),
        codes[n_o:],
    )


def ktu(original: Any, reproduced: Any, k: int = 1000) -> dict[str, float]:
    """Kendall's tau Union at cutoff *k* per query of *reproduced* (see the module docstring).

    Vectorised: the two top-*k* lists become ``queries x k`` code matrices, compared in blocks
    of queries with one broadcast sign product (no loop over queries inside a block).
    """
    p = _pair(original, reproduced, k)
    nq = len(p.query_ids)
    xs = np.full((nq, k), -1, dtype=np.int64)
    ys = np.full((nq, k), -1, dtype=np.int64)
    xs[p.o_q, p.o_rank - 1] = p.o_code
    ys[p.r_q, p.r_rank - 1] = p.r_code
    n = np.minimum(np.bincount(p.o_q, minlength=nq), np.bincount(p.r_q, minlength=nq)).astype(
        np.int64
    )
    width = int(n.max()) if nq else 0
    tau = np.full(nq, np.nan)
    if width < 2:
        return dict(zip(p.query_ids, tau.tolist(), strict=True))
    xs, ys = xs[:, :width], ys[:, :width]
    upper = np.triu(np.ones((width, width), dtype=bool), 1)
    block = max(1, _BLOCK_CELLS // (width * width))
    for lo in range(0, nq, block):
        hi = min(lo + block, nq)
        x, y = xs[lo:hi], ys[lo:hi]
        valid = np.arange(width)[None, :] < n[lo:hi, None]
        both = valid[:, :, None] & valid[:, None, :] & upper[None]
        sx = np.sign(x[:, :, None] - x[:, None, :])
        sy = np.sign(y[:, :, None] - y[:, None, :])
        s = np.where(both, sx * sy, 0).sum(axis=(1, 2))
        pairs = n[lo:hi] * (n[lo:hi] - 1) / 2
        with np.errstate(invalid="ignore", divide="ignore"):
            tau[lo:hi] = np.where(pairs > 0, s / np.maximum(pairs, 1), np.nan)
    return dict(zip(p.query_ids, tau.tolist(), strict=True))


def rbo(
    original: Any, reproduced: Any, p: float = RBO_P, depth: int = RBO_DEPTH
) -> dict[str, float]:
    """Rank-biased overlap at *depth* per query of *reproduced* (repro_eval 0.5's ``_rbo``).

    Vectorised: a document in both top-*depth* lists, at ranks ``a`` and ``b``, adds
    ``sum_{t=max(a,b)..depth} p^(t-1)/t`` to its query (one ``bincount``).
    """
    if not 0 < p < 1:
        raise InputFormatError(f"RBO's p must be between 0 and 1 (exclusive), got {p}")
    pr = _pair(original, reproduced, depth)
    nq = len(pr.query_ids)
    t = np.arange(1, depth + 1, dtype=np.float64)
    weights = p ** (t - 1)
    suffix = np.cumsum((weights / t)[::-1])[::-1]  # suffix[m-1] = sum_{t>=m} p^(t-1)/t
    width = int(max(pr.o_code.max(initial=-1), pr.r_code.max(initial=-1))) + 1
    o_key = pr.o_q * width + pr.o_code
    r_key = pr.r_q * width + pr.r_code
    _, io, ir = np.intersect1d(o_key, r_key, assume_unique=True, return_indices=True)
    deepest = np.maximum(pr.o_rank[io], pr.r_rank[ir])
    score = np.bincount(pr.o_q[io], weights=suffix[deepest - 1], minlength=nq)
    values = score / weights.sum()
    return dict(zip(pr.query_ids, values.tolist(), strict=True))


# --------------------------------------------------------------------------- effectiveness


def _aligned(a: dict[str, float], b: dict[str, float], what: str) -> tuple[np.ndarray, np.ndarray]:
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))
        raise ComparabilityError(
            f"{what}: the runs were scored on different queries ({len(only)} differ, for "
            f"example {only[0]!r}); score missing queries as 0 with complete=True (-c)"
        )
    keys = list(a)
    return np.array([a[q] for q in keys], dtype=np.float64), np.array(
        [b[q] for q in keys], dtype=np.float64
    )


def rmse(original: dict[str, float], reproduced: dict[str, float]) -> float:
    """Root mean square error of per-query values (same queries in both)."""
    o, r = _aligned(original, reproduced, "RMSE")
    return float(np.sqrt(np.mean((o - r) ** 2))) if o.size else math.nan


def _mean_improvement(advanced: dict[str, float], baseline: dict[str, float], what: str) -> float:
    a, b = _aligned(advanced, baseline, what)
    return float(np.mean(a - b)) if a.size else math.nan


def _ratio(x: float, y: float) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(x) / np.float64(y))


def effect_ratio(
    original_advanced: dict[str, float],
    original_baseline: dict[str, float],
    reproduced_advanced: dict[str, float],
    reproduced_baseline: dict[str, float],
) -> float:
    """ER: mean improvement reproduced / mean improvement original (inf or NaN for none)."""
    rep = _mean_improvement(reproduced_advanced, reproduced_baseline, "ER (reproduced)")
    orig = _mean_improvement(original_advanced, original_baseline, "ER (original)")
    return _ratio(rep, orig)


def delta_ri(
    original_advanced: dict[str, float],
    original_baseline: dict[str, float],
    reproduced_advanced: dict[str, float],
    reproduced_baseline: dict[str, float],
) -> float:
    """DeltaRI: relative improvement of the original minus that of the reproduction."""

    def ri(a: dict[str, float], b: dict[str, float]) -> float:
        mean_a = float(np.mean(list(a.values()))) if a else math.nan
        mean_b = float(np.mean(list(b.values()))) if b else math.nan
        return _ratio(mean_a - mean_b, mean_b)

    return ri(original_advanced, original_baseline) - ri(reproduced_advanced, reproduced_baseline)


# ------------------------------------------------------------------------------- the report


@dataclass
class ReproResult:
    """What :func:`reproduce` computes.

    ``summary``: a DataFrame with columns ``statistic`` (KTU, RBO, RMSE, ER, DeltaRI, mean),
    ``run`` (advanced, baseline or ``""`` for the pair), ``measure`` (``KTU@10``,
    ``RBO@1000(p=0.95)``, or the effectiveness measure), ``original``, ``reproduced`` (the mean
    values for ``mean`` rows), ``value`` and ``n_queries``. ``per_query``: ``run``,
    ``measure``, ``query_id``, ``value`` for KTU, RBO and each measure's per-query difference
    original - reproduced.
    """

    summary: Any
    per_query: Any

    def to_json(self) -> dict[str, Any]:
        def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [
                {
                    k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                    for k, v in r.items()
                }
                for r in rows
            ]

        return {
            "summary": clean(self.summary.to_dict(orient="records")),
            "per_query": clean(self.per_query.to_dict(orient="records")),
        }


SUMMARY_COLUMNS = ("statistic", "run", "measure", "original", "reproduced", "value", "n_queries")


def reproduce(
    qrels: Any,
    original: Any,
    reproduced: Any,
    *,
    baseline_original: Any = None,
    baseline_reproduced: Any = None,
    measures: Sequence[Any] = ("nDCG@10",),
    cutoffs: Sequence[int] = (10, 100, 1000),
    rbo_p: float = RBO_P,
    complete: bool = False,
) -> ReproResult:
    """Everything repro_eval reports for one reproduction, as tables.

    *original* and *reproduced* are the advanced system's runs (files or run tables). With
    *baseline_original* and *baseline_reproduced* the same is done for the baseline, and ER
    and DeltaRI compare the two improvements. KTU and RBO are taken at each of *cutoffs* (RBO
    with depth = cutoff and *rbo_p*); RMSE per measure. ``complete`` scores queries missing
    from a run as 0 (trec_eval -c); without it both runs must be scored on the same queries.
    """
    import pandas as pd

    from irbench.engine import Evaluator

    if (baseline_original is None) != (baseline_reproduced is None):
        raise InputFormatError(
            "give both baseline runs (original and reproduced) or neither: ER and DeltaRI "
            "compare the original improvement with the reproduced one"
        )
    pairs = {"advanced": (original, reproduced)}
    if baseline_original is not None:
        pairs["baseline"] = (baseline_original, baseline_reproduced)
    ev = Evaluator(qrels, list(measures), complete=complete)
    tables = {name: (_table(o), _table(r)) for name, (o, r) in pairs.items()}
    scores: dict[tuple[str, str], dict[Any, dict[str, float]]] = {}
    for name, (o, r) in tables.items():
        for side, t in (("original", o), ("reproduced", r)):
            sc = ev.score(t, name=f"{name}-{side}")
            qids = [str(q) for q in sc.query_ids.to_pylist()]
            scores[(name, side)] = {
                m: dict(zip(qids, sc.values[m].tolist(), strict=True)) for m in ev.measures
            }
    summary: list[dict[str, Any]] = []
    per_query: list[dict[str, Any]] = []
    nan = math.nan
    for name, (o, r) in tables.items():
        for k in cutoffs:
            for label, values in (
                (f"KTU@{k}", ktu(o, r, k)),
                (f"RBO@{k}(p={rbo_p:g})", rbo(o, r, rbo_p, k)),
            ):
                arr = np.array(list(values.values()), dtype=np.float64)
                finite = arr[~np.isnan(arr)]
                summary.append(
                    {
                        "statistic": label.split("@")[0],
                        "run": name,
                        "measure": label,
                        "original": nan,
                        "reproduced": nan,
                        "value": float(finite.mean()) if finite.size else nan,
                        "n_queries": int(finite.size),
                    }
                )
                per_query += [
                    {"run": name, "measure": label, "query_id": q, "value": v}
                    for q, v in values.items()
                ]
        for m in ev.measures:
            orig, rep = scores[(name, "original")][m], scores[(name, "reproduced")][m]
            summary.append(
                {
                    "statistic": "mean",
                    "run": name,
                    "measure": str(m),
                    "original": float(np.mean(list(orig.values()))) if orig else nan,
                    "reproduced": float(np.mean(list(rep.values()))) if rep else nan,
                    "value": nan,
                    "n_queries": len(orig),
                }
            )
            summary.append(
                {
                    "statistic": "RMSE",
                    "run": name,
                    "measure": str(m),
                    "original": nan,
                    "reproduced": nan,
                    "value": rmse(orig, rep),
                    "n_queries": len(orig),
                }
            )
            o_arr, r_arr = _aligned(orig, rep, "RMSE")
            per_query += [
                {"run": name, "measure": f"delta {m}", "query_id": q, "value": float(d)}
                for q, d in zip(orig, o_arr - r_arr, strict=True)
            ]
    if "baseline" in tables:
        for m in ev.measures:
            args = (
                scores[("advanced", "original")][m],
                scores[("baseline", "original")][m],
                scores[("advanced", "reproduced")][m],
                scores[("baseline", "reproduced")][m],
            )
            for stat, value in (("ER", effect_ratio(*args)), ("DeltaRI", delta_ri(*args))):
                summary.append(
                    {
                        "statistic": stat,
                        "run": "",
                        "measure": str(m),
                        "original": nan,
                        "reproduced": nan,
                        "value": value,
                        "n_queries": len(args[0]),
                    }
                )
    return ReproResult(
        pd.DataFrame(summary, columns=list(SUMMARY_COLUMNS)),
        pd.DataFrame(per_query, columns=["run", "measure", "query_id", "value"]),
    )

"""Rank correlation of system orderings under two qrels (e.g. human and LLM judgments).

System orderings under two qrels (e.g. human and LLM judgments): Kendall's tau-b
(:func:`scipy.stats.kendalltau`) of the runs' mean scores, and tau-AP (Yilmaz, Aslam &
Robertson, SIGIR 2008), which weighs swaps near the top more: with the systems in the order of
qrels B, ``tau_AP = 2/(N-1) * sum_{i=2..N} C(i)/(i-1) - 1`` where ``C(i)`` counts the systems
above position *i* that qrels A (the reference) also ranks above it. tau-AP is not symmetric;
the symmetric variant is the mean of both directions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from irbench.errors import InputFormatError

__all__ = ["QrelsAgreement", "qrels_agreement", "tau_ap"]

_COLUMNS = ["query_id", "doc_id", "score"]


def tau_ap(reference: npt.ArrayLike, estimate: npt.ArrayLike) -> float:
    """tau-AP of the ordering by *estimate* against the ordering by *reference* (Yilmaz,
    Aslam & Robertson 2008, eq. 3); higher values = better. Ties in either are broken by
    position in the input (stable), so give distinct values for a meaningful number."""
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    n = ref.size
    if est.size != n:
        raise InputFormatError(f"tau-AP needs as many values in both lists ({n} != {est.size})")
    if n < 2:
        return math.nan
    ref_rank = np.empty(n, dtype=np.int64)
    ref_rank[np.argsort(-ref, kind="stable")] = np.arange(n)
    order = np.argsort(-est, kind="stable")  # the estimated list, best first
    r = ref_rank[order]
    above = r[None, :] < r[:, None]  # [i, j]: j ranked above i by the reference
    earlier = np.tril(np.ones((n, n), dtype=bool), -1)  # j before i in the estimated list
    correct = (above & earlier).sum(axis=1)[1:]
    return float(2.0 / (n - 1) * np.sum(correct / np.arange(1, n)) - 1.0)


@dataclass
class QrelsAgreement:
    """System orderings under two qrels: ``systems`` (a DataFrame of run, score_a, score_b,
    rank_a, rank_b) and the correlations."""

    measure: str
    systems: Any
    kendall_tau: float
    kendall_p: float
    tau_ap_b_vs_a: float
    tau_ap_a_vs_b: float

    @property
    def tau_ap_symmetric(self) -> float:
        return (self.tau_ap_b_vs_a + self.tau_ap_a_vs_b) / 2

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "systems": len(self.systems),
            "kendall_tau": self.kendall_tau,
            "kendall_p": self.kendall_p,
            "tau_ap_b_vs_a": self.tau_ap_b_vs_a,
            "tau_ap_a_vs_b": self.tau_ap_a_vs_b,
            "tau_ap_symmetric": self.tau_ap_symmetric,
        }


def qrels_agreement(
    qrels_a: Any,
    qrels_b: Any,
    runs: Sequence[Any],
    measure: Any = "nDCG@10",
    *,
    names: Sequence[str] | None = None,
    complete: bool = False,
) -> QrelsAgreement:
    """How far qrels B (e.g. LLM judgments) order *runs* like qrels A (the reference).

    Each run is scored with *measure* under both qrels; the systems' mean values are
    correlated with Kendall's tau-b and tau-AP (B's order against A's, and the reverse).
    """
    import pandas as pd
    from scipy.stats import kendalltau

    from irbench.engine import Evaluator
    from irbench.engine.naming import named_runs
    from irbench.io import read_run

    if len(runs) < 2:
        raise InputFormatError("rank correlation needs at least two runs")
    tables = [(r if isinstance(r, pa.Table) else read_run(r)).select(_COLUMNS) for r in runs]
    _, names = named_runs(list(runs), names)
    ev_a = Evaluator(qrels_a, [measure], complete=complete)
    ev_b = Evaluator(qrels_b, [measure], complete=complete)
    m_a, m_b = ev_a.measures[0], ev_b.measures[0]
    a = np.array([ev_a.score(t).aggregates[m_a] for t in tables])
    b = np.array([ev_b.score(t).aggregates[m_b] for t in tables])
    res = kendalltau(a, b)
    rank_a = np.empty(len(a), dtype=np.int64)
    rank_a[np.argsort(-a, kind="stable")] = np.arange(1, len(a) + 1)
    rank_b = np.empty(len(b), dtype=np.int64)
    rank_b[np.argsort(-b, kind="stable")] = np.arange(1, len(b) + 1)
    systems = pd.DataFrame(
        {"run": list(names), "score_a": a, "score_b": b, "rank_a": rank_a, "rank_b": rank_b}
    ).sort_values("rank_a", kind="stable")
    return QrelsAgreement(
        str(m_a),
        systems.reset_index(drop=True),
        float(res.statistic),
        float(res.pvalue),
        tau_ap(a, b),
        tau_ap(b, a),
    )

"""Measure kernels: every measure as array operations over per-query segments.

Each kernel returns one float64 value per qrels query (size ``nq``); queries absent from the
run get the value of an empty ranking, which is what trec_eval ``-c`` averages in. Formulas and
their sources are in :mod:`irbench.measures.catalog`; comments below point at the trec_eval
9.0.x file each kernel mirrors, including its floating-point evaluation order where it matters.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from irbench.engine.qrels import NONPOOL, UNJUDGED, BoundQrels
from irbench.engine.ranking import Ranking
from irbench.engine.segments import (
    BoolArray,
    FloatArray,
    IntArray,
    cumcount,
    first_in_segment,
    per_query_sum,
    segment_suffix_max,
)
from irbench.measures.spec import Measure

INFAP_EPSILON = 0.00001  # trec_eval trec_eval.h
GMAP_FLOOR = 0.00001  # trec_eval m_gm_map.c (MIN_GEO_MEAN)
IPREC_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _safe_div(num: FloatArray, den: np.ndarray) -> FloatArray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


class Context:
    """A ranking plus the qrels, with intermediate arrays cached across measures."""

    def __init__(self, ranking: Ranking, qrels: BoundQrels, compat: str = "9") -> None:
        self.compat = compat
        self.ranking = ranking
        self.qrels = qrels
        self.num_queries = qrels.num_queries
        self._cache: dict[object, object] = {}

    def _cached(self, key: object, make: Callable[[], object]) -> object:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def relmask(self, rel: int) -> BoolArray:
        return self._cached(("rel", rel), lambda: self.ranking.grade >= rel)  # type: ignore[return-value]

    def cumrel(self, rel: int) -> IntArray:
        return self._cached(  # type: ignore[return-value]
            ("cumrel", rel),
            lambda: cumcount(self.relmask(rel), self.ranking.qpos, self.num_queries),
        )

    def num_ret(self) -> FloatArray:
        return self._cached("num_ret", lambda: self.ranking.num_ret.astype(np.float64))  # type: ignore[return-value]

    def num_rel_ret(self, rel: int) -> FloatArray:
        return self._cached(  # type: ignore[return-value]
            ("nrr", rel),
            lambda: per_query_sum(self.ranking.qpos, self.num_queries, self.relmask(rel)),
        )

    def within(self, cutoff: float | None) -> BoolArray | None:
        if cutoff is None:
            return None
        return self._cached(("cut", cutoff), lambda: self.ranking.rank <= cutoff)  # type: ignore[return-value]

    def rel_within(self, rel: int, cutoff: float | None) -> BoolArray:
        cut = self.within(cutoff)
        mask = self.relmask(rel)
        return mask if cut is None else mask & cut

    def num_rel(self, rel: int) -> FloatArray:
        return self.qrels.num_rel(rel).astype(np.float64)


# --------------------------------------------------------------------------- kernels


def precision(ctx: Context, m: Measure) -> FloatArray:
    """P@k (m_P.c): relevant in top k / k."""
    k = int(m.cutoff)  # type: ignore[arg-type]
    hits = per_query_sum(ctx.ranking.qpos, ctx.num_queries, ctx.rel_within(m["rel"], k))
    return hits / float(k)


def recall(ctx: Context, m: Measure) -> FloatArray:
    """R@k (m_recall.c): relevant in top k / R."""
    hits = per_query_sum(ctx.ranking.qpos, ctx.num_queries, ctx.rel_within(m["rel"], m.cutoff))
    return _safe_div(hits, ctx.num_rel(m["rel"]))


def success(ctx: Context, m: Measure) -> FloatArray:
    """Success@k (m_success.c): 1 if a relevant document is in the top k."""
    hits = per_query_sum(ctx.ranking.qpos, ctx.num_queries, ctx.rel_within(m["rel"], m.cutoff))
    return (hits > 0).astype(np.float64)


def reciprocal_rank(ctx: Context, m: Measure) -> FloatArray:
    """RR (m_recip_rank.c): 1 / rank of the first relevant document (within k)."""
    rows = np.flatnonzero(ctx.rel_within(m["rel"], m.cutoff))
    out = np.zeros(ctx.num_queries)
    qr = ctx.ranking.qpos[rows]
    first = first_in_segment(qr)
    out[qr[first]] = 1.0 / ctx.ranking.rank[rows[first]]
    return out


def average_precision(ctx: Context, m: Measure) -> FloatArray:
    """AP / AP@k (m_map.c, m_map_cut.c): sum of precision at relevant ranks / R."""
    rel = m["rel"]
    rows = np.flatnonzero(ctx.rel_within(rel, m.cutoff))
    prec = ctx.cumrel(rel)[rows] / ctx.ranking.rank[rows]
    total = np.bincount(ctx.ranking.qpos[rows], weights=prec, minlength=ctx.num_queries)
    return _safe_div(total, ctx.num_rel(rel))


def gmap(ctx: Context, m: Measure) -> FloatArray:
    """GMAP per query (m_gm_map.c): log(max(AP, 1e-5)); aggregated by exp(mean)."""
    ap = average_precision(ctx, Measure("AP", None, m.params))
    return np.log(np.maximum(ap, GMAP_FLOOR))


def r_precision(ctx: Context, m: Measure) -> FloatArray:
    """Rprec (m_Rprec.c): relevant in the top R / R."""
    rel = m["rel"]
    big_r = ctx.num_rel(rel)
    mask = ctx.relmask(rel) & (ctx.ranking.rank <= big_r[ctx.ranking.qpos])
    return _safe_div(per_query_sum(ctx.ranking.qpos, ctx.num_queries, mask), big_r)


def _gain_of(m: Measure, grade: np.ndarray) -> tuple[object, FloatArray]:
    """Gain per grade: raw grade (trec_eval), a custom map, or 2^grade - 1; <0 grades gain 0."""
    gains = m["gains"]
    mode = m["dcg"]
    g = grade.astype(np.float64)
    if gains:
        out = g.copy()
        for level, value in gains:
            out[grade == level] = value
    elif mode == "exp-log2":
        out = np.exp2(g) - 1.0
    else:
        out = g
    out = np.where(grade < 0, 0.0, out)
    return (gains, mode), out


def ndcg(ctx: Context, m: Measure) -> FloatArray:
    """nDCG / nDCG@k (m_ndcg.c, m_ndcg_cut.c): DCG / ideal DCG, discount 1/log2(rank + 1)."""
    gain_key, gains = _gain_of(m, ctx.ranking.grade)
    rows = gains != 0
    cut = ctx.within(m.cutoff)
    if cut is not None:
        rows &= cut
    idx = np.flatnonzero(rows)
    contrib = gains[idx] / np.log2(ctx.ranking.rank[idx] + 1.0)
    dcg = np.bincount(ctx.ranking.qpos[idx], weights=contrib, minlength=ctx.num_queries)
    _, judged_gains = _gain_of(m, ctx.qrels.grades)
    idcg = ctx.qrels.ideal_dcg(gain_key, judged_gains, m.cutoff)
    return _safe_div(dcg, idcg)


def bpref(ctx: Context, m: Measure) -> FloatArray:
    """Bpref (m_bpref.c), judged documents only."""
    rel = m["rel"]
    grade = ctx.ranking.grade
    nonrel = (grade >= 0) & (grade < rel)
    nonrel_above = cumcount(nonrel, ctx.ranking.qpos, ctx.num_queries)
    rows = np.flatnonzero(ctx.relmask(rel))
    q = ctx.ranking.qpos[rows]
    big_r = ctx.num_rel(rel)
    nn = ctx.qrels.num_judged_nonrel(rel).astype(np.float64)
    above = nonrel_above[rows].astype(np.float64)
    den = np.minimum(nn, big_r)[q]
    frac = np.zeros_like(above)
    np.divide(np.minimum(above, big_r[q]), den, out=frac, where=above > 0)
    term = np.where(above > 0, 1.0 - frac, 1.0)
    return _safe_div(np.bincount(q, weights=term, minlength=ctx.num_queries), big_r)


def inferred_ap(ctx: Context, m: Measure) -> FloatArray:
    """infAP (m_infap.c), Yilmaz & Aslam's estimator, in trec_eval's evaluation order."""
    rel = m["rel"]
    grade = ctx.ranking.grade
    nonrel = (grade >= 0) & (grade < rel)
    nonrel_above = cumcount(nonrel, ctx.ranking.qpos, ctx.num_queries)
    unj_above = cumcount(grade == UNJUDGED, ctx.ranking.qpos, ctx.num_queries)
    rows = np.flatnonzero(ctx.relmask(rel))
    q = ctx.ranking.qpos[rows]
    fj = (ctx.ranking.rank[rows] - 1).astype(np.float64)
    rs1 = (ctx.cumrel(rel)[rows] - 1).astype(np.float64)
    nr = nonrel_above[rows].astype(np.float64)
    unj = unj_above[rows].astype(np.float64)
    safe_fj = np.where(fj == 0, 1.0, fj)
    term = 1.0 / (fj + 1.0) + (fj / (fj + 1.0)) * ((rs1 + nr + unj) / safe_fj) * (
        (rs1 + INFAP_EPSILON) / (rs1 + nr + 2 * INFAP_EPSILON)
    )
    term = np.where(fj == 0, 1.0, term)
    return _safe_div(np.bincount(q, weights=term, minlength=ctx.num_queries), ctx.num_rel(rel))


def _iprec_table(ctx: Context, rel: int) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
    """Rows of relevant documents, their suffix-max precision, first such row per query, nrr."""

    def make() -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
        rows = np.flatnonzero(ctx.relmask(rel))
        q = ctx.ranking.qpos[rows]
        prec = ctx.cumrel(rel)[rows] / ctx.ranking.rank[rows]
        best = segment_suffix_max(prec, q)
        first = np.full(ctx.num_queries, -1, dtype=np.int64)
        f = first_in_segment(q)
        first[q[f]] = f
        return rows, best, first, ctx.num_rel_ret(rel)

    return ctx._cached(("iprec", rel), make)  # type: ignore[return-value]


def _iprec_at(ctx: Context, rel: int, level: float) -> FloatArray:
    """IPrec at one recall level (m_iprec_at_recall.c).

    The level becomes a count of relevant documents: ``(long)(level * R + 0.9)`` in trec_eval
    9.0.x, ``lround(level * R)`` in 10.0 (``compat="10"``).
    """
    _, best, first, nrr = _iprec_table(ctx, rel)
    big_r = ctx.num_rel(rel)
    if ctx.compat == "10":
        cut = np.floor(level * big_r + 0.5).astype(np.int64)
    else:
        cut = np.floor(level * big_r + 0.9).astype(np.int64)
    idx = first + np.maximum(cut, 1) - 1
    ok = (first >= 0) & (cut <= nrr)
    out = np.zeros(ctx.num_queries)
    out[ok] = best[idx[ok]]
    return out


def iprec(ctx: Context, m: Measure) -> FloatArray:
    """IPrec@r: interpolated precision at recall level r."""
    return _iprec_at(ctx, m["rel"], float(m.cutoff))  # type: ignore[arg-type]


def iprec_avg(ctx: Context, m: Measure) -> FloatArray:
    """11-point average (m_11pt_avg.c); summed from the highest level down, as trec_eval does."""
    total = np.zeros(ctx.num_queries)
    for level in reversed(IPREC_LEVELS):
        total += _iprec_at(ctx, m["rel"], level)
    return total / len(IPREC_LEVELS)


def set_precision(ctx: Context, m: Measure) -> FloatArray:
    """SetP (m_set_P.c): relevant retrieved / retrieved."""
    return _safe_div(ctx.num_rel_ret(m["rel"]), ctx.num_ret())


def set_recall(ctx: Context, m: Measure) -> FloatArray:
    """SetR (m_set_recall.c): relevant retrieved / R."""
    return _safe_div(ctx.num_rel_ret(m["rel"]), ctx.num_rel(m["rel"]))


def set_f(ctx: Context, m: Measure) -> FloatArray:
    """SetF (m_set_F.c): weighted harmonic mean of SetP and SetR."""
    p = set_precision(ctx, m)
    r = set_recall(ctx, m)
    b2 = float(m["beta"]) ** 2
    return _safe_div((b2 + 1.0) * p * r, b2 * p + r)


def num_q(ctx: Context, m: Measure) -> FloatArray:
    """NumQ: 1 per evaluated query."""
    return np.ones(ctx.num_queries)


def num_ret(ctx: Context, m: Measure) -> FloatArray:
    """NumRet (m_num_ret.c) or, with rel, NumRelRet (m_num_rel_ret.c)."""
    rel = m["rel"]
    return ctx.num_ret() if rel is None else ctx.num_rel_ret(rel)


def num_rel(ctx: Context, m: Measure) -> FloatArray:
    """NumRel (m_num_rel.c)."""
    return ctx.num_rel(m["rel"])


def judged(ctx: Context, m: Measure) -> FloatArray:
    """Judged@k (ir_measures): documents in the qrels among the top min(k, N), over min(k, N)."""
    in_qrels = ctx.ranking.grade != NONPOOL
    cut = ctx.within(m.cutoff)
    if cut is not None:
        in_qrels = in_qrels & cut
    hits = per_query_sum(ctx.ranking.qpos, ctx.num_queries, in_qrels)
    depth = ctx.num_ret() if m.cutoff is None else np.minimum(ctx.num_ret(), float(m.cutoff))
    return _safe_div(hits, depth)


def err(ctx: Context, m: Measure) -> FloatArray:
    """ERR@k (Chapelle et al. 2009; gdeval.pl): cascade model with R = (2^g - 1) / 2^max_grade."""
    gmax = float(m["max_grade"])
    g = np.clip(ctx.ranking.grade, 0, None).astype(np.float64)
    g = np.minimum(g, gmax)
    stop = (np.exp2(g) - 1.0) / np.exp2(gmax)
    # reach_i = prod_{j<i} (1 - R_j) = exp(sum_g n_g(i) log(1 - R_g)), where n_g(i) is the exact
    # integer count of grade-g documents above rank i in the same query. A float cumsum over the
    # whole run would make one query's value depend on the queries before it (and drift).
    log_reach = np.zeros(g.size)
    for grade in np.unique(g[g > 0]):
        is_grade = g == grade
        above = cumcount(is_grade, ctx.ranking.qpos, ctx.num_queries) - is_grade
        stop_g = (np.exp2(grade) - 1.0) / np.exp2(gmax)
        log_reach += above * np.log1p(-min(stop_g, 1.0 - 1e-16))
    reach = np.exp(log_reach)
    contrib = stop * reach / ctx.ranking.rank
    cut = ctx.within(m.cutoff)
    if cut is not None:
        contrib = np.where(cut, contrib, 0.0)
    return np.bincount(ctx.ranking.qpos, weights=contrib, minlength=ctx.num_queries)


def rbp(ctx: Context, m: Measure) -> FloatArray:
    """RBP(p) (Moffat & Zobel 2008): (1 - p) sum p^(rank - 1) over relevant ranks (within k)."""
    p = float(m["p"])
    rows = np.flatnonzero(ctx.rel_within(m["rel"], m.cutoff))
    w = (1.0 - p) * np.power(p, (ctx.ranking.rank[rows] - 1).astype(np.float64))
    return np.bincount(ctx.ranking.qpos[rows], weights=w, minlength=ctx.num_queries)


def rbp_residual(ctx: Context, m: Measure) -> FloatArray:
    """RBP_resid(p)@k (Moffat & Zobel 2008, sec. 4): (1 - p) sum p^(i-1) over unjudged ranks
    i <= d, plus p^d, d = min(k, N). The weights of all ranks i <= d sum to 1 - p^d, so this is
    1 - (1 - p) sum p^(i-1) over the *judged* ranks i <= d: only listed rows are needed."""
    p = float(m["p"])
    judged = ctx.ranking.grade >= 0
    cut = ctx.within(m.cutoff)
    if cut is not None:
        judged = judged & cut
    rows = np.flatnonzero(judged)
    w = (1.0 - p) * np.power(p, (ctx.ranking.rank[rows] - 1).astype(np.float64))
    return 1.0 - np.bincount(ctx.ranking.qpos[rows], weights=w, minlength=ctx.num_queries)


KERNELS: dict[str, Callable[[Context, Measure], FloatArray]] = {
    "P": precision,
    "R": recall,
    "Success": success,
    "RR": reciprocal_rank,
    "AP": average_precision,
    "GMAP": gmap,
    "Rprec": r_precision,
    "nDCG": ndcg,
    "Bpref": bpref,
    "infAP": inferred_ap,
    "IPrec": iprec,
    "IPrecAvg": iprec_avg,
    "SetP": set_precision,
    "SetR": set_recall,
    "SetF": set_f,
    "NumQ": num_q,
    "NumRet": num_ret,
    "NumRel": num_rel,
    "Judged": judged,
    "ERR": err,
    "RBP": rbp,
    "RBP_resid": rbp_residual,
}

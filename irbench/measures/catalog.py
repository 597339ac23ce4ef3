"""The measures irbench computes: names, parameters, defaults, trec_eval names and definitions.

Names and parameters follow ir_measures (https://ir-measur.es); semantics follow trec_eval 9.0.x
(the version embedded in pytrec_eval and used by published work). ``R`` below is the number of
relevant documents of the query in the qrels (grade >= rel), ``N`` the number of retrieved
documents after ``-M`` and ``-J``, and ranks are 1-based after trec_eval's ordering (score
descending, ties broken by document id descending).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["CATALOG", "JUDGED_ONLY_FAMILIES", "Family", "ParamSpec"]


@dataclass(frozen=True)
class ParamSpec:
    """One named parameter of a measure family."""

    kind: str  # "int", "float", "str", "gains", "bool"
    default: Any = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Family:
    """A measure family such as ``nDCG``: its cutoff, parameters and definition."""

    name: str
    title: str
    definition: str
    cutoff: str | None = None  # None, "int" or "float"
    cutoff_required: bool = False
    params: dict[str, ParamSpec] = field(default_factory=dict)
    aggregate: str = "mean"  # "mean", "sum" or "gmean"
    trec_name: str | None = None  # trec_eval's name (without cutoff)
    trec_cut_name: str | None = None  # trec_eval's name when a cutoff is given
    source: str = "trec_eval 9.0.x"


_REL = ParamSpec(
    "int", 1, doc="minimum grade counted as relevant (trec_eval -l); grades below are non-relevant"
)

_JUDGED_ONLY = ParamSpec(
    "bool",
    False,
    doc="drop unjudged documents (not in the qrels, or a negative grade) from the ranking before "
    "computing this measure only, closing the gaps in the ranks (trec_eval -J for one measure; "
    "ir_measures' judged_only; Sakai 2007's condensed lists)",
)

#: Families that take ``judged_only``: ir_measures' (AP, IPrec, nDCG, P, R, Rprec, RR, SetP, SetF,
#: Success) plus GMAP and IPrecAvg, which irbench derives from AP and IPrec.
JUDGED_ONLY_FAMILIES = frozenset(
    {"AP", "GMAP", "IPrec", "IPrecAvg", "nDCG", "P", "R", "Rprec", "RR", "SetP", "SetF", "Success"}
)

CATALOG: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "AP",
            "Average Precision",
            "Sum over relevant retrieved documents (within the cutoff, if any) of the precision at "
            "their rank, divided by R (not by min(R, k)). 0 when R = 0.",
            cutoff="int",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_name="map",
            trec_cut_name="map_cut",
        ),
        Family(
            "GMAP",
            "Geometric Mean Average Precision",
            "Per query log(max(AP, 1e-5)); the aggregate is exp of the mean of those logs. "
            "Per-query values are reported as AP's log, as trec_eval computes them.",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            aggregate="gmean",
            trec_name="gm_map",
        ),
        Family(
            "nDCG",
            "Normalised Discounted Cumulative Gain",
            "DCG / ideal DCG with discount 1/log2(rank + 1). Gain is the raw grade (linear, "
            "trec_eval), a custom map grade->gain (gains={...}, unlisted grades keep their grade), or "
            "2^grade - 1 with dcg='exp-log2' (Burges et al. 2005). Documents not in the qrels or "
            "with negative grades gain 0. The ideal list holds every judged document with positive "
            "gain, retrieved or not; with a cutoff both lists are cut at k. 0 when the ideal DCG is 0.",
            cutoff="int",
            params={
                "judged_only": _JUDGED_ONLY,
                "gains": ParamSpec("gains", None, doc="map grade -> gain, e.g. {0:0,1:1,2:3}"),
                "dcg": ParamSpec(
                    "str",
                    "log2",
                    ("log2", "exp-log2"),
                    doc="'log2': gain = grade (trec_eval); 'exp-log2': gain = 2^grade - 1",
                ),
            },
            trec_name="ndcg",
            trec_cut_name="ndcg_cut",
            source="Järvelin & Kekäläinen, TOIS 2002; trec_eval 9.0.x m_ndcg.c, m_ndcg_cut.c",
        ),
        Family(
            "RR",
            "Reciprocal Rank",
            "1 / rank of the first relevant document (within the cutoff, if any); 0 if none.",
            cutoff="int",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_name="recip_rank",
        ),
        Family(
            "P",
            "Precision at k",
            "Relevant documents in the top k divided by k, even when fewer than k were retrieved.",
            cutoff="int",
            cutoff_required=True,
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_cut_name="P",
        ),
        Family(
            "R",
            "Recall at k",
            "Relevant documents in the top k divided by R; 0 when R = 0.",
            cutoff="int",
            cutoff_required=True,
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_cut_name="recall",
        ),
        Family(
            "Rprec",
            "R-Precision",
            "Relevant documents in the top R divided by R; 0 when R = 0.",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_name="Rprec",
        ),
        Family(
            "Bpref",
            "Binary Preference",
            "Over judged documents only: each relevant retrieved document adds "
            "1 - min(n, R) / min(NR, R), n the judged non-relevant documents ranked above it and NR "
            "the judged non-relevant documents of the query (1 when n = 0); the sum is divided by R.",
            params={"rel": _REL},
            trec_name="bpref",
            source="Buckley & Voorhees, SIGIR 2004; trec_eval 9.0.x m_bpref.c",
        ),
        Family(
            "infAP",
            "Inferred Average Precision",
            "Yilmaz & Aslam's estimate of AP under a sampled pool: documents not in the qrels are "
            "skipped, documents with a negative grade count as pooled but unjudged (epsilon 1e-5).",
            params={"rel": _REL},
            trec_name="infAP",
            source="Yilmaz & Aslam, CIKM 2006; trec_eval 9.0.x m_infap.c",
        ),
        Family(
            "Success",
            "Success at k",
            "1 if a relevant document is in the top k, else 0.",
            cutoff="int",
            cutoff_required=True,
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_cut_name="success",
        ),
        Family(
            "Judged",
            "Judgment rate at k",
            "Fraction of the top min(k, N) documents that appear in the qrels with any grade "
            "(all N without a cutoff); 0 when nothing was retrieved.",
            cutoff="int",
            source="ir_measures (OpenNIR) Judged@k",
        ),
        Family(
            "IPrec",
            "Interpolated precision at a recall level",
            "max over ranks r at or after the ceil-like cut (int(level * R + 0.9), trec_eval 9) "
            "of precision at r; 0 when fewer relevant documents were retrieved than the cut.",
            cutoff="float",
            cutoff_required=True,
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_cut_name="iprec_at_recall",
        ),
        Family(
            "IPrecAvg",
            "11-point interpolated average precision",
            "Mean of IPrec at recall 0.0, 0.1, ..., 1.0 (trec_eval 11pt_avg).",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_name="11pt_avg",
        ),
        Family(
            "SetP",
            "Set precision",
            "Relevant retrieved / N (over the whole retrieved set); 0 when N = 0.",
            params={"judged_only": _JUDGED_ONLY, "rel": _REL},
            trec_name="set_P",
        ),
        Family(
            "SetR",
            "Set recall",
            "Relevant retrieved / R; 0 when R = 0.",
            params={"rel": _REL},
            trec_name="set_recall",
        ),
        Family(
            "SetF",
            "Set F-measure",
            "(1 + beta^2) P R / (beta^2 P + R) of SetP and SetR; 0 when both are 0.",
            params={
                "judged_only": _JUDGED_ONLY,
                "rel": _REL,
                "beta": ParamSpec("float", 1.0, doc="weight of recall"),
            },
            trec_name="set_F",
        ),
        Family(
            "NumQ",
            "Number of queries",
            "Queries evaluated (summed over queries, not averaged).",
            aggregate="sum",
            trec_name="num_q",
        ),
        Family(
            "NumRet",
            "Number retrieved",
            "Documents retrieved (after -M and -J); with rel=r, only those with grade >= r "
            "(trec_eval num_rel_ret). Summed over queries.",
            params={"rel": ParamSpec("int", None, doc="count only documents with grade >= rel")},
            aggregate="sum",
            trec_name="num_ret",
        ),
        Family(
            "NumRel",
            "Number relevant",
            "Documents in the qrels with grade >= rel. Summed over queries.",
            params={"rel": _REL},
            aggregate="sum",
            trec_name="num_rel",
        ),
        Family(
            "ERR",
            "Expected Reciprocal Rank",
            "sum over ranks i <= k of (1/i) R_i prod_{j<i} (1 - R_j) with "
            "R_i = (2^g_i - 1) / 2^max_grade, negative grades and unjudged documents 0 "
            "(max_grade 4 as in gdeval.pl of the TREC Web track).",
            cutoff="int",
            params={"max_grade": ParamSpec("int", 4, doc="largest grade of the scale")},
            source="Chapelle et al., CIKM 2009; TREC Web track gdeval.pl",
        ),
        Family(
            "RBP",
            "Rank-Biased Precision",
            "(1 - p) sum_i p^(i-1) rel_i over ranks (within the cutoff, if any), rel_i = 1 when the "
            "grade >= rel. Its residual (the weight of unjudged documents) is RBP_resid.",
            cutoff="int",
            params={"p": ParamSpec("float", 0.8, doc="persistence"), "rel": _REL},
            source="Moffat & Zobel, TOIS 2008",
        ),
        Family(
            "RBP_resid",
            "Rank-Biased Precision residual",
            "The RBP(p) weight the judgments leave open: (1 - p) sum_i p^(i-1) over the unjudged "
            "documents (not in the qrels, or a negative grade) at ranks i <= d, plus p^d for the "
            "documents below the depth d (the number retrieved, after -M and -J; at most k with a "
            "cutoff). RBP + RBP_resid is the largest RBP any judgment of the unjudged and unseen "
            "documents could give; 1 for an empty ranking. trec_eval 10.0's rbp_resid reports 0 "
            "instead when nothing retrieved is unjudged (and defaults to p = 0.9).",
            cutoff="int",
            params={"p": ParamSpec("float", 0.8, doc="persistence (as RBP's)")},
            source="Moffat & Zobel, TOIS 2008, section 4 (residuals); trec_eval 10.0 rbp_resid",
        ),
    ]
}

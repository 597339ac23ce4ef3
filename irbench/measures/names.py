"""The names a measure may be written with: ir_measures' families and aliases, and trec_eval's
measure names (with their default cutoffs and the sets ``official`` and ``all_trec``).

Lookups are without regard to case; :mod:`irbench.measures.spec` documents the rule and
tests/test_measures.py checks that it leaves nothing ambiguous.
"""

from __future__ import annotations

import re

from irbench.measures.catalog import CATALOG

__all__ = [
    "ALIASES",
    "IRM_NAMES",
    "NUMRELRET",
    "TREC_ALL",
    "TREC_CUT",
    "TREC_CUT_LOWER",
    "TREC_OFFICIAL",
    "TREC_PLAIN",
    "TREC_PLAIN_LOWER",
    "TREC_UNDERSCORE",
    "canonical_name",
    "lower_table",
]

ALIASES = {
    "MAP": "AP",
    "NDCG": "nDCG",
    "MRR": "RR",
    "Precision": "P",
    "Recall": "R",
    "RPrec": "Rprec",
    "R-Prec": "Rprec",
    "BPref": "Bpref",
    "bpref": "Bpref",
    "infap": "infAP",
    "11pt": "IPrecAvg",
    "IPrec11": "IPrecAvg",
    "SetRelP": "SetP",
}


# ir_measures' own aliases (measures.register(..., aliases)) plus a few common spellings.
NUMRELRET = "NumRelRet"  # ir_measures' NumRelRet is irbench's NumRet(rel=1)


def lower_table(names: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in names.items()}


# Lower-cased ir_measures name (family or alias) -> canonical family name.
IRM_NAMES = lower_table({**{name: name for name in CATALOG}, **ALIASES, NUMRELRET: NUMRELRET})


def canonical_name(name: str) -> str:
    """The canonical family for an ir_measures name or alias in any case (unknown: as given)."""
    if name in CATALOG:
        return name
    return IRM_NAMES.get(name.lower(), name)


TREC_DEFAULT_CUTS = (5, 10, 15, 20, 30, 100, 200, 500, 1000)
TREC_RECALL_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
TREC_CUT = {
    "P": ("P", TREC_DEFAULT_CUTS),
    "recall": ("R", TREC_DEFAULT_CUTS),
    "ndcg_cut": ("nDCG", TREC_DEFAULT_CUTS),
    "map_cut": ("AP", TREC_DEFAULT_CUTS),
    "success": ("Success", (1, 5, 10)),
    "iprec_at_recall": ("IPrec", TREC_RECALL_LEVELS),
}
TREC_PLAIN = {
    "map": "AP",
    "gm_map": "GMAP",
    "recip_rank": "RR",
    "Rprec": "Rprec",
    "bpref": "Bpref",
    "infAP": "infAP",
    "11pt_avg": "IPrecAvg",
    "set_P": "SetP",
    "set_recall": "SetR",
    "set_F": "SetF",
    "num_q": "NumQ",
    "num_ret": "NumRet",
    "num_rel": "NumRel",
    "ndcg": "nDCG",
}
# trec_eval's default measure set (no -m) and its "all_trec" set, restricted to what irbench has.
TREC_OFFICIAL = [
    "num_q",
    "num_ret",
    "num_rel",
    "num_rel_ret",
    "map",
    "gm_map",
    "Rprec",
    "bpref",
    "recip_rank",
    "iprec_at_recall",
    "P",
]
TREC_ALL = [
    *TREC_OFFICIAL,
    "infAP",
    "11pt_avg",
    "ndcg",
    "ndcg_cut",
    "map_cut",
    "recall",
    "success",
    "set_P",
    "set_recall",
    "set_F",
]


TREC_PLAIN_LOWER = lower_table(TREC_PLAIN)
TREC_CUT_LOWER = {k.lower(): v for k, v in TREC_CUT.items()}
# trec_eval's output names (ndcg_cut_10, P_10, iprec_at_recall_0.10): NAME_CUT[,CUT...], the form
# `--format trec` prints and pytrec_eval / ir_measures' parse_trec_measure accept.
TREC_UNDERSCORE = re.compile(
    r"(?P<name>"
    + "|".join(re.escape(k) for k in sorted(TREC_CUT_LOWER, key=len, reverse=True))
    + r")_(?P<cuts>\d+(?:\.\d+)?(?:,\d+(?:\.\d+)?)*)",
    re.IGNORECASE,
)

"""Significance testing for retrieval evaluation: paired tests, corrections, effects.

Public API (all vectorised over many pairs of systems and measures):

* :func:`compare` / :func:`compare_per_query` / :func:`compare_aligned` - the table-level API
  behind ``irbench compare``;
* paired tests :func:`t_test`, :func:`wilcoxon_test`, :func:`sign_test`,
  :func:`randomization_test` (and :func:`randomization_test_pairs` for many systems),
  :func:`bootstrap_test`;
* many systems: :func:`anova`, :func:`tukey_hsd`, :func:`randomized_tukey_hsd`;
* :func:`adjust_pvalues` (Bonferroni, Holm, Holm-Sidak, Benjamini-Hochberg);
* effects: :func:`t_interval`, :func:`cohens_dz`, :func:`win_tie_loss`,
  :func:`minimum_detectable_effect`, :func:`t_power`;
* :func:`align` - per-query table to ``[system, measure, query]`` array.

SciPy is imported lazily inside the functions that need it.
"""

from __future__ import annotations

from irbench.stats.align import Aligned, align
from irbench.stats.bootstrap import BootstrapResult, bootstrap_test
from irbench.stats.compare import COLUMNS, TESTS, compare, compare_aligned, compare_per_query
from irbench.stats.effect import (
    cohens_dz,
    minimum_detectable_effect,
    t_interval,
    t_power,
    win_tie_loss,
)
from irbench.stats.multiple import CORRECTIONS, adjust_pvalues
from irbench.stats.omnibus import (
    AnovaResult,
    TukeyResult,
    anova,
    randomized_tukey_hsd,
    tukey_hsd,
)
from irbench.stats.paired import PairedResult, sign_test, t_test, wilcoxon_test
from irbench.stats.randomization import (
    RandomizationResult,
    randomization_test,
    randomization_test_pairs,
)

__all__ = [
    "COLUMNS",
    "CORRECTIONS",
    "TESTS",
    "Aligned",
    "AnovaResult",
    "BootstrapResult",
    "PairedResult",
    "RandomizationResult",
    "TukeyResult",
    "adjust_pvalues",
    "align",
    "anova",
    "bootstrap_test",
    "cohens_dz",
    "compare",
    "compare_aligned",
    "compare_per_query",
    "minimum_detectable_effect",
    "randomization_test",
    "randomization_test_pairs",
    "randomized_tukey_hsd",
    "sign_test",
    "t_interval",
    "t_power",
    "t_test",
    "tukey_hsd",
    "wilcoxon_test",
    "win_tie_loss",
]

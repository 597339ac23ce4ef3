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
* :func:`align` - per-query table to ``[system, measure, query]`` array;
* :mod:`irbench.stats.methods` - the tests, intervals and corrections by name.

The names above load on first use, SciPy inside the functions that need it.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import TYPE_CHECKING, Any

# Names load on first use (:mod:`irbench.stats.methods`, the names of the tests, is read by
# the command line at start-up and must not pull numpy and SciPy in).
_LAZY = {
    "Aligned": "align",
    "align": "align",
    "BootstrapResult": "bootstrap",
    "bootstrap_test": "bootstrap",
    "COLUMNS": "compare",
    "compare": "compare",
    "compare_aligned": "compare",
    "compare_per_query": "compare",
    "cohens_dz": "effect",
    "minimum_detectable_effect": "effect",
    "t_interval": "effect",
    "t_power": "effect",
    "win_tie_loss": "effect",
    "CORRECTIONS": "methods",
    "TESTS": "methods",
    "adjust_pvalues": "multiple",
    "AnovaResult": "omnibus",
    "TukeyResult": "omnibus",
    "anova": "omnibus",
    "randomized_tukey_hsd": "omnibus",
    "tukey_hsd": "omnibus",
    "PairedResult": "paired",
    "sign_test": "paired",
    "t_test": "paired",
    "wilcoxon_test": "paired",
    "RandomizationResult": "randomization",
    "randomization_test": "randomization",
    "randomization_test_pairs": "randomization",
}

if TYPE_CHECKING:
    from irbench.stats.align import Aligned, align
    from irbench.stats.bootstrap import BootstrapResult, bootstrap_test
    from irbench.stats.compare import COLUMNS, compare, compare_aligned, compare_per_query
    from irbench.stats.effect import (
        cohens_dz,
        minimum_detectable_effect,
        t_interval,
        t_power,
        win_tie_loss,
    )
    from irbench.stats.methods import CORRECTIONS, TESTS
    from irbench.stats.multiple import adjust_pvalues
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'irbench.stats' has no attribute {name!r}")
    value = getattr(import_module(f"irbench.stats.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


class _Package(types.ModuleType):
    """``irbench.stats.align`` and ``irbench.stats.compare`` are functions, as when this
    package imported everything up front: importing the submodules of the same names (they
    stay in ``sys.modules``) does not replace them by the modules."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

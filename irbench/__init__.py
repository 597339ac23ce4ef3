"""irbench: retrieval evaluation with trec_eval's numbers, vectorised, with significance tests.

Importing irbench is cheap: submodules load on first use (no downloads, no registry scans, no
global settings).

>>> import irbench
>>> irbench.parse_measure("nDCG@10")
Measure('nDCG@10')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irbench._lazy import lazy_exports
from irbench._version import __version__

_LAZY = {
    "evaluate": "irbench.engine",
    "Evaluator": "irbench.engine",
    "compare": "irbench.stats",
    "leaderboard": "irbench.report.leaderboard",
    "table": "irbench.report.table",
    "check": "irbench.report.check",
    "read_run": "irbench.io",
    "read_qrels": "irbench.datasets.qrels_source",  # a qrels file or a dataset id
    "write_run": "irbench.io",
    "Measure": "irbench.measures",
    "parse_measure": "irbench.measures",
    "parse_measures": "irbench.measures",
    "IrbenchError": "irbench.errors",
    "InputFormatError": "irbench.errors",
    "MeasureError": "irbench.errors",
    "IrbenchWarning": "irbench.errors",
}

__all__ = [
    "Evaluator",
    "InputFormatError",
    "IrbenchError",
    "IrbenchWarning",
    "Measure",
    "MeasureError",
    "__version__",
    "check",
    "compare",
    "evaluate",
    "leaderboard",
    "parse_measure",
    "parse_measures",
    "read_qrels",
    "read_run",
    "table",
    "write_run",
]

if TYPE_CHECKING:
    from irbench.datasets.qrels_source import read_qrels
    from irbench.engine import Evaluator, evaluate
    from irbench.errors import InputFormatError, IrbenchError, IrbenchWarning, MeasureError
    from irbench.io import read_run, write_run
    from irbench.measures import Measure, parse_measure, parse_measures
    from irbench.report.check import check
    from irbench.report.leaderboard import leaderboard
    from irbench.report.table import table
    from irbench.stats import compare


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())

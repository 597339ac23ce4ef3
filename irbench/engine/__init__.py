"""The vectorised metric engine: bind qrels once, rank runs as trec_eval does, score measures.

The way of a run: :mod:`~irbench.engine.api` (name the runs, pick the engine) ->
:mod:`~irbench.engine.placement` (where: local or Dask) -> :mod:`~irbench.engine.runs` (how it
is read) -> :mod:`~irbench.engine.evaluator` (tables -> per-query values) ->
:mod:`~irbench.engine.ranking` and :mod:`~irbench.engine.kernels`.
"""

from __future__ import annotations

from irbench.engine.api import Evaluator, evaluate
from irbench.engine.evaluator import resolve_measures
from irbench.engine.qrels import BoundQrels
from irbench.engine.scores import RunScores

__all__ = ["BoundQrels", "Evaluator", "RunScores", "evaluate", "resolve_measures"]

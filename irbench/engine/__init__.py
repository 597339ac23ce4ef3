"""The vectorised metric engine: bind qrels once, rank runs as trec_eval does, score measures."""

from __future__ import annotations

from irbench.engine.evaluator import Evaluator, RunScores, evaluate, resolve_measures
from irbench.engine.qrels import BoundQrels

__all__ = ["BoundQrels", "Evaluator", "RunScores", "evaluate", "resolve_measures"]

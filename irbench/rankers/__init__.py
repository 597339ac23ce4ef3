"""Rankers that write run files: BM25, dense retrieval, fusion and re-ranking.

>>> from irbench.rankers import get_ranker
>>> get_ranker("bm25", k1="1.2").k1
1.2

Nothing heavy is imported until a ranker is built (faiss and encoders load on first use).
"""

from __future__ import annotations

from irbench.rankers.base import NULL_PROGRESS, Progress, Ranker, RankerBase
from irbench.rankers.registry import get_ranker, list_rankers

__all__ = ["NULL_PROGRESS", "Progress", "Ranker", "RankerBase", "get_ranker", "list_rankers"]

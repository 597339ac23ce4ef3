"""A tiny ranker for testing the runner, re-ranking and the CLI without BM25 or faiss.

Score = number of distinct lowercase query words in the document. The index is one Parquet
file, so building, caching and loading are exercised for real.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irbench.errors import RankerError
from irbench.rankers.base import (
    NULL_PROGRESS,
    Progress,
    RankerBase,
    document_text,
    run_from_topk,
    top_k,
)


@dataclass
class Toy(RankerBase):
    """Counts shared words (tests only)."""

    name: ClassVar[str] = "toy"
    INDEX_FIELDS: ClassVar[tuple[str, ...]] = ("lowercase",)
    lowercase: bool = True
    bonus: float = 0.0
    fail_index: bool = False

    def index(
        self, docs: Iterable[pa.RecordBatch], directory: Path, progress: Progress = NULL_PROGRESS
    ) -> None:
        batches = []
        with progress.task("indexing", None) as task:
            for batch in docs:
                batches.append(
                    pa.table({"doc_id": batch.column("doc_id"), "text": document_text(batch)})
                )
                task.advance(batch.num_rows)
                if self.fail_index:
                    raise RuntimeError("disk on fire")
        pq.write_table(pa.concat_tables(batches), directory / "docs.parquet")

    def load(self, directory: Path) -> None:
        path = directory / "docs.parquet"
        if not path.exists():
            raise RankerError(f"{directory}: not a toy index")
        table = pq.read_table(path)
        self._ids = table.column("doc_id")
        self._words = [set(self._tokens(t)) for t in table.column("text").to_pylist()]

    def _tokens(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()

    def _score(self, query: str, words: set[str]) -> float:
        shared = len(set(self._tokens(query)) & words)
        return shared + self.bonus if shared else float("-inf")

    def retrieve(self, queries: pa.Table, k: int, progress: Progress = NULL_PROGRESS) -> pa.Table:
        scores = np.array(
            [[self._score(q, w) for w in self._words] for q in queries.column("text").to_pylist()]
        )
        idx, vals = top_k(scores, k)
        return run_from_topk(queries.column("query_id"), self._ids, idx, vals)

    def rescore(
        self, queries: pa.Table, pairs: pa.Table, progress: Progress = NULL_PROGRESS
    ) -> np.ndarray:
        text = dict(
            zip(
                queries.column("query_id").to_pylist(),
                queries.column("text").to_pylist(),
                strict=True,
            )
        )
        if "text" in pairs.column_names:
            words = [set(self._tokens(t)) for t in pairs.column("text").to_pylist()]
        else:
            pos = {d: i for i, d in enumerate(self._ids.to_pylist())}
            words = [self._words[pos[d]] for d in pairs.column("doc_id").to_pylist()]
        out = [
            self._score(text[q], w)
            for q, w in zip(pairs.column("query_id").to_pylist(), words, strict=True)
        ]
        return np.array([0.0 if s == float("-inf") else s for s in out])


@dataclass
class FailingToy(Toy):
    """A :class:`Toy` whose retrieval fails on any query text containing ``FAIL`` (tests of
    the Dask engine's shard errors; the class must be importable on the workers)."""

    name: ClassVar[str] = "toy-fail"

    def retrieve(self, queries: pa.Table, k: int, progress: Progress = NULL_PROGRESS) -> pa.Table:
        if any("FAIL" in t for t in queries.column("text").to_pylist()):
            raise RuntimeError("disk on fire")
        return super().retrieve(queries, k, progress)

"""What scoring produces: per-query values of a run (:class:`RunScores`), of part of a run
(:class:`PartialScores`, merged part by part), and their results table.

:class:`RunScorer` is what the read strategies (:mod:`irbench.engine.runs`) and the engines
(:mod:`irbench.engine.placement`, :mod:`irbench.distributed.dask_engine`) need of an
evaluator: qrels bound once, a table scored into a part, parts finished into a run's scores.
:class:`irbench.engine.evaluator.TableEvaluator` is the implementation; typing against the
protocol keeps those modules below it (no import circle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from irbench._arrow import from_numpy, repeat_string
from irbench.engine.qrels import BoundQrels
from irbench.errors import IrbenchError
from irbench.io.schema import RESULTS_SCHEMA
from irbench.measures.spec import Measure

__all__ = ["PartialScores", "RunScorer", "RunScores", "results_table"]


@dataclass
class RunScores:
    """Per-query values of one run: ``values[measure][i]`` belongs to ``query_ids[i]``."""

    run: str
    query_ids: pa.Array
    values: dict[Measure, np.ndarray]
    num_qrels_queries_missing: int = 0
    num_run_queries_not_in_qrels: int = 0
    aggregates: dict[Measure, float] = field(default_factory=dict)

    def aggregate(self, measure: Measure) -> float:
        """Mean over queries; the sum for NumQ/NumRet/NumRel; exp(mean) for GMAP."""
        v = self.values[measure]
        kind = measure.family.aggregate
        if v.size == 0:
            return float("nan") if kind != "sum" else 0.0
        if kind == "sum":
            return float(v.sum())
        if kind == "gmean":
            return float(np.exp(v.mean()))
        return float(v.mean())


@dataclass
class PartialScores:
    """Values of part of a run, one entry per qrels query (``BoundQrels.query_ids`` order).

    ``present[i]`` says whether query i has rows in this part; where it does not,
    ``values[m][i]`` is the value of an empty ranking (what ``-c`` scores a missing query).
    """

    present: np.ndarray
    values: dict[Measure, np.ndarray]
    num_run_queries_not_in_qrels: int = 0

    def merge(self, other: PartialScores, *, what: str = "part") -> PartialScores:
        """This part and a disjoint ``other`` part as one; a query in both is an error naming
        the query position (a query must never straddle two shards or chunks)."""
        both = self.present & other.present
        if both.any():
            raise IrbenchError(
                f"query position {int(np.flatnonzero(both)[0])} occurs in two {what}s: a run "
                "must be split by query"
            )
        take = other.present
        return PartialScores(
            present=self.present | take,
            values={m: np.where(take, other.values[m], v) for m, v in self.values.items()},
            num_run_queries_not_in_qrels=(
                self.num_run_queries_not_in_qrels + other.num_run_queries_not_in_qrels
            ),
        )


class RunScorer(Protocol):
    """An evaluator as the read strategies and engines see it (see the module docstring)."""

    qrels: BoundQrels
    measures: list[Measure]

    def score_part(self, table: pa.Table, *, source: str = "run", run: Any = None) -> PartialScores:
        """Per-query values of ``table`` (some or all of a run's queries)."""
        ...

    def finish(self, part: PartialScores, run: str) -> RunScores:
        """The run's :class:`RunScores` from its merged parts."""
        ...


def results_table(scores: RunScores, *, per_query: bool = True) -> pa.Table:
    """The RESULTS_SCHEMA table of one run (per-query rows in qrels order, then "all")."""
    nq = len(scores.query_ids)
    measures = list(scores.values)
    cols: dict[str, list[pa.Array]] = {"run": [], "measure": [], "query_id": [], "value": []}
    for m in measures:
        if per_query and nq:
            cols["measure"].append(repeat_string(str(m), nq))
            cols["query_id"].append(scores.query_ids)
            cols["value"].append(from_numpy(scores.values[m].astype(np.float64)))
        cols["measure"].append(repeat_string(str(m), 1))
        cols["query_id"].append(repeat_string("all", 1))
        cols["value"].append(from_numpy(np.array([scores.aggregates[m]], dtype=np.float64)))
    total = sum(len(a) for a in cols["value"])
    run_col = repeat_string(scores.run, total)
    return pa.Table.from_arrays(
        [
            run_col,
            pa.chunked_array(cols["measure"], pa.string()),
            pa.chunked_array(cols["query_id"], pa.string()),
            pa.chunked_array(cols["value"], pa.float64()),
        ],
        schema=RESULTS_SCHEMA,
    )

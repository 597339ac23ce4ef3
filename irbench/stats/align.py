"""Turn a per-query results table into a dense ``[system, measure, query]`` array.

The table has the columns of :func:`irbench.engine.evaluate`'s result: ``run`` (str),
``measure`` (str), ``query_id`` (str; rows with ``"all"`` are aggregates and are dropped),
``value`` (float). Paired tests need the same queries for every system, so the query set is
an explicit policy:

* ``"intersection"``: the queries present for *every* (run, measure) combination; the
  number used is reported as ``n_queries``.
* ``"zeros"``: the union of all queries, missing values scored 0 (trec_eval ``-c`` semantics;
  with ``irbench.engine.evaluate(..., complete=True)`` the qrels queries are already present).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from irbench.errors import StatsError
from irbench.stats._common import FloatArray

__all__ = ["Aligned", "QueryPolicy", "align"]

QueryPolicy = Literal["intersection", "zeros"]
_COLUMNS = ("run", "measure", "query_id", "value")


@dataclass(frozen=True)
class Aligned:
    """Per-query values ``values[s, m, q]`` for ``runs[s]``, ``measures[m]``, ``query_ids[q]``.

    ``dropped_queries`` counts the queries left out by the ``"intersection"`` policy and
    ``filled`` the values set to 0 by the ``"zeros"`` policy.
    """

    values: FloatArray
    runs: list[str]
    measures: list[str]
    query_ids: list[str]
    policy: str
    dropped_queries: int
    filled: int


def _to_pandas(table: Any) -> Any:
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return table
    if hasattr(table, "to_pandas"):
        return table.to_pandas()
    raise StatsError(f"expected a pandas DataFrame or pyarrow Table, got {type(table).__name__}")


def align(
    per_query: Any,
    *,
    queries: QueryPolicy = "intersection",
    runs: list[str] | None = None,
    measures: list[str] | None = None,
) -> Aligned:
    """Align a per-query table (pandas or Arrow) into a dense array; see the module docstring.

    ``runs`` and ``measures`` select and order the output (default: order of appearance).
    Raises :class:`~irbench.errors.StatsError` on missing columns, duplicate
    (run, measure, query) rows, NaN values, unknown runs/measures or an empty query set.
    """
    import pandas as pd

    df = _to_pandas(per_query)
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise StatsError(f"per-query table lacks column(s) {missing}; expected {list(_COLUMNS)}")
    df = df.loc[:, list(_COLUMNS)]
    df = df[df["query_id"].astype(str) != "all"]
    df = df.assign(
        run=df["run"].astype(str),
        measure=df["measure"].astype(str),
        query_id=df["query_id"].astype(str),
        value=pd.to_numeric(df["value"]).astype(np.float64),
    )
    if df["value"].isna().any():
        bad = df[df["value"].isna()].iloc[0]
        raise StatsError(
            f"{int(df['value'].isna().sum())} per-query value(s) are NaN "
            f"(first: run {bad['run']!r}, measure {bad['measure']!r}, query {bad['query_id']!r})"
        )
    dup = df.duplicated(["run", "measure", "query_id"])
    if dup.any():
        bad = df[dup].iloc[0]
        raise StatsError(
            f"duplicate per-query rows (first: run {bad['run']!r}, measure {bad['measure']!r}, "
            f"query {bad['query_id']!r})"
        )
    all_runs = list(dict.fromkeys(df["run"]))
    all_measures = list(dict.fromkeys(df["measure"]))
    runs = all_runs if runs is None else list(runs)
    measures = all_measures if measures is None else list(measures)
    for kind, want, have in (("run", runs, all_runs), ("measure", measures, all_measures)):
        unknown = [w for w in want if w not in have]
        if unknown:
            raise StatsError(f"unknown {kind}(s) {unknown}; the table has {have}")
    df = df[df["run"].isin(runs) & df["measure"].isin(measures)]
    if queries not in ("intersection", "zeros"):
        raise StatsError(f"queries must be 'intersection' or 'zeros', got {queries!r}")
    all_q = sorted(set(df["query_id"]), key=_natural_key)
    if queries == "intersection":
        counts = df.groupby("query_id")["value"].size()
        full = set(counts.index[counts == len(runs) * len(measures)])
        qids = [q for q in all_q if q in full]
    else:
        qids = all_q
    if not qids:
        raise StatsError("no query is shared by all runs and measures; nothing to compare")
    r_idx = pd.Index(runs).get_indexer(df["run"])
    m_idx = pd.Index(measures).get_indexer(df["measure"])
    q_idx = pd.Index(qids).get_indexer(df["query_id"])
    keep = q_idx >= 0
    values = np.zeros((len(runs), len(measures), len(qids)), dtype=np.float64)
    values[r_idx[keep], m_idx[keep], q_idx[keep]] = df["value"].to_numpy()[keep]
    filled = values.size - int(keep.sum()) if queries == "zeros" else 0
    return Aligned(
        values=values,
        runs=runs,
        measures=measures,
        query_ids=qids,
        policy=queries,
        dropped_queries=len(all_q) - len(qids),
        filled=filled,
    )


def _natural_key(q: str) -> tuple[int, int | str]:
    return (0, int(q)) if q.isdigit() else (1, q)

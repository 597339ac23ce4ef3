"""The public way in: the :class:`Evaluator`, :func:`evaluate_runs` and :func:`evaluate`.

A run travels one way, whatever the caller (``irbench eval``, compare, leaderboard, check,
the Python API):

1. :func:`evaluate_runs` splits the runs given (one, a list, or a dict by name) and names them
   once, by the rule of :mod:`irbench.engine.naming`, before anything is scored, so warnings,
   errors and results use the same names;
2. an engine (:mod:`irbench.engine.placement`; ``--engine``) decides where each run is scored;
3. :func:`irbench.engine.runs.score_run_part` reads it (whole, in chunks, in partitions;
   ``--stream`` is :attr:`~irbench.engine.runs.ReadPolicy.stream`);
4. :class:`~irbench.engine.evaluator.TableEvaluator` scores its tables and finishes the means.

:class:`Evaluator` is the table evaluator with two doors for runs that are not tables yet:
:meth:`Evaluator.score` (one run, here) and :meth:`Evaluator.evaluate` (many, on an engine).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pyarrow as pa

from irbench.engine.evaluator import TableEvaluator
from irbench.engine.naming import named_runs
from irbench.engine.placement import (
    DEFAULT_SHARD_SIZE,
    ENGINES,
    Engine,
    LocalEngine,
    RunTask,
    parse_size,
)
from irbench.engine.runs import DEFAULT_READ, ReadPolicy, score_run
from irbench.engine.scores import RunScorer, RunScores, results_table
from irbench.errors import IrbenchError
from irbench.io.schema import RESULTS_SCHEMA

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Evaluator",
    "evaluate",
    "evaluate_runs",
    "make_engine",
    "map_runs",
    "resolve_engine",
]

T = TypeVar("T")


class Evaluator(TableEvaluator):
    """Qrels and measures bound once, ready to score many runs: files (TREC, ``.gz``,
    Parquet, JSONL, ``-``), tables, DataFrames or dicts. The parameters are
    :class:`~irbench.engine.evaluator.TableEvaluator`'s."""

    def score(
        self, run: Any, name: str | None = None, *, read: ReadPolicy = DEFAULT_READ
    ) -> RunScores:
        """Score one run in this process and return its per-query values. ``name`` defaults
        to the run's name by :mod:`irbench.engine.naming`'s rule (a file's stem, a table's
        stored name); ``read``: see :class:`~irbench.engine.runs.ReadPolicy`."""
        return score_run(self, run, name, read)

    def evaluate(
        self,
        runs: Any,
        *,
        per_query: bool = True,
        names: Sequence[str | None] | None = None,
        engine: Engine | str | None = None,
    ) -> pa.Table:
        """Score every run; one row per run, measure and query, plus ``query_id == "all"`` rows.
        ``runs``: one run, a list, or a dict of runs by name; ``names``: explicit names (else
        :func:`irbench.engine.naming.name_runs`'s rule); ``engine``: where to score
        (``"local"``, ``"dask"`` or an engine object)."""
        scores = evaluate_runs(self, runs, names, engine=engine)
        tables = [results_table(s, per_query=per_query) for s in scores]
        return pa.concat_tables(tables) if tables else RESULTS_SCHEMA.empty_table()


def evaluate_runs(
    evaluator: RunScorer,
    runs: Any,
    names: Sequence[str | None] | None = None,
    *,
    engine: Engine | str | None = None,
    read: ReadPolicy = DEFAULT_READ,
) -> list[RunScores]:
    """Name ``runs`` (:func:`irbench.engine.naming.named_runs`) and score them on ``engine``: one
    :class:`RunScores` per run, in order. What eval, compare, leaderboard, check and the
    Python API all call."""
    run_list, final = named_runs(runs, names)
    with resolve_engine(engine) as eng:
        return eng.score_runs(evaluator, run_list, final, read)


def map_runs(
    evaluator: RunScorer,
    runs: Any,
    task: RunTask[T],
    names: Sequence[str | None] | None = None,
    *,
    engine: Engine | str | None = None,
) -> tuple[list[str], list[T]]:
    """Name ``runs`` as :func:`evaluate_runs` does and run ``task(evaluator, run, name)`` for
    each on ``engine``: the names and the results, in order."""
    run_list, final = named_runs(runs, names)
    with resolve_engine(engine) as eng:
        return final, eng.map_runs(evaluator, run_list, task, final)


def make_engine(
    name: str = "local",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    shard_size: int | str | None = None,
    retries: int | None = None,
) -> Engine:
    """The engine called ``name`` (``local`` or ``dask``) with the CLI's options.

    ``scheduler``, ``workers``, ``shard_size`` and ``retries`` configure the Dask engine (see
    :class:`irbench.distributed.dask_engine.DaskEngine`); giving them with ``local`` is an error
    rather than silently ignored.
    """
    if name == "local":
        given = [
            opt
            for opt, value in (
                ("--scheduler", scheduler),
                ("--workers", workers),
                ("--shard-size", shard_size),
                ("--retries", retries),
            )
            if value is not None
        ]
        if given:
            raise IrbenchError(
                f"{', '.join(given)} only apply to the Dask engine (add --engine dask)"
            )
        return LocalEngine()
    if name == "dask":
        if scheduler is not None and workers is not None:
            raise IrbenchError(
                "--workers sizes the local cluster; with --scheduler the cluster's size is set "
                "by the `dask worker` processes you started"
            )
        from irbench.distributed.cluster import require_distributed

        require_distributed()
        from irbench.distributed.dask_engine import DaskEngine

        return DaskEngine(
            scheduler=scheduler,
            workers=workers,
            shard_size=parse_size(shard_size) if shard_size is not None else DEFAULT_SHARD_SIZE,
            retries=2 if retries is None else retries,
        )
    raise IrbenchError(f"unknown engine {name!r} (choose one of: {', '.join(ENGINES)})")


def resolve_engine(engine: Engine | str | None) -> Engine:
    """``None`` or ``"local"`` -> :class:`LocalEngine`; ``"dask"`` -> a Dask engine on a local
    cluster; an :class:`Engine` object as is."""
    if engine is None:
        return LocalEngine()
    if isinstance(engine, str):
        return make_engine(engine)
    if not isinstance(engine, Engine):
        raise IrbenchError(
            f"engine must be 'local', 'dask' or an engine object, got {type(engine).__name__}"
        )
    return engine


def evaluate(
    qrels: Any,
    runs: Any,
    measures: Any,
    *,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    complete: bool = False,
    ignore_identical_ids: bool = False,
    per_query: bool = True,
    output: str = "arrow",
    engine: Engine | str | None = None,
    compat: str = "9",
    names: Sequence[str | None] | None = None,
) -> pa.Table | pd.DataFrame:
    """Evaluate one or many runs with trec_eval 9.0.x semantics.

    Parameters
    ----------
    qrels, runs:
        Paths (TREC text, ``.gz``, Parquet, JSONL, ``-`` for stdin), Arrow tables, pandas
        DataFrames, dict-of-dicts or ir_measures records. ``runs`` may be a list, or a dict
        of runs by name (``{"bm25": "bm25.run", "splade": table}``).
    measures:
        ``"nDCG@10"``, ``["AP", "P@10"]``, trec_eval names (``"ndcg_cut.10"``) or ir_measures
        objects.
    rel_level, judged_only, max_results, complete:
        trec_eval's ``-l``, ``-J``, ``-M`` and ``-c`` (see :class:`Evaluator`).
    compat:
        ``"9"`` (trec_eval 9.0.x, default) or ``"10"`` (see :class:`Evaluator`).
    ignore_identical_ids:
        Drop documents whose id equals the query id (BEIR's protocol for ArguAna and Quora).
    per_query:
        Include per-query rows; the aggregate rows (``query_id == "all"``) are always there.
    output:
        ``"arrow"`` (a ``pyarrow.Table``) or ``"pandas"``.
    engine:
        Where runs are scored: ``"local"`` (default, this process), ``"dask"`` (a local Dask
        cluster, needs ``irbench-eval[dask]``) or an engine object such as
        ``irbench.distributed.DaskEngine(client)``. The numbers are identical.
    names:
        Explicit run names, one per run (``None`` entries are named by the rule). By default
        a file is named by its stem (``runs/bm25.run.gz`` -> ``bm25``), an in-memory run by
        its stored name (the TREC run tag) or ``run``; names are made unique (parent folders,
        then ``#2``). See :mod:`irbench.engine.naming`.

    Returns
    -------
    A table with columns ``run``, ``measure`` (canonical string), ``query_id``, ``value``.

    Examples
    --------
    >>> import irbench
    >>> qrels = {"q1": {"d1": 1, "d2": 0}}
    >>> run = {"q1": {"d1": 0.5, "d2": 0.9}}
    >>> t = irbench.evaluate(qrels, run, ["RR", "P@1"], per_query=False)
    >>> t.column("value").to_pylist()
    [0.5, 0.0]
    """
    ev = Evaluator(
        qrels,
        measures,
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        compat=compat,
        ignore_identical_ids=ignore_identical_ids,
    )
    table = ev.evaluate(runs, per_query=per_query, engine=engine, names=names)
    if output == "pandas":
        return table.to_pandas()
    if output != "arrow":
        raise ValueError(f"output must be 'arrow' or 'pandas' (got {output!r})")
    return table

"""Paper tables: systems as rows, (dataset x measure) as columns, a BEIR-style average, and
significance markers against named baselines (superscript letters as in ranx, or daggers).

The numbers come from the leaderboard (:func:`irbench.report.leaderboard.build_leaderboard`:
same scoring, conditions, spec files, CQADupStack grouping and average) and the markers from
:func:`irbench.stats.compare_per_query`, called per dataset and baseline exactly as
``irbench compare QRELS <the dataset's runs> -m <the measures> --baseline B`` calls it: the
correction family of a marker is, per dataset and baseline, every other system x every measure
(``family="all"``; ``"measure"``: each measure's systems), so a cell's marker is the decision
``compare`` prints for that pair and measure. Group and average columns have no markers.

Extra columns (latency, Judged@10 ...) plug in with :meth:`PaperTable.add_column` and text
beside a value (``± std``, a CI, Judged@10 ...) with :class:`Annotation`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from irbench.errors import ComparabilityError, InputFormatError
from irbench.report.paper_table import (
    CI,
    DAGGERS,
    STD,
    Annotation,
    ColumnSpec,
    PaperTable,
    display_label,
)

__all__ = [
    "CI",
    "STD",
    "Annotation",
    "ColumnSpec",
    "PaperTable",
    "build_table",
    "display_label",
    "table",
]


def _significance(
    board: Any,
    baselines: Sequence[str],
    *,
    test: str,
    correction: str,
    alpha: float,
    family: str,
    permutations: int,
    seed: int,
) -> dict[tuple[str, str, str, str], Any]:
    """``(dataset, run, measure, baseline) -> compare row``: per dataset and baseline, one
    :func:`compare_per_query` over the dataset's runs and measures, as ``irbench compare``."""
    from irbench.report.leaderboard import compare_dataset, per_query_table, resolve_baseline

    out: dict[tuple[str, str, str, str], Any] = {}
    for ds in board.datasets:
        if len(ds.runs) < 2:
            continue
        per_query = per_query_table(ds)
        for b in baselines:
            df = compare_dataset(
                ds,
                resolve_baseline(ds, b),
                per_query,
                test=test,
                correction=correction,
                alpha=alpha,
                permutations=permutations,
                seed=seed,
                family=family,
            )
            for r in df.itertuples(index=False):
                out[(ds.name, r.run, r.measure, b)] = r
    return out


def _column_order(
    datasets: Sequence[str], groups: dict[str, str | None], expand: bool
) -> list[str]:
    """Datasets in spec order, a group at its first member (after its last one with
    ``expand``, the members shown too), then the average."""
    from irbench.report.leaderboard import AVERAGE

    out: list[str] = []
    for i, d in enumerate(datasets):
        g = groups.get(d)
        if g is None or expand:
            out.append(d)
        last = g is not None and all(groups.get(x) != g for x in datasets[i + 1 :])
        if g is not None and g not in out and (not expand or last):
            out.append(g)
    return [*out, AVERAGE]


def build_table(
    datasets: Sequence[Any],
    measures: Any,
    *,
    baselines: Sequence[str] = (),
    conditions: Any = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    family: str = "all",
    permutations: int = 10_000,
    seed: int = 0,
    markers: str = "letters",
    average: bool = True,
    expand_groups: bool = False,
    systems: Sequence[str] | None = None,
    order: Sequence[str] | None = None,
    force: bool = False,
    engine: Any = None,
    judged: bool = False,
    bounds: bool = False,
    **style: Any,
) -> PaperTable:
    """Score ``datasets`` (:class:`~irbench.report.leaderboard.DatasetSpec`) and build the
    :class:`PaperTable`; see :func:`table` for the parameters."""
    import numpy as np
    import pandas as pd

    from irbench.report.leaderboard import AVERAGE, build_leaderboard, resolve_baseline

    if markers not in ("letters", "dagger"):
        raise InputFormatError(f"markers must be 'letters' or 'dagger' (got {markers!r})")
    if markers == "dagger" and len(baselines) > len(DAGGERS):
        raise InputFormatError(
            f"--markers dagger has symbols for {len(DAGGERS)} baselines; use letters for more"
        )
    if family not in ("all", "measure"):
        raise InputFormatError(f"family must be 'all' or 'measure' (got {family!r})")
    board = build_leaderboard(
        datasets,
        measures,
        conditions=conditions,
        alpha=alpha,
        ties=False,
        force=force,
        engine=engine,
        average=average,
        judged=judged,
        bounds=bounds,
    )
    baselines = [resolve_baseline(board.datasets[0], b) for b in baselines]
    sig = _significance(
        board,
        baselines,
        test=test,
        correction=correction,
        alpha=alpha,
        family=family,
        permutations=permutations,
        seed=seed,
    )
    groups = {g for g in board.groups.values() if g is not None}
    spec_labels = {d.name: d.label for d in datasets if getattr(d, "label", None)}
    lb = board.table
    std = {
        (ds.name, r.name, str(m)): float(np.std(r.scores.values[m], ddof=1))
        if r.scores.values[m].size > 1
        else math.nan
        for ds in board.datasets
        for r in ds.runs
        for m in ds.measures
    }
    rows = []
    for r in lb.itertuples(index=False):
        kind = (
            "average" if r.dataset == AVERAGE else ("group" if r.dataset in groups else "dataset")
        )
        if kind == "dataset" and board.groups.get(r.dataset) and not expand_groups:
            continue  # shown through its group's column
        row: dict[str, Any] = {
            "dataset": r.dataset,
            "kind": kind,
            "run": r.run,
            "measure": r.measure,
            "value": r.value,
            "n_queries": r.n_queries,
            "std": std.get((r.dataset, r.run, r.measure), math.nan),
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "ignore_identical_ids": r.ignore_identical_ids,
            **{c: getattr(r, c) for c in ("judged", "unjudged_high") if hasattr(r, c)},
        }
        marks = []
        for i, b in enumerate(baselines):
            c = sig.get((r.dataset, r.run, r.measure, b))
            better = bool(c is not None and c.significant and c.delta > 0)
            row[f"delta_vs_{b}"] = float(c.delta) if c is not None else math.nan
            row[f"p_adjusted_vs_{b}"] = float(c.p_adjusted) if c is not None else math.nan
            row[f"significant_vs_{b}"] = bool(c.significant) if c is not None else False
            row[f"better_vs_{b}"] = better
            if better:
                marks.append(DAGGERS[i] if markers == "dagger" else chr(ord("a") + i))
        row["marker"] = "".join(marks)
        rows.append(row)
    frame = pd.DataFrame(rows)
    names = _column_order([d.name for d in board.datasets], board.groups, expand_groups)
    names = [n for n in names if n in set(frame["dataset"])]
    if order is not None:
        unknown = [d for d in order if d not in names]
        if unknown:
            raise InputFormatError(
                f"unknown dataset(s) {unknown} in the order; the table has {names}"
            )
        names = list(order) + ([AVERAGE] if AVERAGE in names and AVERAGE not in order else [])
        frame = frame[frame["dataset"].isin(names)].reset_index(drop=True)
    runs = list(dict.fromkeys(frame["run"]))
    if systems is not None:
        unknown = [s for s in systems if s not in runs]
        if unknown:
            raise InputFormatError(f"unknown system(s) {unknown}; the runs are {runs}")
        runs = list(systems)
        frame = frame[frame["run"].isin(runs)].reset_index(drop=True)
    for b in baselines:
        if b not in runs:
            raise ComparabilityError(f"baseline {b!r} is not one of the table's systems {runs}")
    cols = [ColumnSpec(str(m)) for m in board.datasets[0].measures]
    t = PaperTable(
        frame=frame,
        systems=runs,
        datasets=names,
        labels={d: spec_labels.get(d) or display_label(d) for d in names},
        columns=cols,
        baselines=list(baselines),
        markers=markers,
        test=test,
        correction=correction,
        alpha=alpha,
        family=family,
        **style,
    )
    t.mark_best()
    if judged or bounds:
        from irbench.report.unjudged import add_unjudged_to_table

        add_unjudged_to_table(t, judged=judged, bounds=bounds)
    return t


def table(
    qrels: Any = None,
    runs: Any = None,
    measures: Any = None,
    *,
    spec: str | os.PathLike[str] | None = None,
    baselines: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    dataset: str | None = None,
    complete: bool = False,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    ignore_identical_ids: bool = False,
    std: bool = False,
    ci: bool = False,
    **options: Any,
) -> PaperTable:
    """A paper table of systems x (dataset x measure), with significance markers.

    One dataset from ``qrels`` and ``runs`` (runs named ``names``, else as ``irbench eval``; the
    dataset ``dataset``, else after the qrels file), or many
    from a leaderboard spec (TOML, :func:`irbench.report.leaderboard.load_spec`; its
    ``measures`` and ``baselines``/``baseline`` apply unless given here).

    Options: ``baselines`` (names; markers mark a significant improvement over each),
    ``test``, ``correction``, ``alpha``, ``family`` (``all``/``measure``), ``permutations``,
    ``seed`` (as :func:`irbench.compare`); ``markers`` (``letters`` a, b, c... or ``dagger``);
    ``average`` (BEIR average column, with several datasets), ``expand_groups`` (show each
    CQADupStack forum too), ``systems`` and ``order`` (row and dataset order/subset),
    ``decimals`` (4), ``percent``, ``underline`` (second best), ``layout`` (``dataset`` or
    ``measure`` on top), ``caption``, ``label``; ``std``/``ci`` add ``± std`` or the CI after
    each value; ``judged`` a Judged@k column beside each measure, ``bounds`` ``(≤ high)``
    after each value (:mod:`irbench.report.unjudged`); the trec_eval conditions and ``ignore_identical_ids`` as in
    :func:`irbench.leaderboard`. The result's ``frame`` is the long DataFrame (one row per
    dataset, system and measure, with the value, std, CI, ``best``/``second``, ``marker`` and
    per baseline ``delta_vs_B``, ``p_adjusted_vs_B``, ``significant_vs_B``, ``better_vs_B``).

    Examples
    --------
    >>> import irbench
    >>> t = irbench.table("qrels.txt", ["bm25.run", "splade.run"], "nDCG@10",
    ...                   baselines="bm25")  # doctest: +SKIP
    >>> print(t.to_latex())  # doctest: +SKIP
    """
    from irbench.report.scoring import Conditions
    from irbench.report.spec_file import datasets_from

    cond = Conditions(
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
    )
    sets, measures, opts = datasets_from(
        qrels, runs, measures, spec=spec, names=names, dataset=dataset
    )
    if baselines is None:
        baselines = opts.get("baselines") or ([opts["baseline"]] if opts.get("baseline") else None)
    base = [baselines] if isinstance(baselines, str) else list(baselines or [])
    t = build_table(sets, measures, baselines=base, conditions=cond, **options)
    if std:
        t.annotate(STD)
    if ci:
        t.annotate(CI)
    return t

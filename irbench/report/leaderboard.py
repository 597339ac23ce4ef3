"""Leaderboards: one row per dataset, run and measure, with intervals, a baseline comparison and
provenance (qrels and run SHA-256, tie and query-set policy, irbench version).

Several datasets give BEIR-style average rows (``dataset == "average"``: the mean of the
per-dataset values; interval from the per-dataset standard errors, datasets held fixed) and a
win/tie/loss matrix across datasets.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import ComparabilityError, InputFormatError
from irbench.report.average import AVERAGE
from irbench.report.diagnostics import TieReport
from irbench.report.scoring import Conditions, DatasetScores, check_same_queries, score_dataset
from irbench.report.spec_file import DatasetSpec, datasets_from, load_spec

__all__ = [
    "AVERAGE",
    "COLUMNS",
    "DatasetSpec",
    "Leaderboard",
    "build_leaderboard",
    "compare_dataset",
    "leaderboard",
    "load_spec",
    "per_query_table",
    "resolve_baseline",
    "win_tie_loss_matrix",
]

#: Columns of the leaderboard table, in order (documented in the README; stable).
COLUMNS = (
    "dataset",
    "run",
    "measure",
    "value",
    "n_queries",
    "ci_low",
    "ci_high",
    "ci_method",
    "baseline",
    "delta",
    "p_value",
    "p_adjusted",
    "test",
    "correction",
    "significant",
    "tie_low",
    "tie_high",
    "qrels_sha256",
    "run_sha256",
    "query_policy",
    "tie_policy",
    "rel_level",
    "judged_only",
    "max_results",
    "ignore_identical_ids",
    "irbench_version",
)


@dataclass
class Leaderboard:
    """The table plus what the reports need (per-query values, tie bounds)."""

    table: Any  # pandas DataFrame with COLUMNS
    datasets: list[DatasetScores]
    baseline: str | None
    alpha: float
    ties: dict[tuple[str, str, str], TieReport] = field(default_factory=dict)
    groups: dict[str, str | None] = field(default_factory=dict)  # dataset -> its group

    @property
    def measures(self) -> list[str]:
        return list(dict.fromkeys(self.table["measure"]))

    @property
    def runs(self) -> list[str]:
        return list(dict.fromkeys(self.table["run"]))

    @property
    def group_names(self) -> list[str]:
        """Names of the dataset groups (rows holding a group's mean, e.g. ``cqadupstack``)."""
        return list(dict.fromkeys(g for g in self.groups.values() if g is not None))


def _interval(values: np.ndarray, kind: str, alpha: float) -> tuple[float, float, float]:
    """(low, high, standard error of the mean) of a run's aggregate."""
    from irbench.stats import t_interval

    n = values.size
    if kind == "sum" or n < 2:
        return math.nan, math.nan, math.nan
    _, lo, hi = t_interval(values, alpha)
    se = float(values.std(ddof=1) / math.sqrt(n))
    if kind == "gmean":
        return math.exp(float(lo)), math.exp(float(hi)), math.nan
    return float(lo), float(hi), se


def resolve_baseline(ds: DatasetScores, baseline: str) -> str:
    """The name of the run ``baseline`` names in ``ds``: a run name, or its file (path or
    file name)."""
    names = [r.name for r in ds.runs]
    if baseline in names:
        return baseline
    for r in ds.runs:
        if r.source == baseline or Path(r.source).name == baseline:
            return r.name
    raise ComparabilityError(
        f"dataset {ds.name!r}: baseline {baseline!r} is not one of the runs {names}"
    )


def per_query_table(ds: DatasetScores) -> Any:
    """The per-query values of ``ds``'s runs as one pandas table (run, measure, query_id,
    value), the input of :func:`irbench.stats.compare_per_query`."""
    import pandas as pd

    from irbench.engine.scores import results_table

    return pd.concat([results_table(r.scores).to_pandas() for r in ds.runs], ignore_index=True)


def compare_dataset(ds: DatasetScores, baseline: str, per_query: Any = None, **options: Any) -> Any:
    """:func:`irbench.stats.compare_per_query` of ``ds``'s runs against ``baseline`` under the
    dataset's query policy, as ``irbench compare --baseline`` compares them; ``per_query``:
    :func:`per_query_table` if built already; ``options``: the test's (test, correction...)."""
    from irbench.stats import compare_per_query

    return compare_per_query(
        per_query if per_query is not None else per_query_table(ds),
        baseline=baseline,
        queries="zeros" if ds.conditions.complete else "intersection",
        **options,
    )


def _dataset_rows(
    ds: DatasetScores,
    baseline: str | None,
    *,
    test: str,
    correction: str,
    alpha: float,
    seed: int,
    ties: dict[tuple[str, str, str], TieReport],
) -> list[dict[str, Any]]:
    from irbench._version import __version__

    cmp: dict[tuple[str, str], Any] = {}
    if baseline is not None and len(ds.runs) > 1:
        df = compare_dataset(ds, baseline, test=test, correction=correction, alpha=alpha, seed=seed)
        cmp = {(r.run, r.measure): r for r in df.itertuples(index=False)}
    cond = ds.conditions
    rows = []
    for run in ds.runs:
        for m in ds.measures:
            v = run.scores.values[m]
            lo, hi, _ = _interval(v, m.family.aggregate, alpha)
            c = cmp.get((run.name, str(m)))
            tr = ties.get((ds.name, run.name, str(m)))
            rows.append(
                {
                    "dataset": ds.name,
                    "run": run.name,
                    "measure": str(m),
                    "value": run.scores.aggregates[m],
                    "n_queries": int(v.size),
                    "ci_low": lo,
                    "ci_high": hi,
                    "ci_method": "t" if m.family.aggregate == "mean" else m.family.aggregate,
                    "baseline": baseline or "",
                    "delta": (
                        float(c.delta)
                        if c is not None
                        else (0.0 if run.name == baseline else math.nan)
                    ),
                    "p_value": float(c.p_value) if c is not None else math.nan,
                    "p_adjusted": float(c.p_adjusted) if c is not None else math.nan,
                    "test": test if baseline else "",
                    "correction": correction if baseline else "",
                    "significant": bool(c.significant) if c is not None else False,
                    "tie_low": tr.low if tr is not None else math.nan,
                    "tie_high": tr.high if tr is not None else math.nan,
                    "qrels_sha256": ds.qrels_sha256,
                    "run_sha256": run.sha256,
                    "query_policy": cond.query_policy,
                    "tie_policy": cond.tie_policy,
                    "rel_level": cond.rel_level,
                    "judged_only": cond.judged_only,
                    "max_results": cond.max_results or 0,
                    "ignore_identical_ids": cond.ignore_identical_ids,
                    "irbench_version": __version__,
                }
            )
    return rows


def _average_rows(
    datasets: list[DatasetScores], alpha: float, groups: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """One row per group (the plain mean of its members, e.g. CQADupStack's forums), then the
    BEIR-style mean over units (datasets, a group counted once); a run missing from a dataset
    raises :class:`~irbench.report.average.MissingDatasetError`."""
    from irbench.report.average import average_units

    units = average_units([d.name for d in datasets], groups)
    rows = []
    for label, members in units:
        if groups.get(members[0]) is not None:
            part = [d for d in datasets if d.name in members]
            rows += _mean_rows(part, alpha, label, [(m, [m]) for m in members])
    return rows + _mean_rows(datasets, alpha, AVERAGE, units)


def _mean_rows(
    datasets: list[DatasetScores],
    alpha: float,
    label: str,
    units: list[tuple[str, list[str]]],
) -> list[dict[str, Any]]:
    """Rows ``dataset == label``: per run and measure, the mean over ``units`` of the units'
    means; interval from the per-dataset standard errors (datasets held fixed)."""
    from scipy import special

    from irbench._version import __version__
    from irbench.report.average import MissingDatasetError, beir_average

    z = float(special.ndtri(1 - alpha / 2))
    weights = {d: 1.0 / (len(units) * len(ms)) for _, ms in units for d in ms}
    by_name = {d.name: d for d in datasets}
    names = list(dict.fromkeys(r.name for d in datasets for r in d.runs))
    found = {(r.name, d.name): r for d in datasets for r in d.runs}
    for name in names:
        for d in datasets:
            if (name, d.name) not in found:
                what = "the average" if label == AVERAGE else f"the {label!r} mean"
                raise MissingDatasetError(name, d.name, what=what)
    cond = datasets[0].conditions
    rows = []
    for name in names:
        for mi, m in enumerate(datasets[0].measures):
            vals = {
                (name, d.name): found[(name, d.name)].scores.aggregates[d.measures[mi]]
                for d in datasets
            }
            mean = beir_average(vals, [name], units)[name]
            ses = {
                d.name: _interval(
                    found[(name, d.name)].scores.values[d.measures[mi]],
                    m.family.aggregate,
                    alpha,
                )[2]
                for d in datasets
            }
            se = math.sqrt(sum((weights[n] * ses[n]) ** 2 for n in by_name))
            rows.append(
                {
                    "dataset": label,
                    "run": name,
                    "measure": str(m),
                    "value": mean,
                    "n_queries": sum(
                        int(found[(name, d.name)].scores.values[d.measures[mi]].size)
                        for d in datasets
                    ),
                    "ci_low": mean - z * se,
                    "ci_high": mean + z * se,
                    "ci_method": f"normal over {len(datasets)} datasets (datasets fixed)",
                    "baseline": "",
                    "delta": math.nan,
                    "p_value": math.nan,
                    "p_adjusted": math.nan,
                    "test": "",
                    "correction": "",
                    "significant": False,
                    "tie_low": math.nan,
                    "tie_high": math.nan,
                    "qrels_sha256": "",
                    "run_sha256": "",
                    "query_policy": cond.query_policy,
                    "tie_policy": cond.tie_policy,
                    "rel_level": cond.rel_level,
                    "judged_only": cond.judged_only,
                    "max_results": cond.max_results or 0,
                    "ignore_identical_ids": any(
                        d.conditions.ignore_identical_ids for d in datasets
                    ),
                    "irbench_version": __version__,
                }
            )
    return rows


def build_leaderboard(
    datasets: Sequence[DatasetSpec],
    measures: Any,
    *,
    baseline: str | None = None,
    conditions: Conditions | None = None,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    seed: int = 0,
    ties: bool = True,
    force: bool = False,
    engine: Any = None,
    average: bool = True,
    judged: bool = False,
    bounds: bool = False,
) -> Leaderboard:
    """Score every dataset's runs and build the :class:`Leaderboard` (see :func:`leaderboard`);
    ``engine`` scores the runs (see :func:`irbench.engine.api.resolve_engine`). A dataset's
    ``ignore_identical_ids`` (if set) overrides ``conditions``'; with several datasets and
    ``average``, group rows (CQADupStack's forums as one dataset) and the BEIR average follow,
    and a run missing from a dataset is an error. ``judged`` and ``bounds`` add
    :data:`irbench.report.unjudged.UNJUDGED_COLUMNS`."""
    from dataclasses import replace

    import pandas as pd

    from irbench.engine.api import resolve_engine
    from irbench.report.average import auto_group

    if not datasets:
        raise InputFormatError("no dataset to evaluate")
    scored: list[DatasetScores] = []
    tie_reports: dict[tuple[str, str, str], TieReport] = {}
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    groups: dict[str, str | None] = {}
    base_cond = conditions or Conditions()
    with resolve_engine(engine) as eng:  # one cluster for every dataset
        for spec in datasets:
            cond = base_cond
            if spec.ignore_identical_ids is not None:
                cond = replace(cond, ignore_identical_ids=spec.ignore_identical_ids)
            ds = score_dataset(
                spec.qrels,
                spec.runs,
                measures,
                conditions=cond,
                names=spec.names,
                name=spec.name,
                engine=eng,
                ties=ties,
            )
            if ds.name in seen:
                raise ComparabilityError(f"two datasets are named {ds.name!r}")
            if ds.qrels_sha256 in seen.values() and not force:
                other = next(k for k, v in seen.items() if v == ds.qrels_sha256)
                raise ComparabilityError(
                    f"datasets {other!r} and {ds.name!r} have the same qrels: averaging them would "
                    "count one dataset twice (--force to allow)"
                )
            seen[ds.name] = ds.qrels_sha256
            groups[ds.name] = spec.group or auto_group(ds.name, ds.qrels_source)
            check_same_queries(ds, force=force)
            base = resolve_baseline(ds, baseline) if baseline is not None else None
            if ties:
                for run in ds.runs:
                    for tr in run.ties or ():
                        tie_reports[(ds.name, run.name, tr.measure)] = tr
            rows += _dataset_rows(
                ds, base, test=test, correction=correction, alpha=alpha, seed=seed, ties=tie_reports
            )
            scored.append(ds)
    if len(scored) > 1 and average:
        rows += _average_rows(scored, alpha, groups)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if judged or bounds:
        from irbench.report.unjudged import add_unjudged_columns

        table = add_unjudged_columns(
            table, scored, judged=judged, bounds=bounds, average=AVERAGE, groups=groups
        )
    base_name = resolve_baseline(scored[0], baseline) if baseline is not None else None
    return Leaderboard(table, scored, base_name, alpha, tie_reports, groups)


def leaderboard(
    qrels: Any = None,
    runs: Any = None,
    measures: Any = None,
    *,
    spec: str | os.PathLike[str] | None = None,
    baseline: str | None = None,
    names: Sequence[str | None] | None = None,
    complete: bool = False,
    rel_level: int = 1,
    judged_only: bool = False,
    max_results: int | None = None,
    ignore_identical_ids: bool = False,
    test: str = "t",
    correction: str = "holm",
    alpha: float = 0.05,
    ties: bool = True,
    force: bool = False,
    output: str = "pandas",
    engine: Any = None,
    judged: bool = False,
    bounds: bool = False,
    latency: bool | Mapping[str, str] = False,
) -> Any:
    """Leaderboard table: one row per dataset, run and measure (columns :data:`COLUMNS`).

    One dataset from ``qrels`` and ``runs``, or many from a TOML ``spec`` file (see
    :func:`load_spec`; its ``measures`` and ``baseline`` apply unless given here). ``value``
    equals ``irbench.evaluate``'s aggregate; ``ci_low``/``ci_high`` is its ``1 - alpha``
    Student-t interval over queries; with ``baseline``, ``delta`` and the p-values come from
    :func:`irbench.stats.compare_per_query` (``test``, ``correction`` over each dataset's
    rows). ``tie_low``/``tie_high`` bound the value over tie orders. Runs scored on different
    query sets are refused (:class:`~irbench.errors.ComparabilityError`) unless ``complete``
    or ``force``. ``runs``: a list or a dict of runs by name; runs are named ``names``, else
    by :func:`irbench.engine.naming.name_runs` (as ``irbench eval``). ``ignore_identical_ids``: BEIR's protocol (see
    :class:`irbench.Evaluator`; a spec's dataset may set its own). ``output``: ``"pandas"``
    or ``"arrow"``. ``engine``: where runs are scored
    (``"local"``, ``"dask"`` or an engine object; see :func:`irbench.evaluate`).
    ``judged`` adds a ``judged`` column (Judged@k, k the measure's cutoff) and ``bounds`` the
    columns ``unjudged_low``/``unjudged_high`` (see :mod:`irbench.report.unjudged`).
    ``latency``: add the columns of :data:`irbench.report.latency.LATENCY_COLUMNS` (``True``:
    from the files ``irbench run`` wrote; a mapping run name -> CSV for latency measured
    elsewhere; see :func:`irbench.report.latency.add_latency_columns`).
    """
    cond = Conditions(
        rel_level=rel_level,
        judged_only=judged_only,
        max_results=max_results,
        complete=complete,
        ignore_identical_ids=ignore_identical_ids,
    )
    sets, measures, opts = datasets_from(qrels, runs, measures, spec=spec, names=names)
    baseline = baseline if baseline is not None else opts.get("baseline")
    board = build_leaderboard(
        sets,
        measures,
        baseline=baseline,
        conditions=cond,
        test=test,
        correction=correction,
        alpha=alpha,
        ties=ties,
        force=force,
        engine=engine,
        judged=judged,
        bounds=bounds,
    )
    spec_files = {f"{d.name}/{r}": p for d in sets for r, p in (d.latency or {}).items()}
    if latency or spec_files:
        from irbench.report.latency import add_latency_columns

        measured = dict(latency) if isinstance(latency, Mapping) else {}
        add_latency_columns(board, {**spec_files, **measured})
    if output == "arrow":
        import pyarrow as pa

        return pa.Table.from_pandas(board.table, preserve_index=False)
    if output != "pandas":
        raise ValueError(f"output must be 'pandas' or 'arrow' (got {output!r})")
    return board.table


def win_tie_loss_matrix(
    table: Any, measure: str, *, eps: float = 1e-12, exclude: Sequence[str] = ()
) -> Any:
    """``runs x runs`` DataFrame of ``"wins/ties/losses"`` of the row run against the column
    run, counted over the datasets (average rows and the ``exclude`` rows, such as a group's
    mean, left out) on which both were evaluated."""
    import pandas as pd

    df = table[(table["measure"] == measure) & ~table["dataset"].isin([AVERAGE, *exclude])]
    runs = list(dict.fromkeys(df["run"]))
    piv = df.pivot_table(index="dataset", columns="run", values="value", aggfunc="first")
    out = pd.DataFrame("", index=runs, columns=runs, dtype=object)
    for a in runs:
        for b in runs:
            if a == b:
                out.loc[a, b] = "-"
                continue
            both = piv[[a, b]].dropna()
            d = both[a] - both[b]
            w, lo = int((d > eps).sum()), int((d < -eps).sum())
            out.loc[a, b] = f"{w}/{len(d) - w - lo}/{lo}"
    return out

"""Unjudged-document columns for leaderboards and notes for regression checks.

``judged``: the mean ``Judged@k`` of the row's run, k the measure's cutoff (Judged over the
whole ranking, after ``-M``, for a measure without one; see
:func:`irbench.engine.unjudged.judged_companion`). ``unjudged_low`` / ``unjudged_high``: the
measure's aggregate with unjudged documents counted non-relevant (the ``value``) and counted
relevant (:func:`irbench.engine.unjudged.score_bounds`). Average rows take the mean over
datasets, as ``value`` does.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from irbench.report.scoring import DatasetScores, ScoredRun

__all__ = [
    "UNJUDGED_COLUMNS",
    "add_unjudged_columns",
    "add_unjudged_to_table",
    "annotate_check",
    "unjudged_cells",
]

#: Extra leaderboard columns, in order, appended after the standard ones when asked for.
UNJUDGED_COLUMNS = ("judged", "unjudged_low", "unjudged_high")


def _run_table(run: ScoredRun) -> Any:
    """The run's table: kept when it was scored here, else read again from its file."""
    if run.table is not None:
        return run.table
    from irbench.io import read_run

    return read_run(run.source)


def unjudged_cells(
    ds: DatasetScores, *, judged: bool = False, bounds: bool = False
) -> dict[tuple[str, str], dict[str, float]]:
    """``{(run, measure): {"judged": ..., "unjudged_low": ..., "unjudged_high": ...}}`` for
    every run and measure of a scored dataset (only the asked-for keys; NaN where a measure has
    no Judged@k companion: NumQ, NumRel, Judged)."""
    from irbench.engine import Evaluator
    from irbench.engine.unjudged import judged_companion, score_bounds

    ev = ds.evaluator
    companions = {m: judged_companion(m) for m in ds.measures}
    wanted = list(dict.fromkeys(c for c in companions.values() if c is not None))
    judged_ev = None
    if judged and wanted:
        judged_ev = Evaluator(
            ev.qrels,
            wanted,
            rel_level=ev.rel_level,
            judged_only=ev.judged_only,
            max_results=ev.max_results,
            complete=ev.complete,
            compat=ev.compat,
            ignore_identical_ids=ev.ignore_identical_ids,
        )
    out: dict[tuple[str, str], dict[str, float]] = {}
    for run in ds.runs:
        table = _run_table(run)
        cells: dict[str, dict[str, float]] = {str(m): {} for m in ds.measures}
        if judged:
            with warnings.catch_warnings():  # the query-set warnings came with the values
                warnings.simplefilter("ignore")
                js = judged_ev.score_table(table, name=run.name) if judged_ev else None
            for m, c in companions.items():
                cells[str(m)]["judged"] = (
                    js.aggregates[c] if js is not None and c is not None else math.nan
                )
        if bounds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                b = score_bounds(ev, table, name=run.name)
            for m in ds.measures:
                cells[str(m)]["unjudged_low"] = b.low.aggregates[m]
                cells[str(m)]["unjudged_high"] = b.high.aggregates[m]
        for m_str, row in cells.items():
            out[(run.name, m_str)] = row
    return out


def add_unjudged_columns(
    table: Any,
    datasets: list[DatasetScores],
    *,
    judged: bool = False,
    bounds: bool = False,
    average: str = "average",
    groups: Mapping[str, str | None] | None = None,
) -> Any:
    """``table`` (a leaderboard DataFrame) with the asked-for :data:`UNJUDGED_COLUMNS` added
    at the end. A group row (``groups``: dataset -> group, e.g. CQADupStack's forums) gets the
    mean of its members, the average row the BEIR average (a group counted once), as ``value``."""
    from irbench.report.average import dataset_weights

    cols = [c for c in UNJUDGED_COLUMNS if (c == "judged" and judged) or (c != "judged" and bounds)]
    if not cols:
        return table
    groups = dict(groups or {})
    found = {ds.name: unjudged_cells(ds, judged=judged, bounds=bounds) for ds in datasets}
    weights = dataset_weights([ds.name for ds in datasets], groups)

    def combined(members: list[str], w: dict[str, float], key: tuple[str, str], col: str) -> float:
        vals = [(w[d], found[d][key][col]) for d in members if key in found[d]]
        if len(vals) < len(members):
            return math.nan
        return sum(wt * v for wt, v in vals) / sum(wt for wt, _ in vals)

    table = table.copy()
    for col in cols:
        values = []
        for r in table.itertuples(index=False):
            key = (r.run, r.measure)
            if r.dataset in found:
                values.append(found[r.dataset][key][col])
            elif r.dataset == average:
                values.append(combined(list(found), weights, key, col))
            else:  # a group's row: the plain mean of its members
                members = [d for d, g in groups.items() if g == r.dataset and d in found]
                values.append(combined(members, dict.fromkeys(members, 1.0), key, col))
        table[col] = values
    return table


def annotate_check(
    result: Any, ds: DatasetScores, *, judged: bool = False, bounds: bool = False
) -> None:
    """Append ``Judged@k`` and the unjudged range to each check row's detail (shown by every
    check format); nothing is recorded in the baseline or changes a verdict."""
    if not (judged or bounds):
        return
    found = unjudged_cells(ds, judged=judged, bounds=bounds)
    from irbench.engine.unjudged import judged_companion
    from irbench.measures import parse_measure

    for row in result.rows:
        cells = found.get((row.run, row.measure))
        if cells is None:
            continue
        notes = []
        if "judged" in cells and not math.isnan(cells["judged"]):
            companion = judged_companion(parse_measure(row.measure))
            notes.append(f"{companion} {cells['judged']:.4f}")
        if "unjudged_high" in cells:
            notes.append(f"unjudged as relevant {cells['unjudged_high']:.4f}")
        if notes:
            row.detail = "; ".join([row.detail, *notes]) if row.detail else "; ".join(notes)


def _high_text(t: Any, row: Any) -> str:
    high = row.get("unjudged_high", math.nan)
    try:
        ok = math.isfinite(float(high))
    except (TypeError, ValueError):
        ok = False
    return f" (≤ {t.number(high, row['measure'])})" if ok else ""


def add_unjudged_to_table(t: Any, *, judged: bool = False, bounds: bool = False) -> None:
    """Unjudged documents in a paper table (:class:`irbench.report.paper_table.PaperTable` whose
    frame carries the leaderboard's ``judged``/``unjudged_high``): ``judged`` adds a Judged@k
    column right after each measure (one per k, no markers); ``bounds`` shows ``(≤ high)`` after
    each value and says so in the caption."""
    from irbench.engine.unjudged import judged_companion
    from irbench.measures import parse_measure
    from irbench.report.paper_table import Annotation, ColumnSpec

    if judged and "judged" in t.frame.columns:
        measures = [c for c in t.columns]
        keys = {c.key for c in measures}
        order = []
        for spec in measures:
            order.append(spec)
            companion = judged_companion(parse_measure(spec.key))
            if companion is None or str(companion) in keys:
                continue
            rows = t.frame[t.frame["measure"] == spec.key][["dataset", "run", "judged"]]
            new = ColumnSpec(str(companion), significance=False)
            t.add_column(new, rows.rename(columns={"judged": "value"}))
            keys.add(new.key)
            order.append(new)
        t.columns[:] = order
    if bounds and "unjudged_high" in t.frame.columns:
        t.annotate(Annotation("unjudged", _high_text))
        note = "(≤ x): the value with unjudged documents counted relevant."
        t.caption = f"{t.caption} {note}" if t.caption else note

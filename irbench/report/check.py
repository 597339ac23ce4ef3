"""Regression checks of runs against a committed baseline file (TOML).

The baseline holds, per dataset, the conditions (qrels SHA-256, query-set and tie policy, -l,
-J, -M), each measure's definition, and per run and measure the expected value *and the
per-query values*, so that a non-inferiority test can run without the old run file. A
``[policy]`` table says, per measure (or ``default``), what counts as a regression: an absolute
``tolerance`` on the aggregate, a non-inferiority ``margin`` (one-sided paired test at
``alpha``: the run must be shown to be no worse than the baseline by more than the margin), or
both (both must hold).

Statuses: ``OK`` (same value), ``IMPROVED``, ``WITHIN TOLERANCE`` (lower, but the policy
holds), ``REGRESSED``, ``MISSING`` (the baseline has no value for this run or measure) and
``QUERIES CHANGED`` (the run is scored on other queries than the baseline). The last three
fail the check. Different qrels, conditions or measure definitions raise
:class:`~irbench.errors.ComparabilityError` unless forced.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from irbench.errors import ComparabilityError, InputFormatError
from irbench.report.baseline_file import (
    RUN_NAMES,
    Policy,
    baseline_conditions,
    load_baseline,
    match_runs,
    measure_entry,
    pick_dataset,
    policy_for,
)
from irbench.report.baseline_update import update_baseline
from irbench.report.diagnostics import QueryDelta, top_deltas
from irbench.report.scoring import Conditions, DatasetScores, score_dataset

__all__ = [
    "FAILING",
    "CheckResult",
    "CheckRow",
    "Policy",
    "check",
    "check_scores",
    "load_baseline",
    "update_baseline",
]

FAILING = ("REGRESSED", "MISSING", "QUERIES CHANGED")
#: Values closer than this are equal (float noise of a different summation order).
EPS = 1e-12


@dataclass
class CheckRow:
    dataset: str
    run: str
    measure: str
    expected: float
    actual: float
    status: str
    detail: str
    p_value: float = math.nan
    improved: list[QueryDelta] = field(default_factory=list)
    regressed: list[QueryDelta] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return self.actual - self.expected

    @property
    def failed(self) -> bool:
        return self.status in FAILING


@dataclass
class CheckResult:
    baseline: str
    rows: list[CheckRow]
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(r.failed for r in self.rows)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def _guard(ds: DatasetScores, entry: Mapping[str, Any], src: str, force: bool) -> list[str]:
    """Comparability problems between the current scoring and the baseline's; raises unless
    ``force`` (then they are returned as notes)."""
    problems = []
    if entry["qrels_sha256"] != ds.qrels_sha256:
        problems.append(
            f"the qrels differ from the baseline's (SHA-256 {ds.qrels_sha256[:12]}... now, "
            f"{str(entry['qrels_sha256'])[:12]}... in the baseline, made from "
            f"{entry.get('qrels', '?')!r})"
        )
    problems += [f"condition {d}" for d in ds.conditions.differences(dict(entry))]
    for m in ds.measures:
        old = entry["measures"].get(str(m))
        if old is None:
            continue  # reported as MISSING per run
        new = measure_entry(m)
        changed = [k for k in new if old.get(k) != new[k]]
        if changed:
            problems.append(
                f"measure {str(m)!r} has a different definition ({', '.join(changed)}): "
                f"baseline {old.get('definition')!r}, now {new['definition']!r}"
            )
    if problems and not force:
        raise ComparabilityError(
            f"dataset {ds.name!r} cannot be compared with baseline {src!r}: "
            + "; ".join(problems)
            + " (--update to accept the new values, --force to compare anyway)"
        )
    return problems


def _non_inferiority(d: np.ndarray, pol: Policy, seed: int) -> float:
    """p-value of H0 'mean(d) <= -margin' (one-sided), 0 when every difference is >= 0... via
    :func:`irbench.stats.compare_aligned`."""
    from irbench.stats import Aligned, compare_aligned

    if d.size < 2:
        return math.nan
    values = np.stack([d, np.zeros_like(d)])[:, None, :]
    data = Aligned(values, ["run", "baseline"], ["m"], [str(i) for i in range(d.size)], "x", 0, 0)
    df = compare_aligned(
        data,
        baseline="baseline",
        test=pol.test,
        correction="none",
        alpha=pol.alpha,
        margin=float(pol.margin or 0.0),
        seed=seed,
    )
    return float(df["p_value"].iloc[0])


def _fmt_q(rows: list[QueryDelta]) -> str:
    return ", ".join(f"{r.query_id} ({r.delta:+.4f})" for r in rows)


def _check_value(
    dataset: str,
    run: str,
    measure: str,
    old: Mapping[str, Any],
    queries_old: list[str],
    current: dict[str, float],
    actual: float,
    pol: Policy,
    seed: int,
) -> CheckRow:
    expected = float(old["value"])
    base_pq = dict(zip(queries_old, (float(x) for x in old["per_query"]), strict=True))
    up, down = top_deltas(current, base_pq)
    row = CheckRow(dataset, run, measure, expected, actual, "OK", "", improved=up, regressed=down)
    diff = actual - expected
    if abs(diff) <= EPS or (math.isnan(actual) and math.isnan(expected)):
        return row
    if diff > 0:
        row.status, row.detail = "IMPROVED", f"{diff:+.4f}; run --update to raise the baseline"
        return row
    reasons, holds = [], True
    if pol.tolerance is None and pol.margin is None:
        holds = False
        reasons.append("no drop allowed (no policy)")
    if pol.tolerance is not None:
        ok = -diff <= pol.tolerance + EPS
        holds &= ok
        reasons.append(f"drop {-diff:.4f} {'<=' if ok else '>'} tolerance {pol.tolerance:g}")
    if pol.margin is not None:
        d = np.array([current[q] - base_pq[q] for q in queries_old])
        p = _non_inferiority(d, pol, seed)
        row.p_value = p
        ok = p <= pol.alpha
        holds &= ok
        reasons.append(
            f"non-inferiority at margin {pol.margin:g}: p = {p:.4g} "
            f"{'<=' if ok else '>'} alpha {pol.alpha:g} ({pol.test})"
        )
    row.status = "WITHIN TOLERANCE" if holds else "REGRESSED"
    row.detail = "; ".join(reasons)
    if down:
        row.detail += f"; most regressed queries: {_fmt_q(down)}"
    return row


def check_scores(
    ds: DatasetScores,
    doc: Mapping[str, Any],
    src: str,
    *,
    force: bool = False,
    seed: int = 0,
) -> CheckResult:
    """Check one scored dataset against a loaded baseline document."""
    result = CheckResult(src, [])
    datasets = doc.get("datasets", {})
    entry = datasets.get(ds.name)
    if entry is None:
        for r in ds.runs:
            for m in ds.measures:
                result.rows.append(
                    CheckRow(
                        ds.name,
                        r.name,
                        str(m),
                        math.nan,
                        r.scores.aggregates[m],
                        "MISSING",
                        f"the baseline has no dataset {ds.name!r} (it has "
                        f"{', '.join(map(repr, datasets)) or 'none'}); add it with --update",
                    )
                )
        return result
    result.notes += [f"forced: {p}" for p in _guard(ds, entry, src, force)]
    matched = match_runs(ds.runs, entry["runs"])
    old_names = doc.get("irbench", {}).get("run_names") != RUN_NAMES
    for r in ds.runs:
        base_name, how = matched.get(r.name, (r.name, ""))
        base_run = entry["runs"].get(base_name)
        if base_run is not None and base_name != r.name:
            result.notes.append(
                f"note: run {r.name!r} is checked against the baseline's {base_name!r} (same "
                f"{how}); --update records it as {r.name!r}"
            )
        qids = r.scores.query_ids.to_pylist()
        for m in ds.measures:
            actual = float(r.scores.aggregates[m])
            name = str(m)
            if base_run is None:
                have = ", ".join(map(repr, entry["runs"])) or "none"
                hint = "add it with --update"
                if old_names:
                    hint = (
                        "this baseline predates irbench's run naming rule (a run is named by "
                        "its file, or NAME=PATH; a single run used to be named by its run "
                        "tag): regenerate it with `irbench check --baseline "
                        f"{src} QRELS RUN ... --update`"
                    )
                result.rows.append(
                    CheckRow(
                        ds.name,
                        r.name,
                        name,
                        math.nan,
                        actual,
                        "MISSING",
                        f"the baseline has no run {r.name!r} on {ds.name!r} (it has {have}); "
                        + hint,
                    )
                )
                continue
            old = base_run.get("values", {}).get(name)
            if old is None:
                have = ", ".join(base_run.get("values", {})) or "none"
                result.rows.append(
                    CheckRow(
                        ds.name,
                        r.name,
                        name,
                        math.nan,
                        actual,
                        "MISSING",
                        f"the baseline has no value of {name} for run {r.name!r} "
                        f"(it has {have}); add it with --update",
                    )
                )
                continue
            queries_old = [str(q) for q in base_run["queries"]]
            if qids != queries_old:
                lost = sorted(set(queries_old) - set(qids))
                new = sorted(set(qids) - set(queries_old))
                result.rows.append(
                    CheckRow(
                        ds.name,
                        r.name,
                        name,
                        float(old["value"]),
                        actual,
                        "QUERIES CHANGED",
                        f"scored on other queries than the baseline: {len(lost)} lost "
                        f"({', '.join(lost[:5])}{' ...' if len(lost) > 5 else ''}), "
                        f"{len(new)} new ({', '.join(new[:5])}{' ...' if len(new) > 5 else ''})",
                    )
                )
                continue
            pol = policy_for(doc, name, src)
            row = _check_value(
                ds.name, r.name, name, old, queries_old, r.per_query(m), actual, pol, seed
            )
            if row.status in ("REGRESSED", "WITHIN TOLERANCE"):
                _add_tie_note(row, ds, r, m)
            if row.status != "OK" and base_run.get("run_sha256") == r.sha256:
                row.detail += (
                    "; the run's content is unchanged (same SHA-256): the evaluation changed"
                )
            result.rows.append(row)
    return result


def _add_tie_note(row: CheckRow, ds: DatasetScores, run: Any, measure: Any) -> None:
    """Say whether tie order alone could explain the drop (tied scores straddling a cutoff)."""
    from irbench.report.diagnostics import tie_report

    tr = next(
        t
        for t in tie_report(ds.evaluator, run.table, run.name, base=run.scores)
        if t.measure == str(measure)
    )
    if not tr.queries:
        row.detail += "; no ties affect this value"
        return
    within = tr.low - EPS <= row.expected <= tr.high + EPS
    row.detail += (
        f"; ties in {len(tr.queries)} queries let the value range over [{tr.low:.4f}, "
        f"{tr.high:.4f}]" + (" (the baseline value is inside it)" if within else "")
    )


def check(
    baseline: str | os.PathLike[str],
    qrels: Any,
    runs: Sequence[Any],
    measures: Any = None,
    *,
    dataset: str | None = None,
    names: Sequence[str | None] | None = None,
    force: bool = False,
    seed: int = 0,
    conditions: Conditions | None = None,
    judged: bool = False,
    bounds: bool = False,
    baseline_doc: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Evaluate ``runs`` on ``qrels`` under the baseline's conditions and check every value.

    ``judged``/``bounds`` add Judged@k and the unjudged range to each row's detail (shown, not
    recorded in the baseline, never a verdict: gate Judged@k by checking it as a measure).

    ``measures`` default to the baseline dataset's; ``dataset`` defaults to the baseline's only
    dataset, else a name derived from the qrels file; ``conditions`` default to the baseline's
    (other ones are refused unless ``force``). ``result.exit_code`` is 0 or 1.
    ``baseline_doc``: the file as :func:`load_baseline` read it already (not read again).
    """
    src = os.fspath(baseline)
    doc = baseline_doc if baseline_doc is not None else load_baseline(src)
    name, entry = pick_dataset(doc, dataset, qrels)
    if measures is None or (not isinstance(measures, str) and not list(measures)):
        if entry is None:
            raise InputFormatError(
                f"the baseline has no dataset {name!r}: give measures (-m) and --update to add it",
                path=src,
            )
        measures = list(entry["measures"])
    cond = conditions or baseline_conditions(entry)
    ds = score_dataset(qrels, runs, measures, conditions=cond, names=names, name=name)
    result = check_scores(ds, doc, src, force=force, seed=seed)
    if judged or bounds:
        from irbench.report.unjudged import annotate_check

        annotate_check(result, ds, judged=judged, bounds=bounds)
    return result

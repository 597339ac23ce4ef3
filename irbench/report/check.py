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
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import ComparabilityError, InputFormatError
from irbench.report.diagnostics import QueryDelta, top_deltas
from irbench.report.scoring import Conditions, DatasetScores, score_dataset

__all__ = [
    "FAILING",
    "CheckResult",
    "CheckRow",
    "Policy",
    "check",
    "load_baseline",
    "update_baseline",
]

FORMAT = 1
#: ``[irbench] run_names`` of a baseline whose run names follow
#: :mod:`irbench.engine.naming` (older baselines named a single run by its run tag).
RUN_NAMES = "file-stem"
FAILING = ("REGRESSED", "MISSING", "QUERIES CHANGED")
#: Values closer than this are equal (float noise of a different summation order).
EPS = 1e-12

HEADER = """irbench baseline: expected values of runs, with per-query values (format {fmt}).
Written by `irbench check --update`; edit only [policy]. Per measure (or `default`):
  tolerance = 0.005   absolute drop of the aggregate that still passes
  margin = 0.01       non-inferiority: a one-sided paired test (test, alpha) must show the run
                      is no worse than the baseline by more than the margin
Both given: both must hold. Nothing given: any drop is a regression."""


@dataclass(frozen=True)
class Policy:
    tolerance: float | None = None
    margin: float | None = None
    alpha: float = 0.05
    test: str = "t"

    def describe(self) -> str:
        parts = []
        if self.tolerance is not None:
            parts.append(f"tolerance {self.tolerance:g}")
        if self.margin is not None:
            parts.append(
                f"non-inferiority margin {self.margin:g} ({self.test}, alpha {self.alpha:g})"
            )
        return " and ".join(parts) or "no drop allowed"


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


# ------------------------------------------------------------------------------ baseline file


def _bad(path: str, key: str, msg: str) -> InputFormatError:
    return InputFormatError(
        f"baseline {key}: {msg}",
        path=path,
        hint="regenerate it with `irbench check --update`",
    )


def load_baseline(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a baseline file; errors name the file, the line (TOML syntax) or the
    key, and the fix."""
    from irbench.report._toml import load

    src = os.fspath(path)
    doc = load(src, "baseline file")
    meta = doc.get("irbench")
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT:
        raise _bad(src, "[irbench]", f"needs format = {FORMAT} (is this an irbench baseline?)")
    datasets = doc.get("datasets", {})
    if not isinstance(datasets, Mapping):
        raise _bad(src, "[datasets]", "must be a table")
    for dname, ds in datasets.items():
        key = f"[datasets.{dname}]"
        if not isinstance(ds, Mapping):
            raise _bad(src, key, "must be a table")
        for k in ("qrels_sha256", "query_policy", "tie_policy", "measures", "runs"):
            if k not in ds:
                raise _bad(src, key, f"lacks {k!r}")
        for k in ("measures", "runs"):
            if not isinstance(ds[k], Mapping):
                raise _bad(src, f"{key[:-1]}.{k}]", "must be a table")
        for rname, run in ds["runs"].items():
            rkey = f"[datasets.{dname}.runs.{rname}]"
            queries = run.get("queries") if isinstance(run, Mapping) else None
            if not isinstance(queries, list) or not queries:
                raise _bad(src, rkey, "lacks the query set (queries = [...])")
            values = run.get("values", {})
            if not isinstance(values, Mapping):
                raise _bad(src, f"{rkey[:-1]}.values]", "must be a table")
            for mname, v in values.items():
                vkey = f"{rkey[:-1]}.values.{mname!r}]"
                if not isinstance(v, Mapping) or not isinstance(v.get("value"), (int, float)):
                    raise _bad(src, vkey, "lacks a numeric value")
                pq = v.get("per_query")
                if (
                    not isinstance(pq, list)
                    or len(pq) != len(queries)
                    or not all(isinstance(x, (int, float)) for x in pq)
                ):
                    raise _bad(
                        src,
                        vkey,
                        f"per_query must hold one number per query ({len(queries)} numbers)",
                    )
                if mname not in ds["measures"]:
                    raise _bad(src, vkey, f"measure {mname!r} is not in {key[:-1]}.measures]")
    policy = doc.get("policy", {})
    for name, p in policy.items():
        _policy_from(p, src, name)
    return doc


def _policy_from(p: Any, src: str, name: str) -> Policy:
    from irbench.stats.compare import TESTS

    key = f"[policy.{name!r}]"
    if not isinstance(p, Mapping):
        raise _bad(src, key, "must be a table")
    unknown = set(p) - {"tolerance", "margin", "alpha", "test"}
    if unknown:
        raise _bad(src, key, f"unknown key(s) {sorted(unknown)} (tolerance, margin, alpha, test)")
    for k in ("tolerance", "margin"):
        if k in p and (not isinstance(p[k], (int, float)) or p[k] < 0):
            raise _bad(src, key, f"{k} must be a number >= 0")
    alpha = p.get("alpha", 0.05)
    if not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise _bad(src, key, "alpha must be in (0, 1)")
    test = p.get("test", "t")
    if test not in TESTS or test.startswith("tukey"):
        raise _bad(src, key, "test must be one of t, wilcoxon, sign, randomization, bootstrap")
    return Policy(
        tolerance=float(p["tolerance"]) if "tolerance" in p else None,
        margin=float(p["margin"]) if "margin" in p else None,
        alpha=float(alpha),
        test=str(test),
    )


def policy_for(doc: Mapping[str, Any], measure: str, src: str = "baseline") -> Policy:
    table = doc.get("policy", {})
    if measure in table:
        return _policy_from(table[measure], src, measure)
    if "default" in table:
        return _policy_from(table["default"], src, "default")
    return Policy(tolerance=0.0)


def _measure_entry(m: Any) -> dict[str, Any]:
    fam = m.family
    return {"definition": fam.definition, "aggregate": fam.aggregate, "source": fam.source}


def dataset_entry(ds: DatasetScores) -> dict[str, Any]:
    """The baseline section of one scored dataset."""
    runs: dict[str, Any] = {}
    for r in ds.runs:
        qids = r.scores.query_ids.to_pylist()
        runs[r.name] = {
            "source": r.source,
            "run_sha256": r.sha256,
            "queries": qids,
            "values": {
                str(m): {
                    "value": float(r.scores.aggregates[m]),
                    "per_query": [float(x) for x in r.scores.values[m]],
                }
                for m in ds.measures
            },
        }
    return {
        "qrels": ds.qrels_source,
        "qrels_sha256": ds.qrels_sha256,
        **ds.conditions.as_dict(),
        "measures": {str(m): _measure_entry(m) for m in ds.measures},
        "runs": runs,
    }


# ---------------------------------------------------------------------------------- checking


def _same_file(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b) or os.path.abspath(a) == os.path.abspath(b)


def match_runs(runs: Sequence[Any], recorded: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Which baseline run each current run (a :class:`ScoredRun`) is checked against:
    ``{current name: (baseline name, how)}``.

    By name first; then, for runs left over, by the recorded ``source`` (the same file), by a
    name the run's file may get under :mod:`irbench.engine.naming`'s rule with more or fewer
    runs in the call (``BM25/dl19`` <-> ``dl19``), and by content (the same ``run_sha256``);
    each only when exactly one baseline run is left that fits. So a baseline written with
    two runs still serves a check of one, and one written under the old naming rule (a single
    run named by its tag) still matches its file.
    """
    from irbench.engine.naming import path_aliases

    out = {r.name: (r.name, "name") for r in runs if r.name in recorded}
    free = [k for k in recorded if k not in {b for b, _ in out.values()}]
    tests = (
        ("source", lambda r, k, v: bool(v.get("source")) and _same_file(r.source, v["source"])),
        ("file name", lambda r, k, v: k in path_aliases(r.source)),
        ("content", lambda r, k, v: bool(r.sha256) and v.get("run_sha256") == r.sha256),
    )
    for how, fits in tests:
        for r in runs:
            if r.name in out:
                continue
            hits = [k for k in free if isinstance(recorded[k], Mapping) and fits(r, k, recorded[k])]
            if how == "file name" and not os.path.exists(r.source):
                hits = []  # an in-memory run has no file name to match
            if len(hits) == 1:
                out[r.name] = (hits[0], how)
                free.remove(hits[0])
    return out


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
        new = _measure_entry(m)
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
) -> CheckResult:
    """Evaluate ``runs`` on ``qrels`` under the baseline's conditions and check every value.

    ``judged``/``bounds`` add Judged@k and the unjudged range to each row's detail (shown, not
    recorded in the baseline, never a verdict: gate Judged@k by checking it as a measure).

    ``measures`` default to the baseline dataset's; ``dataset`` defaults to the baseline's only
    dataset, else a name derived from the qrels file; ``conditions`` default to the baseline's
    (other ones are refused unless ``force``). ``result.exit_code`` is 0 or 1.
    """
    src = os.fspath(baseline)
    doc = load_baseline(src)
    name, entry = _pick_dataset(doc, dataset, qrels)
    if measures is None or (not isinstance(measures, str) and not list(measures)):
        if entry is None:
            raise InputFormatError(
                f"the baseline has no dataset {name!r}: give measures (-m) and --update to add it",
                path=src,
            )
        measures = list(entry["measures"])
    cond = conditions or _conditions(entry)
    ds = score_dataset(qrels, runs, measures, conditions=cond, names=names, name=name)
    result = check_scores(ds, doc, src, force=force, seed=seed)
    if judged or bounds:
        from irbench.report.unjudged import annotate_check

        annotate_check(result, ds, judged=judged, bounds=bounds)
    return result


def _pick_dataset(
    doc: Mapping[str, Any], dataset: str | None, qrels: Any
) -> tuple[str, Mapping[str, Any] | None]:
    from irbench.report.scoring import _dataset_name

    datasets = doc.get("datasets", {})
    if dataset is None:
        dataset = next(iter(datasets)) if len(datasets) == 1 else _dataset_name(str(qrels))
    return dataset, datasets.get(dataset)


def _conditions(entry: Mapping[str, Any] | None, **override: Any) -> Conditions:
    """The conditions recorded in a baseline entry (defaults for a new one)."""
    if entry is None:
        return Conditions(**override)
    max_r = int(entry.get("max_results", 0) or 0)
    return Conditions(
        rel_level=int(entry.get("rel_level", 1)),
        judged_only=bool(entry.get("judged_only", False)),
        max_results=max_r or None,
        complete=entry.get("query_policy") == "complete",
        compat=str(entry.get("trec_eval_compat", "9")),
        ignore_identical_ids=bool(entry.get("ignore_identical_ids", False)),
    )


# ----------------------------------------------------------------------------------- update


def update_baseline(
    baseline: str | os.PathLike[str],
    qrels: Any,
    runs: Sequence[Any],
    measures: Any = None,
    *,
    dataset: str | None = None,
    names: Sequence[str | None] | None = None,
    conditions: Conditions | None = None,
) -> list[str]:
    """Write (atomically) the current values of ``runs`` into the baseline, keeping its policy,
    other datasets and other runs; returns the changes as lines (``+`` new, ``~`` changed)."""
    from irbench._version import __version__
    from irbench.io.atomic import atomic_text_writer
    from irbench.report._toml import dumps

    src = os.fspath(baseline)
    doc: dict[str, Any] = (
        load_baseline(src) if Path(src).exists() else {"policy": {"default": {"tolerance": 0.0}}}
    )
    name, entry = _pick_dataset(doc, dataset, qrels)
    if measures is None or (not isinstance(measures, str) and not list(measures)):
        if entry is None:
            raise InputFormatError(
                f"no measures for the new dataset {name!r}: give them with -m", path=src
            )
        measures = list(entry["measures"])
    cond = conditions or _conditions(entry)
    ds = score_dataset(qrels, runs, measures, conditions=cond, names=names, name=name)
    new = dataset_entry(ds)
    renamed: dict[str, str] = {}
    if entry is not None:  # a run recorded under another name is replaced, not kept twice
        matched = match_runs(ds.runs, entry["runs"]).items()
        renamed = {cur: old for cur, (old, how) in matched if how != "name"}
        runs_old = {k: v for k, v in entry["runs"].items() if k not in renamed.values()}
        runs_old.update({cur: entry["runs"][old] for cur, old in renamed.items()})
        entry = {**entry, "runs": runs_old}
    changes = [f"~ {name}/{old}: renamed {cur}" for cur, old in renamed.items()]
    changes += _diff(name, entry, new)
    if entry is not None and entry.get("qrels_sha256") == new["qrels_sha256"]:
        kept = {k: v for k, v in entry["runs"].items() if k not in new["runs"]}
        new["runs"] = {**kept, **new["runs"]}
        new["measures"] = {**entry["measures"], **new["measures"]}
    new["runs"] = {k: new["runs"][k] for k in sorted(new["runs"])}  # stable diffs
    datasets = dict(doc.get("datasets", {}))
    datasets[name] = new
    out = {
        "irbench": {"format": FORMAT, "version": __version__, "run_names": RUN_NAMES},
        "policy": doc.get("policy", {}),
        "datasets": datasets,
    }
    text = dumps(out, header=HEADER.format(fmt=FORMAT))
    with atomic_text_writer(src) as fh:
        fh.write(text)
    return changes


def _diff(name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> list[str]:
    if old is None:
        n = sum(len(r["values"]) for r in new["runs"].values())
        return [f"+ dataset {name}: {len(new['runs'])} run(s), {n} value(s)"]
    out = []
    if old.get("qrels_sha256") != new["qrels_sha256"]:
        out.append(
            f"~ {name}: qrels changed (SHA-256 {str(old.get('qrels_sha256'))[:12]}... -> "
            f"{new['qrels_sha256'][:12]}...); runs not given now are dropped"
        )
    for k in (
        "query_policy",
        "tie_policy",
        "rel_level",
        "judged_only",
        "max_results",
        "ignore_identical_ids",
    ):
        if old.get(k, False if k == "ignore_identical_ids" else None) != new[k]:
            out.append(f"~ {name}: {k} {old.get(k)!r} -> {new[k]!r}")
    for rname, run in new["runs"].items():
        orun = old["runs"].get(rname)
        if orun is None:
            out.append(f"+ {name}/{rname}: new run")
            continue
        if orun.get("queries") != run["queries"]:
            out.append(
                f"~ {name}/{rname}: query set {len(orun.get('queries', []))} -> {len(run['queries'])} queries"
            )
        for m, v in run["values"].items():
            ov = orun.get("values", {}).get(m)
            if ov is None:
                out.append(f"+ {name}/{rname} {m} = {v['value']:.4f}")
            elif ov["value"] != v["value"] or ov.get("per_query") != v["per_query"]:
                out.append(f"~ {name}/{rname} {m}: {ov['value']:.6f} -> {v['value']:.6f}")
    return out

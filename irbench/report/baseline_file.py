"""The baseline file of ``irbench check`` (TOML): reading and validating it, its policies,
the section of one scored dataset, and which recorded run a current run is checked against.

Per dataset it holds the conditions (qrels SHA-256, query-set and tie policy, -l, -J, -M), each
measure's definition, and per run and measure the value *and the per-query values*, so that a
non-inferiority test can run without the old run file. A ``[policy]`` table says, per measure (or
``default``), what counts as a regression: an absolute ``tolerance`` on the aggregate, a
non-inferiority ``margin`` (one-sided paired test at ``alpha``), or both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from irbench.errors import InputFormatError
from irbench.report.scoring import Conditions, DatasetScores

__all__ = [
    "FORMAT",
    "HEADER",
    "RUN_NAMES",
    "Policy",
    "baseline_conditions",
    "dataset_entry",
    "load_baseline",
    "match_runs",
    "measure_entry",
    "pick_dataset",
    "policy_for",
]

FORMAT = 1
#: ``[irbench] run_names`` of a baseline whose run names follow
#: :mod:`irbench.engine.naming` (older baselines named a single run by its run tag).
RUN_NAMES = "file-stem"

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
    from irbench.stats.methods import GATE_TESTS

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
    if test not in GATE_TESTS:
        raise _bad(src, key, f"test must be one of {', '.join(GATE_TESTS)}")
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


def measure_entry(m: Any) -> dict[str, Any]:
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
        "measures": {str(m): measure_entry(m) for m in ds.measures},
        "runs": runs,
    }


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


def pick_dataset(
    doc: Mapping[str, Any], dataset: str | None, qrels: Any
) -> tuple[str, Mapping[str, Any] | None]:
    """The dataset a check is about and its baseline entry (``None``: not recorded yet): the
    given name, else the baseline's only dataset, else a name derived from the qrels file."""
    from irbench.report.scoring import dataset_name

    datasets = doc.get("datasets", {})
    if dataset is None:
        dataset = next(iter(datasets)) if len(datasets) == 1 else dataset_name(str(qrels))
    return dataset, datasets.get(dataset)


def baseline_conditions(entry: Mapping[str, Any] | None, **override: Any) -> Conditions:
    """The conditions recorded in a baseline entry (defaults for a new one: ``None``)."""
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

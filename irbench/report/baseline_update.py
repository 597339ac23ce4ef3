"""``irbench check --update``: write the current values of runs into a baseline file,
keeping its policy, its other datasets and its other runs."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from irbench.errors import InputFormatError
from irbench.report.baseline_file import (
    FORMAT,
    HEADER,
    RUN_NAMES,
    baseline_conditions,
    dataset_entry,
    load_baseline,
    match_runs,
    pick_dataset,
)
from irbench.report.scoring import Conditions, score_dataset

__all__ = ["update_baseline"]


def update_baseline(
    baseline: str | os.PathLike[str],
    qrels: Any,
    runs: Sequence[Any],
    measures: Any = None,
    *,
    dataset: str | None = None,
    names: Sequence[str | None] | None = None,
    conditions: Conditions | None = None,
    baseline_doc: Mapping[str, Any] | None = None,
) -> list[str]:
    """Write (atomically) the current values of ``runs`` into the baseline, keeping its policy,
    other datasets and other runs; returns the changes as lines (``+`` new, ``~`` changed).
    ``baseline_doc``: the file as :func:`load_baseline` read it already (not read again)."""
    from irbench._version import __version__
    from irbench.io.atomic import atomic_text_writer
    from irbench.report._toml import dumps

    src = os.fspath(baseline)
    doc: Mapping[str, Any]
    if baseline_doc is not None:
        doc = baseline_doc
    elif Path(src).exists():
        doc = load_baseline(src)
    else:
        doc = {"policy": {"default": {"tolerance": 0.0}}}
    name, entry = pick_dataset(doc, dataset, qrels)
    if measures is None or (not isinstance(measures, str) and not list(measures)):
        if entry is None:
            raise InputFormatError(
                f"no measures for the new dataset {name!r}: give them with -m", path=src
            )
        measures = list(entry["measures"])
    cond = conditions or baseline_conditions(entry)
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

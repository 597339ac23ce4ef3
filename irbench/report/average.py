"""BEIR-style averages over datasets, with dataset groups (CQADupStack's twelve forums).

The BEIR paper (Thakur et al., 2021, Table 2) and Pyserini's BEIR regressions report
CQADupStack as one dataset: the plain mean of its twelve forums' scores. The BEIR average is
then the plain mean over the "units" (an ungrouped dataset, or a group counted once), so a forum
weighs ``1 / (units * forums)``. A system without a run on one of the datasets has no average:
that is an error naming the system and the dataset, never a mean over fewer datasets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath

from irbench.errors import ComparabilityError

__all__ = [
    "AVERAGE",
    "CQADUPSTACK",
    "MissingDatasetError",
    "auto_group",
    "average_units",
    "beir_average",
    "dataset_weights",
]

#: The dataset name of the rows that average over datasets.
AVERAGE = "average"

#: Group of the twelve CQADupStack forums (ids ``beir/cqadupstack/<forum>``).
CQADUPSTACK = "cqadupstack"

_CQADUPSTACK_ID = re.compile(r"cqadupstack[-/_.]", re.IGNORECASE)


class MissingDatasetError(ComparabilityError):
    """A system has no run for a dataset that an average over datasets needs."""

    def __init__(self, system: str, dataset: str, *, what: str = "the average") -> None:
        self.system, self.dataset = system, dataset
        super().__init__(
            f"system {system!r} has no run for dataset {dataset!r}: {what} over datasets would "
            f"silently drop it (add the run to [datasets.{dataset}], or leave the system out, "
            "or ask for no average)"
        )


def auto_group(name: str, qrels_source: str) -> str | None:
    """The group a dataset belongs to by its id: ``cqadupstack`` for CQADupStack's forums
    (``beir/cqadupstack/android``, ``qrels.beir-v1.0.0-cqadupstack-android.test.txt``), else
    ``None``. Only the dataset name, the qrels file's name (not its folders) and dataset ids
    are looked at."""
    src = str(qrels_source)
    if src.lower().startswith(("beir/cqadupstack/", "irds:beir/cqadupstack/")):
        return CQADUPSTACK
    for text in (name, PurePath(src).name):
        if _CQADUPSTACK_ID.search(text):
            return CQADUPSTACK
    return None


def average_units(
    datasets: Sequence[str], groups: Mapping[str, str | None]
) -> list[tuple[str, list[str]]]:
    """The units of a BEIR average, in order of first appearance: ``(name, members)`` where an
    ungrouped dataset is its own unit and a group's members are averaged first."""
    units: dict[str, list[str]] = {}
    for d in datasets:
        g = groups.get(d)
        if g is None:
            if d in units:
                raise ComparabilityError(f"dataset {d!r} is also the name of a dataset group")
            units[d] = [d]
        else:
            if g in datasets:
                raise ComparabilityError(f"group {g!r} has the name of a dataset")
            units.setdefault(g, []).append(d)
    return list(units.items())


def dataset_weights(datasets: Sequence[str], groups: Mapping[str, str | None]) -> dict[str, float]:
    """Each dataset's weight in the BEIR average: ``1 / (units * members of its unit)``."""
    units = average_units(datasets, groups)
    return {d: 1.0 / (len(units) * len(members)) for _, members in units for d in members}


def beir_average(
    values: Mapping[tuple[str, str], float],
    systems: Sequence[str],
    units: Sequence[tuple[str, Sequence[str]]],
    *,
    what: str = "the average",
) -> dict[str, float]:
    """Per system, the plain mean over ``units`` of each unit's plain mean over its member
    datasets (:func:`average_units`); ``values[(system, dataset)]``. A missing pair raises
    :class:`MissingDatasetError` (first system, then dataset, in the given order)."""
    import numpy as np

    out = {}
    for s in systems:
        unit_means = []
        for _, members in units:
            vals = []
            for d in members:
                v = values.get((s, d))
                if v is None:
                    raise MissingDatasetError(s, d, what=what)
                vals.append(v)
            unit_means.append(float(np.mean(vals)))
        out[s] = float(np.mean(unit_means))
    return out

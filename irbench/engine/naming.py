"""Display names for runs: the run tags if distinct, else names derived from the file paths."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

_SUFFIXES = (".gz", ".txt", ".run", ".trec", ".res", ".tsv")


def _stem(path: str) -> str:
    name = Path(path).name
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name


def unique_run_names(runs: Sequence[Any], tags: Sequence[str]) -> list[str]:
    """Run tags if they are distinct (trec_eval prints the tag), else the file names, else
    parent folder and file name, else the paths as given; runs that are not paths (tables,
    frames) keep their tags, numbered if they collide."""
    tags = list(tags)
    if not all(isinstance(r, (str, Path)) for r in runs):
        return tags if len(set(tags)) == len(tags) else [f"{t}#{i}" for i, t in enumerate(tags)]
    paths = [str(r) for r in runs]
    for names in (
        tags,
        [_stem(p) for p in paths],
        [f"{Path(p).parent.name}/{_stem(p)}" for p in paths],
        paths,
    ):
        if len(set(names)) == len(names):
            return names
    return [f"{p}#{i}" for i, p in enumerate(paths)]

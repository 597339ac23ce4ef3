"""Dataset adapters: MS MARCO, TREC DL, BEIR and classic collections as Arrow tables.

>>> from irbench.datasets import load_dataset
>>> ds = load_dataset("vaswani")          # shipped with irbench: no files, no network
>>> ds.qrels().num_rows
2083

Ids are ir_datasets ids (``msmarco-passage/trec-dl-2019/judged``, ``beir/scifact/test``);
``irbench datasets list`` shows them all. Tables are cached as Parquet (see
:mod:`irbench.datasets.cache`); files are put in place by :func:`import_files`.
Nothing here imports ir_datasets until a dataset that needs it is read.

Its names are imported on first use, so that ``irbench eval QRELS RUN``, which only asks
:mod:`irbench.datasets.qrels_source` whether a missing path is an id, does not import the
loaders and the cache (about 35 ms of a 0.5 s start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from irbench._lazy import lazy_exports

_LAZY = {
    "Dataset": "irbench.datasets.dataset",
    "load_dataset": "irbench.datasets.dataset",
    "import_files": "irbench.datasets.importer",
    "DatasetSpec": "irbench.datasets.registry",
    "get_spec": "irbench.datasets.registry",
    "is_dataset_id": "irbench.datasets.registry",
    "list_specs": "irbench.datasets.registry",
    "suggest": "irbench.datasets.registry",
}

__all__ = [
    "Dataset",
    "DatasetSpec",
    "get_spec",
    "import_files",
    "is_dataset_id",
    "list_specs",
    "load_dataset",
    "suggest",
]

if TYPE_CHECKING:
    from irbench.datasets.dataset import Dataset, load_dataset
    from irbench.datasets.importer import import_files
    from irbench.datasets.registry import (
        DatasetSpec,
        get_spec,
        is_dataset_id,
        list_specs,
        suggest,
    )


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__, globals())

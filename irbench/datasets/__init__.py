"""Dataset adapters: MS MARCO, TREC DL, BEIR and classic collections as Arrow tables.

>>> from irbench.datasets import load_dataset
>>> ds = load_dataset("vaswani")          # shipped with irbench: no files, no network
>>> ds.qrels().num_rows
2083

Ids are ir_datasets ids (``msmarco-passage/trec-dl-2019/judged``, ``beir/scifact/test``);
``irbench datasets list`` shows them all. Tables are cached as Parquet (see
:mod:`irbench.datasets.cache`); files are put in place by :func:`import_files`.
Nothing here imports ir_datasets until a dataset that needs it is read.
"""

from __future__ import annotations

from irbench.datasets.dataset import Dataset, load_dataset
from irbench.datasets.importer import import_files
from irbench.datasets.registry import DatasetSpec, get_spec, is_dataset_id, list_specs, suggest

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

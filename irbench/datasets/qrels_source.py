"""Qrels by file or by dataset id: :func:`read_qrels` is :func:`irbench.io.read_qrels` plus ids.

A string that names no file may be a dataset id (``msmarco-passage/trec-dl-2019/judged``):
its qrels come from :func:`~irbench.datasets.load_dataset`. The resolution lives here, above
:mod:`irbench.io`, so the readers know nothing of datasets (no import cycle, no registration at
import time). Every caller that takes "a qrels file or a dataset id" goes through this
function: :class:`irbench.engine.Evaluator` (hence ``irbench eval``/``compare``/``check``,
leaderboard specs and :func:`irbench.evaluate`) and ``irbench.read_qrels``. The registry
lookup costs nothing; a dataset is loaded only when the id is known.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa

from irbench.errors import MissingFileError
from irbench.io import is_stdin
from irbench.io import read_qrels as read_qrels_file

__all__ = ["qrels_for_id", "read_qrels"]


def read_qrels(source: Any) -> pa.Table:
    """Qrels from anything :func:`irbench.io.read_qrels` takes, or from a dataset id.

    A string that is not ``"-"`` and names no existing file is looked up as a dataset id first
    (:func:`qrels_for_id`); when it is not one, the file reader reports the missing path.
    """
    if isinstance(source, str) and not is_stdin(source) and not os.path.exists(source):
        table = qrels_for_id(source)
        if table is not None:
            return table.replace_schema_metadata(None)
    return read_qrels_file(source)


def qrels_for_id(name: str) -> pa.Table | None:
    """The qrels of dataset *name*; ``None`` when it is not an id (the caller reports the path).

    A string close to a known id (``msmarco-passage/trec-dl-2019/judge``) raises
    :class:`~irbench.errors.MissingFileError` naming the file and the ids it may have meant.
    """
    from irbench.datasets.registry import is_dataset_id, suggest

    if is_dataset_id(name):
        from irbench.datasets.dataset import load_dataset

        return load_dataset(name).qrels()
    close = suggest(name)
    if close:
        raise MissingFileError(
            f"{name}: no such file, and not a dataset id; did you mean {', '.join(close)}? "
            "(`irbench datasets list` shows every id)"
        )
    return None

"""The hook :func:`irbench.io.read_qrels` calls for a string that names no file."""

from __future__ import annotations

import pyarrow as pa

from irbench.datasets.registry import is_dataset_id, suggest
from irbench.errors import MissingFileError

__all__ = ["qrels_for_id"]


def qrels_for_id(name: str) -> pa.Table | None:
    """The qrels of dataset *name*; ``None`` when it is not an id (the caller reports the path).

    A string close to a known id (``msmarco-passage/trec-dl-2019/judge``) raises
    :class:`~irbench.errors.MissingFileError` naming the file and the ids it may have meant.
    """
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

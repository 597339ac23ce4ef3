"""Reading and writing qrels and runs as Arrow tables (schemas in :mod:`irbench.io.schema`).

Importing this package does not import pandas (it is imported only when a DataFrame is given).

Besides the readers and writers, the helpers other packages need about a file argument are
public here: :func:`is_stdin` (``"-"``), :func:`describe_source` (its name in messages),
:func:`stem_of` (its default run name) and :data:`GZIP_MAGIC`; :func:`locate_lines` finds a
(query, doc) pair's lines in a file or in TREC text already read.
"""

from __future__ import annotations

from irbench.io._source import GZIP_MAGIC, is_stdin, stem_of
from irbench.io._source import describe as describe_source
from irbench.io.readers import locate_lines, read_qrels, read_run
from irbench.io.schema import QRELS_SCHEMA, RESULTS_SCHEMA, RUN_NAME_KEY, RUN_SCHEMA
from irbench.io.writers import write_parquet, write_run

__all__ = [
    "GZIP_MAGIC",
    "QRELS_SCHEMA",
    "RESULTS_SCHEMA",
    "RUN_NAME_KEY",
    "RUN_SCHEMA",
    "describe_source",
    "is_stdin",
    "locate_lines",
    "read_qrels",
    "read_run",
    "stem_of",
    "write_parquet",
    "write_run",
]

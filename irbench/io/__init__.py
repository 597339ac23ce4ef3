"""Reading and writing qrels and runs as Arrow tables (schemas in :mod:`irbench.io.schema`).

Importing this package does not import pandas (it is imported only when a DataFrame is given).
"""

from __future__ import annotations

from irbench.io.readers import locate_lines, read_qrels, read_run
from irbench.io.schema import QRELS_SCHEMA, RESULTS_SCHEMA, RUN_NAME_KEY, RUN_SCHEMA
from irbench.io.writers import write_parquet, write_run

__all__ = [
    "QRELS_SCHEMA",
    "RESULTS_SCHEMA",
    "RUN_NAME_KEY",
    "RUN_SCHEMA",
    "locate_lines",
    "read_qrels",
    "read_run",
    "write_parquet",
    "write_run",
]

"""Reading and writing qrels and runs as Arrow tables (schemas in :mod:`irbench.io.schema`)."""

from __future__ import annotations

from irbench.io.schema import QRELS_SCHEMA, RESULTS_SCHEMA, RUN_SCHEMA

__all__ = ["QRELS_SCHEMA", "RESULTS_SCHEMA", "RUN_SCHEMA"]

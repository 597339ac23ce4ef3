"""Arrow schemas of the tables irbench passes between stages (column names follow ir_measures)."""

from __future__ import annotations

import pyarrow as pa

__all__ = ["QRELS_SCHEMA", "RESULTS_SCHEMA", "RUN_NAME_KEY", "RUN_SCHEMA"]

#: Schema-metadata key holding a run's name (the run tag or the file name).
RUN_NAME_KEY = b"irbench.run_name"

#: One judgment per row; negative grades are allowed (trec_eval: "judged but unjudged").
QRELS_SCHEMA = pa.schema(
    [
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("relevance", pa.int64(), nullable=False),
    ]
)

#: One retrieved document per row. The rank column of a TREC file is never trusted: ranks are
#: derived from the score (descending) with ties broken by doc_id descending, as trec_eval does.
RUN_SCHEMA = pa.schema(
    [
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)

#: Evaluation results: one value per run, measure and query; query_id "all" holds the aggregate.
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run", pa.string(), nullable=False),
        pa.field("measure", pa.string(), nullable=False),
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)

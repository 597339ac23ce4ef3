"""Re-rank BM25's top 100 on TREC DL 2019 passage with each dense encoder: nDCG@10 vs BM25.

Input: ``shared/data/runs-rank_llm/BM25/retrieve_results_dl19.json.gz`` (castorini/rank_llm,
Apache-2.0): for each of the 43 judged queries, ``{"query": text, "hits": [{"content", "qid",
"docid", "rank", "score"}, ...]}`` with BM25's top 100 and the passage texts. The pairs go to
:meth:`irbench.rankers.dense.Dense.rescore` with a ``text`` column (no index: passages are
encoded from their text), and the new scores are evaluated against the official qrels shipped
in ``irbench/data/demo/dl19-passage/qrels.txt.gz`` (graded 0-3). BM25's own nDCG@10 comes from
the scores in the same file, so both rankings cover exactly the same documents.

Usage (MiniLM needs torch)::

    PYTHONPATH=. /work/scratch-emb/bin/python bench/rerank_dl19.py --encoders static minilm

A script, not a test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
DEFAULT_INPUT = REPO.parent / "shared/data/runs-rank_llm/BM25/retrieve_results_dl19.json.gz"
QRELS = REPO / "irbench/data/demo/dl19-passage/qrels.txt.gz"
MEASURES = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10"]


def read_candidates(path: Path) -> tuple[pa.Table, pa.Table]:
    """``(queries, pairs)``: queries ``query_id``, ``text``; pairs ``query_id``, ``doc_id``,
    ``text`` (passage), ``score`` (BM25)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    qids, qtexts, pq, pd, pt, ps = [], [], [], [], [], []
    for entry in data:
        hits = entry["hits"]
        qid = str(hits[0]["qid"])
        qids.append(qid)
        qtexts.append(entry["query"])
        for hit in hits:
            pq.append(str(hit["qid"]))
            pd.append(str(hit["docid"]))
            pt.append(hit["content"])
            ps.append(float(hit["score"]))
    queries = pa.table({"query_id": qids, "text": qtexts})
    pairs = pa.table({"query_id": pq, "doc_id": pd, "text": pt, "score": ps})
    return queries, pairs


def evaluate(pairs: pa.Table, scores: np.ndarray) -> dict[str, float]:
    import irbench

    run = pa.table(
        {
            "query_id": pairs.column("query_id"),
            "doc_id": pairs.column("doc_id"),
            "score": pa.array(scores, pa.float64()),
        }
    )
    table = irbench.evaluate(str(QRELS), run, MEASURES, per_query=False)
    return dict(
        zip(table.column("measure").to_pylist(), table.column("value").to_pylist(), strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--encoders", nargs="+", default=["static"], choices=["static", "minilm"])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    from irbench.rankers.dense import Dense

    queries, pairs = read_candidates(args.input)
    n_q, n_p = queries.num_rows, pairs.num_rows
    print(f"{args.input.name}: {n_q} queries, {n_p} (query, passage) pairs")
    rows = [{"system": "BM25 (file scores)", **evaluate(pairs, pairs.column("score").to_numpy())}]
    for name in args.encoders:
        ranker = Dense(encoder=name)  # type: ignore[arg-type]
        _ = ranker.get_encoder().dim  # load the model outside the timing
        t0 = time.perf_counter()
        scores = ranker.rescore(queries, pairs.select(["query_id", "doc_id", "text"]))
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "system": f"BM25 >> dense {name}",
                **evaluate(pairs, scores),
                "rescore_s": seconds,
                "pairs_per_s": n_p / seconds,
            }
        )
    for row in rows:
        extra = f"  ({row['rescore_s']:.1f} s)" if "rescore_s" in row else ""
        print(f"{row['system']:22s} " + "  ".join(f"{m} {row[m]:.4f}" for m in MEASURES) + extra)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

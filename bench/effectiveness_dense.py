"""Effectiveness of dense retrieval on Vaswani (NPL): MAP and nDCG@10 per encoder.

Indexes the 11,429 Vaswani abstracts shipped with irbench with :class:`irbench.rankers.dense.Dense`,
retrieves the top 1,000 for the 93 queries, and evaluates against the 2,083 judgments with
``irbench.evaluate`` (trec_eval semantics: MAP = ``AP``, nDCG@10 with graded gains).

Usage (MiniLM needs torch; run it in the scratch environment that has it)::

    PYTHONPATH=. python bench/effectiveness_dense.py                       # static only
    PYTHONPATH=. /work/scratch-emb/bin/python bench/effectiveness_dense.py --encoders static minilm
    ... --index-type hnsw        # same with an HNSW graph (and recall@10 against flat)
    ... --model-dir DIR          # a static model other than the shipped one (float32 vs float16)

A script, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

MEASURES = ["AP", "nDCG@10"]


def _evaluate(qrels, run) -> dict[str, float]:  # type: ignore[no-untyped-def]
    import irbench

    table = irbench.evaluate(qrels, run, MEASURES, per_query=False)
    return dict(
        zip(table.column("measure").to_pylist(), table.column("value").to_pylist(), strict=True)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", nargs="+", default=["static"], choices=["static", "minilm"])
    parser.add_argument("--index-type", default="flat", choices=["flat", "hnsw"])
    parser.add_argument("--model-dir", type=Path, help="static model folder to use instead")
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)

    from irbench.datasets import load_dataset
    from irbench.rankers.dense import Dense
    from irbench.rankers.encoders import StaticEncoder

    ds = load_dataset("vaswani")
    queries, qrels = ds.queries(), ds.qrels()
    n_docs = ds.count("docs")
    results = []
    for name in args.encoders:
        ranker = Dense(encoder=name, index_type=args.index_type)  # type: ignore[arg-type]
        if name == "static" and args.model_dir is not None:
            ranker._encoder = StaticEncoder(args.model_dir)
        with tempfile.TemporaryDirectory(prefix="irbench-dense-") as tmp:
            t0 = time.perf_counter()
            _ = ranker.get_encoder().dim  # load the model outside the timed encoding
            t1 = time.perf_counter()
            ranker.index(ds.docs_batches(4096), Path(tmp))
            t2 = time.perf_counter()
            run = ranker.retrieve(queries, args.k)
            t3 = time.perf_counter()
            values = _evaluate(qrels, run)
            row = {
                "encoder": name,
                "index_type": args.index_type,
                "model_dir": str(args.model_dir) if args.model_dir else None,
                "MAP": values["AP"],
                "nDCG@10": values["nDCG@10"],
                "load_s": t1 - t0,
                "index_s": t2 - t1,
                "docs_per_s": n_docs / (t2 - t1),
                "retrieve_s": t3 - t2,
            }
            if args.index_type == "hnsw":
                exact = Dense(encoder=name)
                exact._encoder = ranker.get_encoder()
                exact.load(Path(tmp))
                row["recall@10_vs_flat"] = _overlap(run, exact.retrieve(queries, 10), 10)
        results.append(row)
        print(
            f"{name:7s} {args.index_type:5s} MAP {row['MAP']:.4f}  nDCG@10 {row['nDCG@10']:.4f}  "
            f"index {row['index_s']:.1f} s ({row['docs_per_s']:.0f} docs/s)  "
            f"retrieve {row['retrieve_s']:.2f} s"
            + (
                f"  recall@10 vs flat {row['recall@10_vs_flat']:.4f}"
                if "recall@10_vs_flat" in row
                else ""
            ),
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _overlap(run, exact, k: int) -> float:  # type: ignore[no-untyped-def]
    """Mean over queries of |top-k(run) ∩ top-k(exact)| / k."""

    def tops(table) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
        out: dict[str, set[str]] = {}
        table = table.sort_by([("query_id", "ascending"), ("score", "descending")])
        for q, d in zip(
            table.column("query_id").to_pylist(), table.column("doc_id").to_pylist(), strict=True
        ):
            got = out.setdefault(q, set())
            if len(got) < k:
                got.add(d)
        return out

    a, b = tops(run), tops(exact)
    return sum(len(a.get(q, set()) & b[q]) / k for q in b) / len(b)


if __name__ == "__main__":
    sys.exit(main())

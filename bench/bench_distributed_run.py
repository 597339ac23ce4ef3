"""Local vs Dask retrieval time for `irbench run` on Vaswani (a script, not a test).

    PYTHONPATH=. python bench/bench_distributed_run.py --workers 2 --rankers bm25 dense
    PYTHONPATH=. python bench/bench_distributed_run.py --queries 20 --rankers bm25   # smoke

For each ranker: the local engine's retrieval (index already cached and loaded), then
``--engine dask`` with query shards and with corpus shards on one LocalCluster started once
(its start-up time is printed apart: a command pays it, a long-lived cluster does not). The
queries can be repeated (``--repeat``) to make the retrieval, not the overhead, dominate. Each
Dask run is checked to equal the local run's rows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rankers", nargs="+", default=["bm25", "dense"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--shards", type=int, default=None, help="default: one per worker")
    parser.add_argument("--queries", type=int, default=None, help="use only the first N")
    parser.add_argument("--repeat", type=int, default=1, help="repeat the query set N times")
    parser.add_argument("-k", type=int, default=1000)
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    from irbench.datasets import load_dataset
    from irbench.distributed.retrieval import DaskRetrieval, retrieve_on_dask
    from irbench.rankers import get_ranker
    from irbench.rankers.runner import ensure_index

    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="irbench-bench-"))
    ds = load_dataset("vaswani", cache_dir=cache)
    queries = ds.queries()
    if args.queries:
        queries = queries.slice(0, args.queries)
    if args.repeat > 1:
        queries = pa.concat_tables(
            [queries.set_column(0, "query_id", pc.binary_join_element_wise(
                queries.column("query_id"), pa.scalar(f"r{i}"), "-")) for i in range(args.repeat)]
        )  # fmt: skip
    print(f"vaswani: {ds.count('docs'):,} docs, {queries.num_rows:,} queries, k={args.k}")
    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster start ({args.workers} workers): {time.perf_counter() - started:.1f} s")
        print(f"{'ranker':8} {'mode':16} {'wall s':>8} {'speed-up':>9}")
        for name in args.rankers:
            ranker = get_ranker(name)
            index, _ = ensure_index(ranker, ds)
            t0 = time.perf_counter()
            local = ranker.retrieve(queries, args.k)
            base = time.perf_counter() - t0
            print(f"{name:8} {'local':16} {base:8.2f} {1.0:9.2f}")
            for shard in ("queries", "queries (warm)", "corpus"):
                options = DaskRetrieval(shard=shard.split()[0], shards=args.shards)
                t0 = time.perf_counter()
                table, _ = retrieve_on_dask(
                    ranker, queries, args.k, options, dataset=ds, index=index, client=client
                )
                wall = time.perf_counter() - t0
                same = table.sort_by([("query_id", "ascending"), ("doc_id", "ascending")]).equals(
                    local.sort_by([("query_id", "ascending"), ("doc_id", "ascending")])
                )
                flag = "" if same else "  DIFFERS FROM LOCAL"
                print(f"{name:8} {shard:16} {wall:8.2f} {base / wall:9.2f}{flag}")


if __name__ == "__main__":
    main()

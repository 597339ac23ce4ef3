"""Dense search throughput: irbench ``Dense.retrieve`` (flat) vs a bare ``faiss.IndexFlatIP``.

100,000 random unit vectors of 256 dimensions as the corpus, 1,000 as queries, k = 100, in one
process. The encoder is replaced by a lookup of the precomputed vectors, so what is compared
is exactly the wrapper: irbench's retrieve (query vectors, faiss search in chunks, building
the 100,000-row run table with string ids) against ``index.search`` alone on the same
``IndexFlatIP``. Repetitions alternate between the two; the medians and their ratio are
printed. Also times building the index folder (writing embeddings.npy and doc ids) and
loading it (reading the memory-mapped embeddings into the faiss index).

Usage: ``PYTHONPATH=. python bench/bench_dense.py [--docs 100000] [--reps 5]``. A script, not a
test (tests never assert on wall time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa


class ArrayEncoder:
    """Stands in for a text encoder: text ``"i"`` is row *i* of a fixed matrix."""

    name = "static"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def fingerprint(self) -> str:
        return "bench"

    def encode(self, texts, batch_size=None, progress=None):  # type: ignore[no-untyped-def]
        import pyarrow.compute as pc

        rows = pc.cast(texts, pa.int64()).to_numpy()
        return self.vectors[rows]


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)

    import faiss

    from irbench.rankers.dense import Dense

    rng = np.random.default_rng(0)
    docs, queries = unit(rng, args.docs, args.dim), unit(rng, args.queries, args.dim)
    ids = [str(i) for i in range(args.docs)]
    batches = [
        pa.record_batch(
            {"doc_id": ids[s : s + 10_000], "text": ids[s : s + 10_000]},
        )
        for s in range(0, args.docs, 10_000)
    ]
    query_table = pa.table(
        {
            "query_id": [f"q{i}" for i in range(args.queries)],
            "text": [str(i) for i in range(args.queries)],
        }
    )

    with tempfile.TemporaryDirectory(prefix="irbench-bench-dense-") as tmp:
        ranker = Dense()
        ranker._encoder = ArrayEncoder(docs)
        t = time.perf_counter()
        ranker.index(batches, Path(tmp))
        build = time.perf_counter() - t
        t = time.perf_counter()
        ranker.load(Path(tmp))
        ranker.search_index()
        load = time.perf_counter() - t
        ranker._encoder = ArrayEncoder(queries)  # queries "encode" to their own rows

        raw = faiss.IndexFlatIP(args.dim)
        raw.add(docs)
        print(
            f"{args.docs:,} x {args.dim} docs, {args.queries:,} queries, k={args.k}, "
            f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads"
        )
        print(f"index folder build {build:.2f} s, load (mmap -> IndexFlatIP) {load:.2f} s")

        ranker.retrieve(query_table, args.k)  # warm-up both
        raw.search(queries, args.k)
        t_raw, t_irb = [], []
        for _ in range(args.reps):
            t = time.perf_counter()
            raw.search(queries, args.k)
            t_raw.append(time.perf_counter() - t)
            t = time.perf_counter()
            run = ranker.retrieve(query_table, args.k)
            t_irb.append(time.perf_counter() - t)
        assert run.num_rows == args.queries * args.k
        _, expected = raw.search(queries[:5], args.k)
        got = run.slice(0, args.k).column("doc_id").to_pylist()
        assert got == [str(i) for i in expected[0]], "irbench and faiss disagree"

    m_raw, m_irb = statistics.median(t_raw), statistics.median(t_irb)
    print(
        f"faiss IndexFlatIP.search  median {m_raw * 1e3:8.1f} ms  ({args.queries / m_raw:,.0f} q/s)"
    )
    print(
        f"irbench Dense.retrieve    median {m_irb * 1e3:8.1f} ms  ({args.queries / m_irb:,.0f} q/s)"
    )
    print(f"ratio irbench / faiss: {m_irb / m_raw:.3f}  (reps {args.reps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Corpus loading: irbench's dataset cache into Arrow vs ir_datasets' ``docs_iter``.

Writes a synthetic MS MARCO-style ``collection.tsv`` (default 1,000,000 passages of ~50 words)
into a temporary IR_DATASETS_HOME, then times, in this process:

1. irbench first load: ``pyarrow.csv`` stream of collection.tsv → Arrow IPC cache file;
2. irbench second load: the cached Arrow IPC file, memory-mapped → one Arrow table (what every
   later run does), then the time to touch every text byte once (mapping is lazy), and the
   same cache streamed as record batches;
3. ir_datasets ``docs_iter()`` over the same file (namedtuples), and the same plus building
   an Arrow table from it (what a user of ir_datasets needs to get where irbench starts).

Usage: ``python bench/bench_datasets.py [N_PASSAGES]`` (from a checkout that is not installed:
``PYTHONPATH=. python bench/bench_datasets.py``). Prints seconds and the ratios; a
script, not a test (tests never assert on wall time).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from pathlib import Path


def _write_collection(path: Path, n: int) -> None:
    rng = random.Random(0)
    words = [f"w{i}" for i in range(30000)]
    pool = [" ".join(rng.choices(words, k=50)) for _ in range(4096)]  # 50-word passages
    with open(path, "w", encoding="utf-8", buffering=1 << 22) as out:
        for start in range(0, n, 4096):
            out.write(
                "".join(f"{i}\t{pool[i % 4096]}\n" for i in range(start, min(n, start + 4096)))
            )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="irbench-bench-") as tmp:
        root = Path(tmp)
        os.environ["IR_DATASETS_HOME"] = str(root / "home")
        os.environ["IRBENCH_CACHE"] = str(root / "cache")
        os.environ["IRBENCH_OFFLINE"] = "1"
        source = root / "collection.tsv"
        t = time.perf_counter()
        _write_collection(source, n)
        print(
            f"wrote {n:,} passages ({source.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )

        from irbench.datasets import import_files, load_dataset

        import_files("msmarco-passage/dev/small", [f"docs={source}"])
        source.unlink()

        t = time.perf_counter()
        ds = load_dataset("msmarco-passage/dev/small")
        rows = ds.count("docs")
        first = time.perf_counter() - t
        print(f"irbench first load (TSV -> Arrow cache):   {first:6.2f} s  ({rows:,} docs)")

        t = time.perf_counter()
        table = load_dataset("msmarco-passage/dev/small").docs()
        cached = time.perf_counter() - t
        print(
            f"irbench cached load (mapped Arrow file):   {cached:6.2f} s  ({table.num_rows:,} docs)"
        )
        import pyarrow.compute as pc

        t = time.perf_counter()
        chars = pc.sum(pc.utf8_length(table.column("text"))).as_py()
        touched = time.perf_counter() - t
        print(f"  + touching every text byte once:         {touched:6.2f} s  ({chars:,} chars)")
        del table
        t = time.perf_counter()
        streamed = sum(b.num_rows for b in load_dataset("msmarco-passage/dev/small").docs_batches())
        stream = time.perf_counter() - t
        print(f"irbench cached docs_batches() stream:      {stream:6.2f} s  ({streamed:,} docs)")

        import ir_datasets
        import pyarrow as pa

        irds = ir_datasets.load("msmarco-passage/dev/small")
        t = time.perf_counter()
        count = sum(1 for _ in irds.docs_iter())
        it = time.perf_counter() - t
        print(f"ir_datasets docs_iter():                   {it:6.2f} s  ({count:,} docs)")

        t = time.perf_counter()
        ids, texts = [], []
        for doc in irds.docs_iter():
            ids.append(doc.doc_id)
            texts.append(doc.text)
        arrow = pa.table({"doc_id": ids, "text": texts})
        to_arrow = time.perf_counter() - t
        print(
            f"ir_datasets docs_iter() -> Arrow table:    {to_arrow:6.2f} s  ({arrow.num_rows:,} docs)"
        )

        print(f"ratio docs_iter / irbench cached:          {it / cached:6.1f}x")
        print(f"ratio docs_iter / (cached + touch):        {it / (cached + touched):6.1f}x")
        print(f"ratio docs_iter->Arrow / irbench cached:   {to_arrow / cached:6.1f}x")
        print(f"ratio docs_iter / irbench first load:      {it / first:6.1f}x")


if __name__ == "__main__":
    main()

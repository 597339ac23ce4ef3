#!/usr/bin/env python3
"""Local engine against a Dask cluster: `irbench eval --engine local` vs `--engine dask`.

Two workloads, each timed as whole `irbench eval` processes (what a user waits for):

(a) many runs: ``--runs`` DL-sized runs (the DL19 passage runs in ../shared/data/runs-rank_llm,
    copied with perturbed scores into a temporary folder), scored in parallel on the workers;
(b) one huge run: ``--queries`` x ``--depth`` synthetic run (and qrels), split by query into
    shards of ``--shard-size`` bytes.

The cluster start-up and shut-down cost (a LocalCluster of ``--workers`` processes) is measured
separately in its own process, so ``dask - overhead`` is the scoring time on the cluster. Both
engines must write byte-identical output (``-q -f tsv``); the script fails if they do not.

    python bench/bench_distributed.py                        # 200 runs; 100,000 x 100
    python bench/bench_distributed.py --runs 10 --queries 2000 --depth 20   # smoke test
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
DL_QRELS = SHARED / "trec-dl" / "qrels.dl19-passage.txt"
DL_RUNS = sorted((SHARED / "runs-rank_llm").glob("*/trec_results_dl19.txt"))
MEASURES = ["nDCG@10", "AP", "RR@10", "R@100", "P@10"]

OVERHEAD = """
import sys, time
from irbench.distributed import dask_client
t0 = time.perf_counter()
with dask_client(n_workers=int(sys.argv[1])) as client:
    t1 = time.perf_counter()
    client.submit(sum, [1, 2]).result()
    t2 = time.perf_counter()
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def many_runs(folder: Path, n: int, seed: int) -> list[Path]:
    """``n`` DL19 runs: the real ones, then copies with scores perturbed (ties broken anew)."""
    from irbench.io import read_run, write_run

    if not DL_RUNS:
        sys.exit(f"no DL19 runs under {SHARED / 'runs-rank_llm'}")
    rng = np.random.default_rng(seed)
    tables = [read_run(p) for p in DL_RUNS]
    out = []
    for i in range(n):
        t = tables[i % len(tables)]
        score = t.column("score").to_numpy() + rng.normal(0, 1e-3, t.num_rows)
        path = folder / f"run{i:04d}.txt"
        write_run(t.set_column(2, "score", pa.array(score)), path, name=f"run{i:04d}")
        out.append(path)
    return out


def huge_run(folder: Path, queries: int, depth: int, seed: int) -> tuple[Path, Path]:
    """Qrels (5 judgments per query) and a ``queries`` x ``depth`` run, as TREC text."""
    rng = np.random.default_rng(seed)
    q = np.char.add("q", np.arange(queries).astype(str))
    judged = 5
    qq = np.repeat(q, judged)
    # distinct within a query (different residues mod `judged`); the run retrieves residue 0
    doc = rng.integers(0, depth, qq.size) * judged + np.tile(np.arange(judged), queries)
    qd = np.char.add("d", doc.astype(str))
    qrels = folder / "qrels.txt"
    with qrels.open("w") as fh:
        rows = np.char.add(np.char.add(np.char.add(qq, " 0 "), qd), " ")
        fh.write("\n".join(np.char.add(rows, rng.integers(0, 4, qq.size).astype(str))) + "\n")
    run = folder / "huge.txt"
    with run.open("w") as fh:
        for start in range(0, queries, 10_000):  # bounded memory while writing
            qs = q[start : start + 10_000]
            rq = np.repeat(qs, depth)
            docs = np.char.add("d", (np.tile(np.arange(depth), qs.size) * judged).astype(str))
            rank = np.tile(np.arange(1, depth + 1), qs.size).astype(str)
            score = np.round(rng.normal(size=rq.size), 3).astype(str)
            cols = [rq, np.full(rq.size, "Q0"), docs, rank, score, np.full(rq.size, "huge")]
            line = cols[0]
            for c in cols[1:]:
                line = np.char.add(np.char.add(line, " "), c)
            fh.write("\n".join(line) + "\n")
    return qrels, run


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd[:6])} ...\n{res.stderr}")
    return wall


def overhead(workers: int) -> tuple[float, float, float]:
    """(start, first task round trip, close) of a LocalCluster, in a fresh process."""
    res = subprocess.run(
        [sys.executable, "-c", OVERHEAD, str(workers)], env=_env(), capture_output=True, text=True
    )
    if res.returncode:
        sys.exit(f"cluster start failed:\n{res.stderr}")
    start, task, close = map(float, res.stdout.split()[-3:])
    return start, task, close


def compare(
    label: str, qrels: Path, runs: list[Path], args: argparse.Namespace, out: Path
) -> dict[str, float]:
    base = [sys.executable, "-m", "irbench", "eval", str(qrels), *map(str, runs)]
    base += [a for m in MEASURES for a in ("-m", m)] + ["-q", "-f", "tsv"]
    dask = ["--engine", "dask", "--workers", str(args.workers), "--shard-size", args.shard_size]
    walls: dict[str, list[float]] = {"local": [], "dask": []}
    for rep in range(args.reps):  # interleaved: load spikes hit both engines alike
        walls["local"].append(timed([*base, "-o", str(out / f"{label}.local.tsv")]))
        walls["dask"].append(timed([*base, *dask, "-o", str(out / f"{label}.dask.tsv")]))
        same = filecmp.cmp(out / f"{label}.local.tsv", out / f"{label}.dask.tsv", shallow=False)
        if not same:
            sys.exit(f"{label}: --engine dask output differs from --engine local (rep {rep + 1})")
    return {k: statistics.median(v) for k, v in walls.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=200, help="DL-sized runs in workload (a)")
    ap.add_argument("--queries", type=int, default=100_000, help="queries of the huge run (b)")
    ap.add_argument("--depth", type=int, default=100, help="documents per query of (b)")
    ap.add_argument("--workers", type=int, default=2, help="local cluster size")
    ap.add_argument("--shard-size", default="256MB", help="--shard-size for --engine dask")
    ap.add_argument("--reps", type=int, default=1, help="repetitions (median reported)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="write data and outputs here (kept)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="irbench-dask-bench-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; data in {folder}")
        t0 = time.perf_counter()
        runs = many_runs(folder, args.runs, args.seed)
        qrels, huge = huge_run(folder, args.queries, args.depth, args.seed)
        size = huge.stat().st_size / 1e6
        print(f"generated in {time.perf_counter() - t0:.1f}s; huge run {size:.0f} MB")
        start, task, close = overhead(args.workers)
        print(
            f"cluster of {args.workers} workers: start {start:.1f}s, first task {task:.2f}s, "
            f"close {close:.1f}s (overhead {start + task + close:.1f}s per command)"
        )
        cost = start + task + close
        rows = [
            (f"(a) {args.runs} DL19 runs", compare("many", DL_QRELS, runs, args, folder)),
            (
                f"(b) {args.queries:,} x {args.depth} run",
                compare("huge", qrels, [huge], args, folder),
            ),
        ]
    print(f"\n{'workload':<28}{'local s':>9}{'dask s':>9}{'speed-up':>10}{'w/o overhead':>14}")
    for label, w in rows:
        net = max(w["dask"] - cost, 1e-9)
        print(
            f"{label:<28}{w['local']:>9.1f}{w['dask']:>9.1f}{w['local'] / w['dask']:>9.2f}x"
            f"{w['local'] / net:>13.2f}x"
        )
    print("outputs byte-identical: yes")


if __name__ == "__main__":
    main()

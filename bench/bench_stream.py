"""Peak memory and wall time of `irbench eval --stream` on a run larger than memory.

A benchmark script, not a test. It writes a synthetic run grouped by query (numpy, in pieces of
whole queries, never held whole) and matching qrels, then runs as fresh subprocesses:

* ``irbench eval QRELS RUN --stream`` on ``--lines`` lines (default 100M: 100,000 queries x
  1,000 documents, about 4 GB of text);
* the whole file read into one table and scored (``read_run`` + ``Evaluator.score_table``, as
  the Python API allows) on ``--whole-lines`` lines,
  and prints its peak RSS per line extrapolated to ``--lines`` next to the machine's memory
  (/proc/meminfo).

Peak RSS is the child's ``ru_maxrss`` from ``os.wait4``. Example (small; the 100M run takes a
while and ~4 GB of disk)::

    .venv/bin/python bench/bench_stream.py --lines 2000000 --whole-lines 1000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PIECE_QUERIES = 1000  # queries generated and written at a time
# The whole file in one table and scored (read_run + Evaluator.score_table).
WHOLE = """
import sys, warnings
from irbench import Evaluator
from irbench.io import read_run
warnings.simplefilter("ignore")
ev = Evaluator(sys.argv[1], ["nDCG@10", "AP", "RR@10"])
print(ev.score_table(read_run(sys.argv[2])).aggregates)
"""


def write_run(path: Path, num_queries: int, depth: int, seed: int = 0) -> None:
    """A TREC run of ``num_queries x depth`` lines grouped by query; doc ids ``d<k>``, scores
    descending with ties."""
    rng = np.random.default_rng(seed)
    with path.open("wb") as fh:
        for start in range(0, num_queries, PIECE_QUERIES):
            nq = min(PIECE_QUERIES, num_queries - start)
            qids = np.repeat(np.arange(start, start + nq), depth)
            docs = rng.integers(0, 50 * depth, size=(nq, depth))
            docs = np.sort(docs, axis=1)  # distinct per query after the step below
            docs = (docs + np.arange(depth)).ravel()  # strictly increasing within a query
            ranks = np.tile(np.arange(1, depth + 1), nq)
            scores = np.round(100.0 - ranks * 0.05 + rng.integers(0, 3, qids.size) * 0.01, 2)
            table = np.column_stack([qids, docs, ranks]).astype(str)
            lines = [
                f"{q} Q0 d{d} {r} {s} gen\n"
                for (q, d, r), s in zip(table.tolist(), scores.tolist(), strict=True)
            ]
            fh.write("".join(lines).encode())


def write_qrels(path: Path, num_queries: int, depth: int, seed: int = 1) -> None:
    """Qrels for every query: 20 judged documents drawn from the run's doc id range."""
    rng = np.random.default_rng(seed)
    with path.open("wb") as fh:
        for start in range(0, num_queries, PIECE_QUERIES):
            nq = min(PIECE_QUERIES, num_queries - start)
            stripe = 51 * depth // 20  # one judged document per stripe of the run's id range
            docs = rng.integers(0, stripe, size=(nq, 20)) + np.arange(20) * stripe
            grades = rng.integers(0, 3, size=(nq, 20))
            lines = [
                f"{start + i} 0 d{d} {g}\n"
                for i in range(nq)
                for d, g in zip(docs[i].tolist(), grades[i].tolist(), strict=True)
            ]
            fh.write("".join(lines).encode())


# Runs the measured command and prints its wall seconds and peak RSS. It is started as a fresh
# process so that the measured command is forked from a small one: Linux carries a parent's
# resident size into a forked child's ru_maxrss (through exec), and this script's own data
# generation makes it large.
_TIMER = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(proc.stderr.read().decode() if proc.stderr else "failed")
print(wall, usage.ru_maxrss * 1024)
"""


def measure(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process."""
    done = subprocess.run(
        [sys.executable, "-c", _TIMER, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{done.stderr}")
    wall, rss = done.stdout.split()
    return float(wall), int(rss)


def mem_total() -> int:
    """Physical memory in bytes (MemTotal of /proc/meminfo)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def dataset(root: Path, lines: int, depth: int) -> tuple[Path, Path]:
    """Run and qrels of ``lines`` lines (``lines // depth`` queries), generated once."""
    nq = max(1, lines // depth)
    run, qrels = root / f"run.{nq}x{depth}.txt", root / f"qrels.{nq}.txt"
    if not run.exists():
        write_run(run, nq, depth)
    if not qrels.exists():
        write_qrels(qrels, nq, depth)
    return run, qrels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000_000, help="streamed run size")
    parser.add_argument("--whole-lines", type=int, default=7_000_000, help="whole-file run size")
    parser.add_argument("--depth", type=int, default=1000, help="documents per query")
    parser.add_argument("--chunk-size", default="4MiB", help="--chunk-size of irbench eval")
    parser.add_argument("--data", type=Path, default=HERE / ".data" / "stream")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    irbench = [sys.executable, "-m", "irbench", "eval"]
    measures = ["-m", "nDCG@10", "-m", "AP", "-m", "RR@10", "-f", "tsv"]
    total = mem_total()
    print(f"machine memory: {total / 2**30:.1f} GiB")

    run, qrels = dataset(args.data, args.whole_lines, args.depth)
    wall, rss = measure([sys.executable, "-c", WHOLE, str(qrels), str(run)])
    per_line = rss / args.whole_lines
    print(f"whole file  {args.whole_lines:>12,} lines  {wall:8.1f} s  peak {rss / 2**30:6.2f} GiB")
    print(
        f"  -> {per_line:.0f} B/line; {args.lines:,} lines would need "
        f"~{per_line * args.lines / 2**30:.1f} GiB (machine: {total / 2**30:.1f} GiB)"
    )

    run, qrels = dataset(args.data, args.lines, args.depth)
    cmd = [*irbench, str(qrels), str(run), *measures, "--stream", "--chunk-size", args.chunk_size]
    wall, rss = measure(cmd)
    size = run.stat().st_size
    print(
        f"--stream    {args.lines:>12,} lines  {wall:8.1f} s  peak {rss / 2**30:6.2f} GiB  "
        f"({size / 2**30:.2f} GiB file, {args.lines / wall / 1e6:.2f} M lines/s)"
    )


if __name__ == "__main__":
    main()

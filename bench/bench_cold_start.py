#!/usr/bin/env python3
"""Cold start on a small run: `irbench eval` against pytrec_eval, as whole processes.

What a user waits for on a DL-sized run is mostly process start-up: the interpreter, imports,
argument parsing, then a few milliseconds of evaluation. Each measurement here is a fresh
process, timed from spawn to exit (wall, and the child's user + sys CPU from ``os.wait4``):

* ``irbench``: ``irbench eval QRELS RUN -m nDCG@10 -m AP -m RR@10`` (the table, to a pipe);
* ``pytrec_eval``: a Python process that imports pytrec_eval, reads the same qrels and run
  files with its parsers and evaluates the same measures (``ndcg_cut.10``, ``map``,
  ``recip_rank``; RR@10 is derived from ``recip_rank`` as trec_eval's users do);
* references: ``python -c pass``, ``import numpy``, ``import numpy, pyarrow``, and irbench's
  imports alone (what `irbench eval` imports, without reading or scoring), to show where the
  time goes.

Without bytecode (``__pycache__``) and with ``PYTHONDONTWRITEBYTECODE`` set, every start
compiles irbench's modules from source (about 0.1 s); ``make setup`` runs ``compileall``, and the
script says whether the bytecode is there.

Repetitions are interleaved (rep 1 of every command, then rep 2, ...) so that a change in the
machine's load hits all of them alike; the table gives medians and minima, and the ratios of
medians to pytrec_eval's. Both tools' means must agree to 1e-9 (checked once, untimed).

    python bench/bench_cold_start.py                 # DL19 BM25 run from ../shared/data, 21 reps
    python bench/bench_cold_start.py --reps 41 --qrels Q --run R

A benchmark script, not a test: it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
PACKAGED = REPO / "irbench" / "data" / "demo" / "dl19-passage"

PYTREC = r"""
import json, sys
import pytrec_eval
with open(sys.argv[1]) as f:
    qrels = pytrec_eval.parse_qrel(f)
with open(sys.argv[2]) as f:
    run = pytrec_eval.parse_run(f)
per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "map", "recip_rank"}).evaluate(run)
n = len(per_query)
means = {
    "nDCG@10": sum(v["ndcg_cut_10"] for v in per_query.values()) / n,
    "AP": sum(v["map"] for v in per_query.values()) / n,
}
if len(sys.argv) > 3:
    print(json.dumps(means))
"""

IRBENCH_IMPORTS = (  # what `irbench eval` imports for a table to a pipe (rich only on a terminal)
    "import irbench.cli.app, irbench.cli.eval_cmd, irbench.engine, irbench.engine.runs, "
    "irbench.engine.placement, irbench.engine.naming"
)


def timed_child(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one child, reaped with os.wait4 (its own rusage)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()}")
    return wall, usage.ru_utime + usage.ru_stime


def agree(python: str, irbench: str, qrels: Path, run: Path) -> None:
    """pytrec_eval's and irbench's means of nDCG@10 and AP must agree (untimed)."""
    ours = subprocess.run(
        [irbench, "eval", str(qrels), str(run), "-m", "nDCG@10", "-m", "AP", "-f", "jsonl"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    mine = {
        row["measure"]: row["value"]
        for row in map(json.loads, ours.stdout.splitlines())
        if row["query_id"] == "all"
    }
    theirs = json.loads(
        subprocess.run(
            [python, "-c", PYTREC, str(qrels), str(run), "print"],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    for name, value in theirs.items():
        if abs(mine[name] - value) > 1e-9:
            raise SystemExit(f"{name}: irbench {mine[name]!r} != pytrec_eval {value!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_qrels = SHARED / "trec-dl" / "qrels.dl19-passage.txt"
    default_run = SHARED / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt"
    if not default_run.exists():  # without ../shared: the packaged copy (gzip)
        default_qrels, default_run = PACKAGED / "qrels.txt.gz", PACKAGED / "runs" / "bm25.run.gz"
    parser.add_argument("--qrels", type=Path, default=default_qrels)
    parser.add_argument("--run", type=Path, default=default_run)
    parser.add_argument("--reps", type=int, default=21)
    parser.add_argument("--no-references", action="store_true", help="only the two tools")
    args = parser.parse_args()

    python = sys.executable
    irbench = str(Path(python).with_name("irbench"))
    q, r = str(args.qrels), str(args.run)
    agree(python, irbench, args.qrels, args.run)
    commands = {
        "irbench eval": [irbench, "eval", q, r, "-m", "nDCG@10", "-m", "AP", "-m", "RR@10"],
        "pytrec_eval": [python, "-c", PYTREC, q, r],
    }
    if not args.no_references:
        commands |= {
            "python -c pass": [python, "-c", "pass"],
            "import numpy": [python, "-c", "import numpy"],
            "import numpy, pyarrow": [python, "-c", "import numpy, pyarrow"],
            "import pyarrow.compute": [python, "-c", "import numpy, pyarrow, pyarrow.compute"],
            "irbench's imports": [python, "-c", IRBENCH_IMPORTS],
        }
    for cmd in commands.values():  # warm the page cache and the .pyc files
        timed_child(cmd)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.reps):
        for name, cmd in commands.items():
            wall, cpu = timed_child(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)

    load = os.getloadavg()
    print(
        f"{args.run} ({args.reps} interleaved reps; load average {load[0]:.2f} {load[1]:.2f}; "
        f"{os.cpu_count()} cores; Python {sys.version.split()[0]})\n"
    )
    import importlib.util

    compiled = Path(
        importlib.util.cache_from_source(str(REPO / "irbench" / "engine" / "ranking.py"))
    )
    print(
        f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; irbench's "
        f"bytecode {'present' if compiled.exists() else 'MISSING (every start compiles irbench)'}\n"
    )
    base_wall = statistics.median(walls["pytrec_eval"])
    base_cpu = statistics.median(cpus["pytrec_eval"])
    print(
        f"{'process':<24} {'wall median':>11} {'wall min':>9} {'CPU median':>10} "
        f"{'wall / pytrec_eval':>18} {'CPU / pytrec_eval':>17}"
    )
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(
            f"{name:<24} {wall:>10.3f}s {min(walls[name]):>8.3f}s {cpu:>9.3f}s "
            f"{wall / base_wall:>17.2f}x {cpu / base_cpu:>16.2f}x"
        )
    ratio = statistics.median(walls["irbench eval"]) / base_wall
    verdict = "met" if ratio <= 1.0 else "not met"
    print(f"\ntarget (irbench eval no slower than pytrec_eval's process): {verdict} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()

"""Hundreds of short ``irbench eval`` processes, three at a time: every one exits 0 with its
whole output.

The bug this guards against (issue 14): under load a finished ``irbench`` process sometimes
exited 134 (``terminate called without an active exception``) while pyarrow's C++ thread
pools were torn down at interpreter exit; ``irbench.cli.app.main`` now ends the process with
``os._exit`` once output is flushed. The runs read a grouped run file (the chunked reader's
thread pool and pyarrow's pools both start) and write JSON Lines, whose line count proves the
output complete. ``IRBENCH_STRESS_RUNS`` sets the number of processes (default 200).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

RUNS = int(os.environ.get("IRBENCH_STRESS_RUNS", "200"))
MEASURES = ["AP", "nDCG@10", "RR@10"]


@pytest.fixture(scope="module")
def small_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, int]:
    """A 20-query qrels and a grouped 20 x 50 run; returns (qrels, run, expected JSONL lines)."""
    d = tmp_path_factory.mktemp("stress")
    qrels, run = d / "qrels.txt", d / "run.txt"
    qrels.write_text(
        "".join(f"q{q} 0 d{q}_{k} {k % 3}\n" for q in range(20) for k in range(8)),
        encoding="utf-8",
    )
    run.write_text(
        "".join(
            f"q{q} Q0 d{q}_{k} {r + 1} {50 - r}.5 t\n"
            for q in range(20)
            for r, k in enumerate(range(0, 100, 2))
        ),
        encoding="utf-8",
    )
    return qrels, run, (20 + 1) * len(MEASURES)  # per query and "all", per measure


def test_short_runs_in_parallel_always_exit_zero(small_files: tuple[Path, Path, int]) -> None:
    qrels, run, lines = small_files
    args = [sys.executable, "-m", "irbench", "eval", str(qrels), str(run), "-q"]
    args += ["--format", "jsonl", *(x for m in MEASURES for x in ("-m", m))]

    def once(_: int) -> tuple[int, int, str]:
        proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
        return proc.returncode, len(proc.stdout.splitlines()), proc.stderr[-400:]

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(once, range(RUNS)))
    failed = [(code, n, err) for code, n, err in results if code != 0 or n != lines]
    assert not failed, f"{len(failed)} of {RUNS} runs failed, first: {failed[0]}"


def test_exit_code_is_the_commands(small_files: tuple[Path, Path, int]) -> None:
    """The stress test could not pass by always exiting 0: a failing command still exits 2."""
    qrels, _, _ = small_files
    proc = subprocess.run(
        [sys.executable, "-m", "irbench", "eval", str(qrels), str(qrels.parent / "absent.run")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr

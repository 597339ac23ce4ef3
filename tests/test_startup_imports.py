"""What a small evaluation's cold start does not pay for (bench/bench_cold_start.py times it).

A DL-sized `irbench eval` spends most of its half second importing; these tests keep the
imports it does not need off its path, so that a change that brings one back fails here
rather than showing up as a slower benchmark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from irbench.cli.app import one_blas_thread

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"

#: Modules `irbench eval QRELS RUN` must not import: each costs more than scoring a DL-sized
#: run (pandas ~0.2 s; numpy.ma ~20 ms, pulled in by np.unique; the dataset loaders ~35 ms).
NOT_ON_THE_EVAL_PATH = ("pandas", "numpy.ma", "irbench.datasets.dataset", "irbench.datasets.cache")


def test_eval_imports_only_what_it_needs() -> None:
    """The cold start of a small evaluation is mostly imports; these stay off its path."""
    script = (
        "import sys\n"
        "from irbench.cli.app import app\n"
        f"sys.argv = ['irbench', 'eval', {str(DEMO / 'qrels.txt.gz')!r},"
        f" {str(DEMO / 'runs' / 'bm25.run.gz')!r}, '-m', 'nDCG@10', '-m', 'AP', '-m', 'RR@10',"
        " '-q', '--format', 'tsv']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        f"print('LOADED', [m for m in {NOT_ON_THE_EVAL_PATH!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert "nDCG@10" in out
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_the_command_line_imports_numpy_only_for_a_command() -> None:
    """`main` sets OPENBLAS_NUM_THREADS before numpy loads, so loading the app must not load it."""
    script = "import sys, irbench.cli.app\nprint('numpy' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("argv", "given", "expected"),
    [
        (["eval", "q", "r"], None, "1"),
        (["--version"], None, "1"),
        (["compare", "q", "a", "b"], "4", "4"),  # the user's choice stands
        (["run", "vaswani", "--ranker", "dense"], None, None),  # dense encoding uses BLAS
        (["demo"], None, None),
    ],
)
def test_one_blas_thread(argv: list[str], given: str | None, expected: str | None) -> None:
    env = {} if given is None else {"OPENBLAS_NUM_THREADS": given}
    one_blas_thread(argv, env)
    assert env.get("OPENBLAS_NUM_THREADS") == expected

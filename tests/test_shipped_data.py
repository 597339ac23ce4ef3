"""The suite without ../shared: what is skipped, what still runs, and that CI cannot skip.

Tests that need the real data ask for the ``shared_data`` fixture; without ../shared/data it
skips them all from one place (one ``-ra`` line). Tests that need only TREC DL 2019 ask for
``dl19_data``, which falls back to the files shipped in irbench/data/demo: checked here to be
byte for byte the shared ones.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import DEMO_SYSTEMS, unpack_demo_dl19

TESTS = Path(__file__).resolve().parent


def test_shipped_dl19_files_are_the_shared_ones(shared_data: Path, tmp_path: Path) -> None:
    root = unpack_demo_dl19(tmp_path)
    files = sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())
    assert len(files) == 1 + len(DEMO_SYSTEMS)
    for rel in files:
        assert (root / rel).read_bytes() == (shared_data / rel).read_bytes(), rel


def _suite_without_shared(tmp_path: Path) -> Path:
    """A repo copy holding conftest.py and a few tests, with no shared/ beside it."""
    repo = tmp_path / "repo"
    (repo / "tests").mkdir(parents=True)
    shutil.copy(TESTS / "conftest.py", repo / "tests" / "conftest.py")
    shutil.copytree(TESTS.parent / "irbench" / "data" / "demo", repo / "irbench/data/demo")
    (repo / "tests" / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.parametrize('i', range(3))\n"
        "def test_real(shared_data, i):\n    assert shared_data.is_dir()\n"
        "def test_more_real(shared_data):\n    assert shared_data.is_dir()\n"
        "def test_shipped(dl19_data):\n"
        "    assert (dl19_data / 'trec-dl' / 'qrels.dl19-passage.txt').stat().st_size > 0\n"
    )
    return repo


def _pytest(repo: Path, ci: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "CI": ci, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-ra",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_shared_the_real_data_tests_skip_in_one_line(tmp_path: Path) -> None:
    out = _pytest(_suite_without_shared(tmp_path), ci="")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 4 skipped" in out.stdout
    skipped = [line for line in out.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, skipped
    assert skipped[0].startswith("SKIPPED [4]")
    assert "needs ../shared/data (the real data)" in skipped[0]


def test_under_ci_missing_shared_data_fails_loudly(tmp_path: Path) -> None:
    out = _pytest(_suite_without_shared(tmp_path), ci="true")
    assert out.returncode not in (0, 5), out.stdout
    assert "CI is set but the real test data is missing" in out.stdout + out.stderr


def test_example_spec_works_from_a_fresh_clone(tmp_path: Path) -> None:
    """examples/dl19-spec.toml (the README's spec example) needs nothing but the repository."""
    import pandas as pd
    from typer.testing import CliRunner

    import irbench
    from irbench.cli.app import app

    spec = TESTS.parent / "examples" / "dl19-spec.toml"
    out = tmp_path / "board.csv"
    result = CliRunner().invoke(app, ["leaderboard", "--spec", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    board = pd.read_csv(out)
    assert len(board) == 6 * 3 and set(board["dataset"]) == {"dl19"}
    assert set(board["baseline"]) == {"bm25"}
    demo = TESTS.parent / "irbench" / "data" / "demo" / "dl19-passage"
    expected = set()
    for run in sorted((demo / "runs").glob("*.run.gz")):  # the same numbers as `irbench eval`
        table = irbench.evaluate(demo / "qrels.txt.gz", run, "nDCG@10", output="pandas")
        expected.add(float(table.loc[table["query_id"] == "all", "value"].iloc[0]))
    assert set(board.loc[board["measure"] == "nDCG@10", "value"]) == expected

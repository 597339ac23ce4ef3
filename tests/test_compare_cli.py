"""`irbench compare` through typer's CliRunner on small generated files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app

N_Q = 12


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("cmp")
    qrels = root / "qrels.txt"
    lines = []
    for q in range(N_Q):
        for d in range(6):
            lines.append(f"{q} 0 d{d} {int(rng.integers(0, 3))}")
    qrels.write_text("\n".join(lines) + "\n")
    runs = []
    for s, shift in enumerate([0.0, 0.5, 2.0]):
        path = root / f"sys{s}.run"
        out = []
        for q in range(N_Q):
            for d in range(6):
                score = rng.random() + shift * (d < 2)
                out.append(f"{q} Q0 d{d} 0 {score:.6f} tag")
        path.write_text("\n".join(out) + "\n")
        runs.append(path)
    return qrels, runs


def _run(args: list[str]) -> object:
    return CliRunner().invoke(app, ["compare", *args])


def test_jsonl_fields(files: tuple[Path, list[Path]]) -> None:
    qrels, runs = files
    res = _run(
        [
            str(qrels),
            *map(str, runs),
            "-m",
            "nDCG@10",
            "-m",
            "AP",
            "--baseline",
            "sys0",
            "--test",
            "randomization",
            "--seed",
            "3",
            "--format",
            "jsonl",
        ]
    )
    assert res.exit_code == 0, res.output
    recs = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(recs) == 2 * 2
    need = {
        "run",
        "baseline",
        "measure",
        "mean",
        "delta",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "test",
        "correction",
        "significant",
    }
    assert need <= set(recs[0])
    assert {r["baseline"] for r in recs} == {"sys0"}
    assert all(r["test"] == "randomization" and r["n_queries"] == N_Q for r in recs)
    again = _run(
        [
            str(qrels),
            *map(str, runs),
            "-m",
            "nDCG@10",
            "-m",
            "AP",
            "--baseline",
            "sys0",
            "--test",
            "randomization",
            "--seed",
            "3",
            "--format",
            "jsonl",
        ]
    )
    assert again.stdout == res.stdout


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "latex"])
def test_formats(files: tuple[Path, list[Path]], fmt: str) -> None:
    qrels, runs = files
    res = _run([str(qrels), *map(str, runs), "-m", "nDCG@10", "--format", fmt])
    assert res.exit_code == 0, res.output
    assert "sys2" in res.stdout
    if fmt == "latex":
        assert "\\begin{tabular}" in res.stdout and "\\textbf{" in res.stdout
    if fmt == "csv":
        assert res.stdout.splitlines()[0].startswith("run,baseline,measure")


def test_output_file_replaced_whole(files: tuple[Path, list[Path]], tmp_path: Path) -> None:
    qrels, runs = files
    out = tmp_path / "cmp.csv"
    out.write_text("old table\n")
    res = _run([str(qrels), *map(str, runs), "-m", "AP", "--format", "csv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("run,baseline,measure")
    assert [p.name for p in tmp_path.iterdir()] == ["cmp.csv"]  # no temporary file left
    bad = _run([str(qrels), str(runs[0]), "-m", "AP", "--format", "csv", "-o", str(out)])
    assert bad.exit_code == 2
    assert out.read_text().startswith("run,baseline,measure")  # a failed run keeps the old file


def test_usage_errors_exit_2(files: tuple[Path, list[Path]]) -> None:
    qrels, runs = files
    res = _run([str(qrels), *map(str, runs), "-m", "nDCG@10", "--baseline", "nope"])
    assert res.exit_code == 2
    assert "baseline" in res.output
    res = _run([str(qrels), str(runs[0]), "-m", "nDCG@10"])
    assert res.exit_code == 2


def test_cli_choices_come_from_the_tables_compare_runs() -> None:
    """--test/--correction of compare, table and leaderboard (and --ci/--family of compare)
    offer exactly the names of irbench.stats.methods, the tables compare_aligned runs."""
    from irbench.cli.app import load_command
    from irbench.stats.methods import CI_METHODS, CORRECTIONS, SIGNIFICANCE_TESTS, TESTS

    assert tuple(SIGNIFICANCE_TESTS) == TESTS and "tukey-randomized" in TESTS
    for name in ("compare", "table", "leaderboard"):
        params = {p.name: p for p in load_command(name).params}
        assert tuple(params["test"].type.choices) == TESTS, name
        assert tuple(params["correction"].type.choices) == CORRECTIONS, name
    params = {p.name: p for p in load_command("compare").params}
    assert tuple(params["ci"].type.choices) == CI_METHODS
    assert tuple(params["family"].type.choices) == ("all", "measure")

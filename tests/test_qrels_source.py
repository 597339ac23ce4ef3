"""Dataset ids are resolved above irbench.io (irbench.datasets.qrels_source), and reach every
place that takes a qrels file: irbench.read_qrels, Evaluator, evaluate, leaderboard specs, the
CLI. irbench.io itself reads files and tables only and never imports irbench.datasets."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import irbench
from irbench.cli.app import app
from irbench.datasets import load_dataset
from irbench.errors import MissingFileError

IO_DIR = Path(irbench.__file__).parent / "io"
MEASURES = ["nDCG@10", "AP", "P@5"]


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IRBENCH_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def run_file(shared_data: Path, tmp_path: Path) -> Path:
    """A Vaswani run: for each query, its judged documents and some others, scored by line."""
    lines = (shared_data / "vaswani" / "qrels").read_text().split("\n")
    out = []
    for n, line in enumerate(x for x in lines if x.strip()):
        qid, _, doc, _ = line.split()
        out.append(f"{qid} Q0 {doc} 0 {(n * 7919) % 101 / 7} r")
        out.append(f"{qid} Q0 x{doc} 0 {(n * 104729) % 97 / 5} r")
    path = tmp_path / "run.txt"
    path.write_text("\n".join(out) + "\n")
    return path


def test_read_qrels_takes_ids_and_files(offline_env: Path, shared_data: Path) -> None:
    by_id = irbench.read_qrels("vaswani")
    by_file = irbench.read_qrels(shared_data / "vaswani" / "qrels")
    assert by_id.equals(by_file)
    assert by_id.schema.metadata is None  # as the file reader returns qrels
    assert by_id.equals(load_dataset("vaswani").qrels().replace_schema_metadata(None))


def test_io_reads_files_only(offline_env: Path) -> None:
    from irbench.io import read_qrels

    with pytest.raises(MissingFileError, match="vaswani: no such file"):
        read_qrels("vaswani")


def test_close_id_is_suggested_through_every_entry(offline_env: Path, run_file: Path) -> None:
    with pytest.raises(MissingFileError, match="did you mean vaswani"):
        irbench.Evaluator("vaswanni", MEASURES)
    with pytest.raises(MissingFileError, match="did you mean vaswani"):
        irbench.evaluate("vaswanni", [run_file], MEASURES)


def test_evaluator_evaluate_and_cli_accept_ids(
    offline_env: Path, shared_data: Path, run_file: Path
) -> None:
    qrels_file = shared_data / "vaswani" / "qrels"
    by_id = irbench.Evaluator("vaswani", MEASURES).score(run_file)
    by_file = irbench.Evaluator(qrels_file, MEASURES).score(run_file)
    assert by_id.aggregates == by_file.aggregates
    assert min(by_id.aggregates.values()) > 0  # the run finds judged documents
    a = irbench.evaluate("vaswani", [run_file], MEASURES)
    b = irbench.evaluate(str(qrels_file), [run_file], MEASURES)
    assert a.equals(b)
    args = [str(run_file), "-m", "nDCG@10", "-m", "AP", "-q", "--format", "jsonl"]
    runner = CliRunner()
    cli_id = runner.invoke(app, ["eval", "vaswani", *args])
    cli_file = runner.invoke(app, ["eval", str(qrels_file), *args])
    assert cli_id.exit_code == 0, cli_id.output
    assert cli_id.stdout == cli_file.stdout


def test_leaderboard_spec_accepts_ids(offline_env: Path, shared_data: Path, run_file: Path) -> None:
    tables = []
    for qrels in ("vaswani", (shared_data / "vaswani" / "qrels").as_posix()):
        spec = offline_env / f"spec-{len(tables)}.toml"
        spec.write_text(
            'measures = ["nDCG@10", "AP"]\n'
            f'[datasets.v]\nqrels = "{qrels}"\nruns = {{ R = "{run_file.as_posix()}" }}\n'
        )
        tables.append(irbench.leaderboard(spec=spec))
    got, want = (t.drop(columns=[c for c in t.columns if "sha" in c]) for t in tables)
    assert len(got) == 2
    assert got.equals(want)


def test_io_never_imports_datasets(shared_data: Path) -> None:
    for path in IO_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.startswith("irbench.datasets")], path
        assert "importlib" not in names, path  # no import by name either
    code = (
        "import sys, irbench.io as io; "
        f"io.read_qrels({str(shared_data / 'vaswani' / 'qrels')!r}); "
        "sys.exit('irbench.datasets' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

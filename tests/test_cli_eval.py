"""The `irbench eval`, `measures` and `demo` commands, in-process and as a real subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def dl19(dl19_data: Path) -> tuple[str, str, str]:
    qrels = str(dl19_data / "trec-dl" / "qrels.dl19-passage.txt")
    bm25 = str(dl19_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt")
    splade = str(
        dl19_data / "runs-rank_llm" / "SPLADE_P_P_ENSEMBLE_DISTIL" / "trec_results_dl19.txt"
    )
    return qrels, bm25, splade


def test_jsonl_lines_carry_the_documented_keys(dl19: tuple[str, str, str]) -> None:
    qrels, bm25, _ = dl19
    res = runner.invoke(
        app, ["eval", qrels, bm25, "-m", "nDCG@10", "-m", "AP(rel=2)", "-q", "-f", "jsonl"]
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert {tuple(sorted(r)) for r in rows} == {("measure", "query_id", "run", "value")}
    assert len(rows) == 2 * (43 + 1)
    mean = [r for r in rows if r["query_id"] == "all" and r["measure"] == "nDCG@10"]
    per_q = [r["value"] for r in rows if r["query_id"] != "all" and r["measure"] == "nDCG@10"]
    assert mean[0]["value"] == pytest.approx(sum(per_q) / len(per_q), abs=1e-15)
    assert mean[0]["value"] == pytest.approx(0.5058, abs=5e-5)  # Pyserini's published BM25 DL19


def test_runs_with_the_same_tag_get_distinct_names(dl19: tuple[str, str, str]) -> None:
    qrels, bm25, splade = dl19
    res = runner.invoke(app, ["eval", qrels, bm25, splade, "-m", "RR@10", "-f", "csv"])
    assert res.exit_code == 0, res.output
    names = {line.split(",")[0] for line in res.stdout.splitlines()[1:]}
    assert names == {"BM25/trec_results_dl19", "SPLADE_P_P_ENSEMBLE_DISTIL/trec_results_dl19"}


def test_trec_eval_names_and_trec_format(dl19: tuple[str, str, str]) -> None:
    qrels, bm25, _ = dl19
    res = runner.invoke(app, ["eval", qrels, bm25, "-m", "P.5,10", "-m", "map", "-f", "trec"])
    assert res.exit_code == 0, res.output
    names = [line.split()[0] for line in res.stdout.splitlines()]
    assert names == ["P_5", "P_10", "map"]


def test_table_output_and_json(dl19: tuple[str, str, str]) -> None:
    qrels, bm25, splade = dl19
    res = runner.invoke(app, ["eval", qrels, bm25, splade, "-m", "nDCG@10"])
    assert res.exit_code == 0 and "nDCG@10" in res.stdout and "0.7308" in res.stdout
    res = runner.invoke(app, ["eval", qrels, bm25, "-m", "nDCG@10", "-f", "json"])
    doc = json.loads(res.stdout)
    assert doc["trec_results_dl19"]["all"]["nDCG@10"] == pytest.approx(0.50583, abs=1e-5)


def test_output_file_is_written(dl19: tuple[str, str, str], tmp_path: Path) -> None:
    qrels, bm25, _ = dl19
    out = tmp_path / "res.tsv"
    res = runner.invoke(app, ["eval", qrels, bm25, "-m", "RR", "-f", "tsv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("run\tmeasure\tquery_id\tvalue\n")
    assert [p.name for p in tmp_path.iterdir()] == ["res.tsv"]


def test_missing_queries_warn_and_c_scores_them(tmp_path: Path, dl19: tuple[str, str, str]) -> None:
    qrels, bm25, _ = dl19
    lines = Path(bm25).read_text().splitlines()
    first_q = lines[0].split()[0]
    partial = tmp_path / "partial.run"
    partial.write_text("\n".join(line for line in lines if line.split()[0] != first_q) + "\n")
    res = runner.invoke(app, ["eval", qrels, str(partial), "-m", "RR", "-f", "tsv"])
    assert res.exit_code == 0
    assert "lacks 1 of the qrels queries" in res.stderr
    res_c = runner.invoke(app, ["eval", qrels, str(partial), "-m", "RR", "-f", "tsv", "-c"])
    skip = float(res.stdout.splitlines()[-1].split("\t")[-1])
    zero = float(res_c.stdout.splitlines()[-1].split("\t")[-1])
    assert zero == pytest.approx(skip * 42 / 43, abs=1e-12)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-m", "nDGC@10"], "did you mean nDCG"),
        (["-m", "P@0"], "whole number"),
    ],
)
def test_bad_measure_exits_2(dl19: tuple[str, str, str], args: list[str], fragment: str) -> None:
    qrels, bm25, _ = dl19
    res = runner.invoke(app, ["eval", qrels, bm25, *args])
    assert res.exit_code == 2
    assert fragment in res.stderr


def test_bad_run_file_names_file_and_line(tmp_path: Path, dl19: tuple[str, str, str]) -> None:
    qrels, _, _ = dl19
    bad = tmp_path / "bad.run"
    bad.write_text("19335 Q0 d1 1 0.5 x\n19335 Q0 d2 2 abc x\n")
    res = runner.invoke(app, ["eval", qrels, str(bad), "-m", "RR"])
    assert res.exit_code == 2
    assert "bad.run:2" in res.stderr


def test_duplicate_document_in_run_is_refused(tmp_path: Path, dl19: tuple[str, str, str]) -> None:
    qrels, _, _ = dl19
    dup = tmp_path / "dup.run"
    dup.write_text("19335 Q0 d1 1 0.5 x\n19335 Q0 d2 2 0.4 x\n19335 Q0 d1 3 0.3 x\n")
    res = runner.invoke(app, ["eval", qrels, str(dup), "-m", "RR"])
    assert res.exit_code == 2
    assert "d1" in res.stderr and "twice" in res.stderr
    assert "dup.run:3" in res.stderr and "lines 1, 3" in res.stderr


def test_missing_file_exits_2(dl19: tuple[str, str, str]) -> None:
    qrels, _, _ = dl19
    res = runner.invoke(app, ["eval", qrels, "/no/such/run.txt", "-m", "RR"])
    assert res.exit_code == 2
    assert "/no/such/run.txt" in res.stderr


def test_measures_lists_definitions() -> None:
    res = runner.invoke(app, ["measures"])
    assert res.exit_code == 0
    for name in ("nDCG", "Bpref", "infAP", "IPrec", "RBP", "ERR", "Judged"):
        assert name in res.stdout
    one = runner.invoke(app, ["measures", "nDCG@10"])
    assert one.exit_code == 0 and "Normalised" in one.stdout and "Bpref" not in one.stdout


def test_demo_runs_offline(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    res = runner.invoke(app, ["demo", "-o", str(out), "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert "bm25" in res.stdout and "repllama" in res.stdout and "nDCG@10" in res.stdout
    for name in ("bm25", "dense", "rrf-bm25+dense"):  # the names `irbench run` gives them
        assert (out / f"vaswani-{name}.run").stat().st_size > 0
        assert (out / f"vaswani-{name}.run.meta.json").is_file()
    board = pd.read_csv(out / "leaderboard-vaswani.csv")
    ap = board[board.measure == "AP"].set_index("run")["value"]
    assert set(ap.index) == {"bm25", "dense", "rrf"}
    # Published BM25 MAP on Vaswani is about 0.3 (PyTerrier's tutorial: 0.2967).
    assert 0.25 < ap["bm25"] < 0.35 and ap["dense"] > 0.1 and ap["rrf"] > 0.2


def test_real_subprocess_reads_stdin(dl19: tuple[str, str, str]) -> None:
    qrels, bm25, _ = dl19
    proc = subprocess.run(
        [sys.executable, "-m", "irbench", "eval", qrels, "-", "-m", "nDCG@10", "-f", "tsv"],
        input=Path(bm25).read_bytes(),
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    last = proc.stdout.decode().splitlines()[-1].split("\t")
    assert last[1:3] == ["nDCG@10", "all"] and float(last[3]) == pytest.approx(0.50583, abs=1e-5)


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.startswith("irbench ")


def test_eval_imports_only_its_own_command(dl19: tuple[str, str, str]) -> None:
    """`irbench eval` imports and builds the eval command alone (the others' modules and typer
    objects cost ~40 ms per invocation), and no rich unless typer itself imports it."""
    qrels, bm25, _ = dl19
    script = (
        "import sys\n"
        "import typer\n"
        "rich_by_typer = 'rich' in sys.modules\n"
        "from irbench.cli.app import app\n"
        f"sys.argv = ['irbench', 'eval', {qrels!r}, {bm25!r}, '-m', 'nDCG@10', '-f', 'tsv']\n"
        "try:\n    app()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "cli = sorted(m for m in sys.modules if m.startswith('irbench.cli'))\n"
        "print('MODULES', ' '.join(cli))\n"
        "print('RICH', 'rich' in sys.modules and not rich_by_typer)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[-2].split()[1:] == [
        "irbench.cli",
        "irbench.cli.app",
        "irbench.cli.common",
        "irbench.cli.eval_cmd",
        "irbench.cli.eval_output",
    ]
    assert out[-1] == "RICH False"


def test_help_and_suggestions_see_every_command() -> None:
    from irbench.cli.app import COMMANDS

    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0, res.output
    listed = re.findall(r"^│ (\S+) ", res.stdout, flags=re.MULTILINE)
    assert [name for name in listed if name in COMMANDS] == list(COMMANDS)
    res = runner.invoke(app, ["evl", "x"])
    assert res.exit_code == 2 and "Did you mean 'eval'?" in res.output

"""`--judged` and `--bounds` in `irbench eval`, `leaderboard` and `check`, on the shipped DL19
runs (RepLLaMA and ada-002 retrieve unjudged passages in their top 10)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.engine import Evaluator
from irbench.engine.unjudged import score_bounds
from irbench.measures import parse_measure

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "irbench" / "data" / "demo" / "dl19-passage"
QRELS = str(DEMO / "qrels.txt.gz")
REPLLAMA = str(DEMO / "runs" / "repllama.run.gz")
BM25 = str(DEMO / "runs" / "bm25.run.gz")
ADA = str(DEMO / "runs" / "openai-ada2.run.gz")

runner = CliRunner()


def _ok(*args: str) -> str:
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


def test_eval_judged_puts_judged_at_k_beside_each_measure() -> None:
    out = _ok("eval", QRELS, REPLLAMA, "-m", "nDCG@10", "-m", "AP(rel=2)", "--judged", "-f", "csv")
    df = pd.read_csv(io.StringIO(out))
    assert list(df["measure"]) == ["nDCG@10", "Judged@10", "AP(rel=2)", "Judged"]
    judged10 = (
        Evaluator(QRELS, ["Judged@10"]).score(REPLLAMA).aggregates[parse_measure("Judged@10")]
    )
    assert df.loc[df["measure"] == "Judged@10", "value"].item() == judged10
    assert judged10 < 1.0  # RepLLaMA has unjudged passages in its top 10


def test_eval_bounds_csv_and_jsonl() -> None:
    measures = ["nDCG@10", "AP(rel=2)", "RBP_resid@10"]
    args = [a for m in measures for a in ("-m", m)]
    out = _ok("eval", QRELS, REPLLAMA, ADA, *args, "--bounds", "-q", "-f", "csv")
    df = pd.read_csv(io.StringIO(out), dtype={"query_id": str})
    assert list(df.columns) == ["run", "measure", "query_id", "value", "low", "high"]
    assert (df["value"] == df["low"]).all()
    ev = Evaluator(QRELS, measures)
    for path, name in ((REPLLAMA, "repllama"), (ADA, "openai-ada2")):
        b = score_bounds(ev, path)
        for m in ev.measures:
            rows = df[(df["run"] == name) & (df["measure"] == str(m))]
            assert rows["high"].tolist()[:-1] == b.high.values[m].tolist()
            assert rows["high"].tolist()[-1] == b.high.aggregates[m]
    ndcg = df[(df["measure"] == "nDCG@10") & (df["query_id"] == "all")]
    assert (ndcg["high"] > ndcg["low"]).all()  # both have unjudged passages in the top 10

    lines = _ok("eval", QRELS, BM25, "-m", "nDCG@10", "--bounds", "-f", "jsonl").splitlines()
    row = json.loads(lines[0])
    assert set(row) == {"run", "query_id", "measure", "value", "low", "high"}
    assert row["low"] == row["high"] == row["value"]  # BM25's top 10 are all judged


def test_eval_bounds_table_json_and_trec() -> None:
    out = _ok("eval", QRELS, REPLLAMA, "-m", "nDCG@10", "--bounds")
    assert "nDCG@10 low" in out and "nDCG@10 high" in out and "0.7384" in out
    doc = json.loads(_ok("eval", QRELS, REPLLAMA, "-m", "nDCG@10", "--bounds", "-f", "json"))
    cell = next(iter(doc.values()))["all"]  # one run: named by its tag, as without --bounds
    assert cell["nDCG@10 low"] == cell["nDCG@10"] < cell["nDCG@10 high"]
    trec = _ok("eval", QRELS, REPLLAMA, "-m", "nDCG@10", "--bounds", "-f", "trec").splitlines()
    assert [line.split()[0] for line in trec] == [
        "ndcg_cut_10",
        "ndcg_cut_10_low",
        "ndcg_cut_10_high",
    ]


def test_eval_bounds_refuses_stream_with_exit_2() -> None:
    res = runner.invoke(app, ["eval", QRELS, BM25, "-m", "nDCG@10", "--bounds", "--stream"])
    assert res.exit_code == 2
    assert "--bounds" in res.output


def test_eval_judged_only_measure_on_the_command_line() -> None:
    out = _ok(
        "eval", QRELS, REPLLAMA, "-m", "nDCG(judged_only=True)@10", "-m", "nDCG@10", "-f", "csv"
    )
    df = pd.read_csv(io.StringIO(out)).set_index("measure")["value"]
    minus_j = _ok("eval", QRELS, REPLLAMA, "-m", "nDCG@10", "-J", "-f", "csv")
    assert df["nDCG(judged_only=True)@10"] == pd.read_csv(io.StringIO(minus_j))["value"].item()
    assert df["nDCG(judged_only=True)@10"] > df["nDCG@10"]
    res = runner.invoke(app, ["eval", QRELS, BM25, "-m", "RBP(judged_only=True)"])
    assert res.exit_code == 2 and "judged_only" in res.output


def test_leaderboard_judged_and_bounds_columns(tmp_path: Path) -> None:
    from irbench.report.leaderboard import COLUMNS

    out = tmp_path / "board.csv"
    _ok("leaderboard", QRELS, BM25, REPLLAMA, "-m", "nDCG@10", "-m", "AP(rel=2)",
        "--judged", "--bounds", "--no-ties", "-o", str(out))  # fmt: skip
    df = pd.read_csv(out)
    assert tuple(df.columns) == (*COLUMNS, "judged", "unjudged_low", "unjudged_high")
    assert (df["unjudged_low"] == df["value"]).all()
    ev = Evaluator(QRELS, ["nDCG@10", "AP(rel=2)", "Judged@10", "Judged"])
    s = ev.score(REPLLAMA)
    b = score_bounds(ev, REPLLAMA)
    rep = df[df["run"] == "repllama"].set_index("measure")
    nd, ap, j10, j = ev.measures
    assert rep.loc["nDCG@10", "judged"] == s.aggregates[j10]
    assert rep.loc["AP(rel=2)", "judged"] == s.aggregates[j]
    assert rep.loc["nDCG@10", "unjudged_high"] == b.high.aggregates[nd]
    assert rep.loc["AP(rel=2)", "unjudged_high"] == b.high.aggregates[ap]
    plain = tmp_path / "plain.csv"
    _ok("leaderboard", QRELS, BM25, "-m", "nDCG@10", "--no-ties", "-o", str(plain))
    assert tuple(pd.read_csv(plain).columns) == COLUMNS  # unchanged unless asked


def test_leaderboard_group_and_average_rows_combine_the_new_columns(shared_data: Path) -> None:
    """A group row (CQADupStack-style) takes its members' mean, the average row the BEIR mean
    with the group counted once, as ``value`` does."""
    import irbench
    from irbench.report.leaderboard import DatasetSpec, build_leaderboard

    def spec(y: str, group: str | None) -> DatasetSpec:
        qrels = str(shared_data / "trec-dl" / f"qrels.{y}-passage.txt")
        run = str(shared_data / "runs-rank_llm" / "BM25" / f"trec_results_{y}.txt")
        return DatasetSpec(y, qrels, [run], ["BM25"], group=group)

    both = [spec("dl19", "dl"), spec("dl20", "dl"), spec("dl19", None)]
    both[2].name = "again"
    board = build_leaderboard(
        both, ["nDCG@10"], ties=False, judged=True, bounds=True, force=True
    ).table.set_index("dataset")
    for col in ("value", "judged", "unjudged_low", "unjudged_high"):
        group = (board.loc["dl19", col] + board.loc["dl20", col]) / 2
        assert math.isclose(board.loc["dl", col], group, rel_tol=0, abs_tol=1e-15)
        avg = (group + board.loc["again", col]) / 2
        assert math.isclose(board.loc["average", col], avg, rel_tol=0, abs_tol=1e-15)
    assert (
        irbench.leaderboard(QRELS, [BM25], "nDCG@10", ties=False, bounds=True)["unjudged_high"]
        .notna()
        .all()
    )


def test_check_shows_judged_and_bounds_without_recording_them(tmp_path: Path) -> None:
    baseline = tmp_path / "b.toml"
    _ok("check", "--baseline", str(baseline), QRELS, REPLLAMA, "-m", "nDCG@10", "--update")
    before = baseline.read_text()
    out = _ok("check", "--baseline", str(baseline), QRELS, REPLLAMA, "--judged", "--bounds",
              "-f", "markdown")  # fmt: skip
    assert "Judged@10 0.9186" in out and "unjudged as relevant 0.7588" in out
    assert baseline.read_text() == before
    assert "as relevant" not in before and "Judged" not in before


def test_table_judged_column_and_bounds_annotation(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess

    import irbench

    t = irbench.table(QRELS, [BM25, REPLLAMA], ["nDCG@10", "AP(rel=2)"], baselines="bm25",
                      dataset="dl19", judged=True, bounds=True)  # fmt: skip
    assert [c.key for c in t.columns] == ["nDCG@10", "Judged@10", "AP(rel=2)", "Judged"]
    ev = Evaluator(QRELS, ["nDCG@10", "Judged@10"])
    b = score_bounds(ev, REPLLAMA)
    f = t.frame.set_index(["run", "measure"])
    assert f.loc[("repllama", "Judged@10"), "value"] == b.low.aggregates[ev.measures[1]]
    assert f.loc[("repllama", "nDCG@10"), "unjudged_high"] == b.high.aggregates[ev.measures[0]]
    md = t.to_markdown()
    assert "**0.7384**<sup>a</sup> (≤ 0.7588)" in md and "unjudged documents counted" in md
    tex = t.to_latex(standalone=True)
    assert r"($\le$ 0.7588)" in tex
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            raise AssertionError("pdflatex is missing in CI")
        return
    (tmp_path / "t.tex").write_text(tex)
    res = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:]

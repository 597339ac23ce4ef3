"""`irbench leaderboard`: on the six real DL19 and DL20 systems the CSV holds one row per run x
measure with `irbench eval`'s values; reports, comparability guard, ties and spec errors."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import irbench
from irbench.cli.app import app

MEASURES = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10"]
SYSTEMS = [
    "BM25",
    "BM25_RM3",
    "D_BERT_KD_TASB",
    "OPEN_AI_ADA2",
    "REP_LLAMA",
    "SPLADE_P_P_ENSEMBLE_DISTIL",
]


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["leaderboard", *args])


@pytest.fixture(scope="module")
def board(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    root = tmp_path_factory.mktemp("board")
    spec = root / "spec.toml"
    data = shared_data.as_posix()
    spec.write_text(
        f'measures = {MEASURES!r}\nbaseline = "BM25"\n'.replace("'", '"')
        + "".join(
            f'[datasets.{y}]\nqrels = "{data}/trec-dl/qrels.{y}-passage.txt"\n'
            f'runs = ["{data}/runs-rank_llm/*/trec_results_{y}.txt*"]\nrun_names = "parent"\n'
            for y in ("dl19", "dl20")
        )
    )
    out = root / "board.csv"
    res = _invoke("--spec", str(spec), "-o", str(out))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    return pd.read_csv(out, dtype={"run_sha256": str, "qrels_sha256": str})


def test_columns_are_the_documented_ones(board: pd.DataFrame) -> None:
    from irbench.report.leaderboard import COLUMNS

    assert tuple(board.columns) == COLUMNS
    assert (board["irbench_version"] == irbench.__version__).all()
    assert set(board["tie_policy"]) == {"float32-score-desc-docid-desc"}
    assert set(board["query_policy"]) == {"skip-missing"}


@pytest.mark.parametrize("year", ["dl19", "dl20"])
def test_values_equal_irbench_eval(board: pd.DataFrame, shared_data: Path, year: str) -> None:
    rows = board[board["dataset"] == year]
    assert len(rows) == len(SYSTEMS) * len(MEASURES)
    assert set(zip(rows["run"], rows["measure"], strict=True)) == {
        (s, m) for s in SYSTEMS for m in MEASURES
    }
    qrels = shared_data / "trec-dl" / f"qrels.{year}-passage.txt"
    for system in SYSTEMS:
        (path,) = (shared_data / "runs-rank_llm" / system).glob(f"trec_results_{year}.txt*")
        ev = irbench.evaluate(qrels, path, MEASURES, output="pandas")
        ev = ev[ev["query_id"] == "all"].set_index("measure")["value"]
        mine = rows[rows["run"] == system].set_index("measure")
        for m in MEASURES:
            assert mine.loc[m, "value"] == pytest.approx(ev[m], abs=1e-15, rel=0)
            assert mine.loc[m, "ci_low"] < mine.loc[m, "value"] < mine.loc[m, "ci_high"]
            assert mine.loc[m, "tie_low"] <= mine.loc[m, "value"] <= mine.loc[m, "tie_high"]
        assert mine["n_queries"].iloc[0] == (43 if year == "dl19" else 54)
    assert rows["qrels_sha256"].nunique() == 1 and len(rows["qrels_sha256"].iloc[0]) == 64
    assert rows.groupby("run")["run_sha256"].nunique().eq(1).all()
    assert rows["run_sha256"].nunique() == len(SYSTEMS)


def test_baseline_tests_match_compare(board: pd.DataFrame, shared_data: Path) -> None:
    rows = board[board["dataset"] == "dl19"]
    base = rows[rows["run"] == "BM25"]
    assert (base["delta"] == 0).all() and base["p_value"].isna().all()
    paths = [
        next((shared_data / "runs-rank_llm" / s).glob("trec_results_dl19.txt*")) for s in SYSTEMS
    ]
    cmp = irbench.compare(
        shared_data / "trec-dl" / "qrels.dl19-passage.txt",
        paths,
        MEASURES,
        names=SYSTEMS,
        baseline="BM25",
    ).set_index(["run", "measure"])
    for r in rows[rows["run"] != "BM25"].itertuples():
        c = cmp.loc[(r.run, r.measure)]
        assert r.delta == pytest.approx(c["delta"], abs=1e-12)
        assert r.p_adjusted == pytest.approx(c["p_adjusted"], rel=1e-9)
        assert r.significant == c["significant"] and r.correction == "holm"


def test_average_rows_and_win_tie_loss(board: pd.DataFrame) -> None:
    from irbench.report.leaderboard import win_tie_loss_matrix

    avg = board[board["dataset"] == "average"]
    assert len(avg) == len(SYSTEMS) * len(MEASURES)
    per = board[board["dataset"] != "average"]
    for r in avg.itertuples():
        vals = per[(per["run"] == r.run) & (per["measure"] == r.measure)]["value"]
        assert r.value == pytest.approx(vals.mean(), abs=1e-15)
        assert r.ci_low < r.value < r.ci_high
        assert r.n_queries == 43 + 54
    mat = win_tie_loss_matrix(board, "nDCG@10")
    assert mat.loc["SPLADE_P_P_ENSEMBLE_DISTIL", "BM25"] == "2/0/0"
    assert mat.loc["BM25", "SPLADE_P_P_ENSEMBLE_DISTIL"] == "0/0/2"
    assert mat.loc["BM25", "BM25"] == "-"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four queries; run a beats run b; run t has ties across the cutoff of P@1."""
    root = tmp_path_factory.mktemp("small")
    qrels = root / "qrels.small.txt"
    qrels.write_text("".join(f"q{q} 0 d{d} {int(d == q)}\n" for q in range(4) for d in range(4)))
    runs = {}
    for name, scores in {
        "a": lambda q, d: 4.0 - abs(d - q),
        "b": lambda q, d: float(d),
        "t": lambda q, d: 1.0,
    }.items():
        p = root / f"{name}.run"
        p.write_text(
            "".join(f"q{q} Q0 d{d} 0 {scores(q, d)} {name}\n" for q in range(4) for d in range(4))
        )
        runs[name] = p
    partial = root / "partial.run"
    partial.write_text("".join(ln + "\n" for ln in runs["a"].read_text().splitlines()[4:]))
    runs["partial"] = partial
    return {"qrels": qrels, **runs}


def test_markdown_and_html_reports(small: dict[str, Path], tmp_path: Path) -> None:
    args = [str(small["qrels"]), str(small["a"]), str(small["b"]), str(small["t"])]
    args += ["-m", "P@1", "-m", "RR", "--baseline", "b"]
    md = tmp_path / "board.md"
    res = _invoke(*args, "-o", str(md))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    text = md.read_text()
    assert text.startswith("# Leaderboard") and "| small | a | P@1 |" in text
    assert "Per-query changes against b" in text and "## Ties" in text
    page = tmp_path / "board.html"
    assert _invoke(*args, "-o", str(page)).exit_code == 0  # type: ignore[attr-defined]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script>" in html and "<svg" in html
    assert "sortable" in html and "<rect" in html
    for remote in ("src=", "<link", "@import", "https://"):
        assert remote not in html  # self-contained: nothing fetched over the network


def test_tie_bounds(small: dict[str, Path]) -> None:
    df = irbench.leaderboard(small["qrels"], [small["t"]], ["P@1", "RR"])
    p1 = df[df["measure"] == "P@1"].iloc[0]
    # every document tied: trec_eval puts d3 first (ids descending): relevant for q3 only
    assert p1["value"] == 0.25 and p1["tie_low"] == 0.0 and p1["tie_high"] == 1.0
    rr = df[df["measure"] == "RR"].iloc[0]
    assert rr["tie_low"] == 0.25 and rr["tie_high"] == 1.0


def test_different_query_sets_are_refused(small: dict[str, Path]) -> None:
    args = [str(small["qrels"]), str(small["a"]), str(small["partial"]), "-m", "P@1"]
    res = _invoke(*args)
    assert res.exit_code == 2
    out = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "different query sets" in out and "'partial' lacks 1: q0" in out
    res = _invoke(*args, "--force")
    assert res.exit_code == 0
    res = _invoke(*args, "-c")
    assert res.exit_code == 0
    df = pd.read_csv(io.StringIO(res.stdout))  # type: ignore[attr-defined]
    assert set(df["n_queries"]) == {4} and set(df["query_policy"]) == {"complete"}
    # the same guard in compare
    res = CliRunner().invoke(app, ["compare", *args])
    assert res.exit_code == 2 and "different query sets" in res.output  # type: ignore[attr-defined]
    res = CliRunner().invoke(app, ["compare", *args, "--force"])
    assert res.exit_code == 0


def test_spec_errors(small: dict[str, Path], tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text('measures = ["P@1"]\n[datasets.x]\nqrels = "q.txt"\nruns = = 1\nx = 2\n')
    res = _invoke("--spec", str(spec))
    assert res.exit_code == 2
    assert "spec.toml:4: malformed leaderboard spec" in " ".join(res.output.split())  # type: ignore[attr-defined]
    spec.write_text(
        f'measures = ["P@1"]\n[datasets.x]\nqrels = "{small["qrels"]}"\nruns = ["nothing/*.run"]\n'
    )
    res = _invoke("--spec", str(spec))
    assert res.exit_code == 2 and "matches no file" in res.output  # type: ignore[attr-defined]
    res = _invoke("--spec", str(spec), str(small["qrels"]))
    assert res.exit_code == 2 and "not both" in res.output  # type: ignore[attr-defined]


def test_python_api_arrow(small: dict[str, Path]) -> None:
    t = irbench.leaderboard(
        small["qrels"], [small["a"], small["b"]], "P@1", baseline="b", output="arrow"
    )
    assert t.num_rows == 2 and t.column_names[:4] == ["dataset", "run", "measure", "value"]
    vals = dict(zip(t.column("run").to_pylist(), t.column("value").to_pylist(), strict=True))
    assert vals == {"a": 1.0, "b": 0.25}
    assert not math.isnan(t.column("delta").to_pylist()[0])
    assert t.column("p_value")[1].as_py() is None  # the baseline has no test: null in Arrow

"""Per-query latency: what `irbench run` records, the latency CSV, the statistics, and the
leaderboard's latency columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.errors import ComparabilityError, InputFormatError
from irbench.io import read_run
from irbench.rankers import get_ranker, registry
from irbench.rankers.runner import metadata_path, run_ranker
from irbench.rankers.timing import timed_rerank, timed_retrieve
from irbench.report.latency import latency_path, latency_stats, read_latency, write_latency

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "toy", "toy_ranker:Toy")


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "queries.tsv"
    path.write_text(
        "1\tmeasurement of dielectric constant of liquids\n2\tmicrowave electronic tubes\n"
        "3\tsolar radiation\n"
    )
    return path


def test_stats_by_hand(tmp_path: Path) -> None:
    path = tmp_path / "lat.csv"
    path.write_text("query_id,seconds\nq1,0.1\nq2,0.2\nq3,0.3\nq4,1.4\n")
    st = latency_stats(path)
    assert st.queries == 4
    assert st.mean_s == pytest.approx(0.5)
    assert st.median_s == pytest.approx(0.25)
    # numpy's linear interpolation: rank 0.95 * 3 = 2.85 -> 0.3 + 0.85 * (1.4 - 0.3)
    assert st.p95_s == pytest.approx(0.3 + 0.85 * 1.1)
    assert st.throughput_qps == pytest.approx(4 / 2.0)
    assert math.isnan(st.candidates_mean)
    # restricted to the run's queries
    sub = latency_stats(path, ["q1", "q3"])
    assert sub.queries == 2 and sub.mean_s == pytest.approx(0.2)
    with pytest.raises(ComparabilityError, match=r"no latency for 1 of the run's 3 queries.*'q9'"):
        latency_stats(path, ["q1", "q3", "q9"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty latency file"),
        ("qid,time\n1,0.1\n", r":1: the header must name the columns query_id and seconds"),
        ("query_id,seconds\n1,0.1\n2,abc\n", r":3: seconds must be a finite number >= 0"),
        ("query_id,seconds\n1,-1\n", r":2: seconds must be a finite number >= 0, found '-1'"),
        ("query_id,seconds\n1,nan\n", r":2: seconds must be a finite number"),
        ("query_id,seconds\n1,0.1\n1,0.2\n", r":3: query '1' is listed twice \(first on line 2\)"),
        ("query_id,seconds\n1\n", r":2: expected 2 fields"),
    ],
)
def test_bad_latency_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputFormatError, match=message) as info:
        read_latency(path)
    assert str(path) in str(info.value)


def test_write_read_round_trip(tmp_path: Path) -> None:
    path = write_latency(tmp_path / "x.csv", ["a", "b"], np.array([0.5, 1e-7]), np.array([3, 4]))
    lat = read_latency(path)
    assert lat.query_ids == ["a", "b"]
    assert lat.seconds.tolist() == [0.5, 1e-7]
    assert lat.candidates is not None and lat.candidates.tolist() == [3, 4]
    assert latency_stats(path).candidates_mean == 3.5


class _Clock:
    """A fake perf_counter: every call advances by the next step."""

    def __init__(self, steps: list[float]) -> None:
        self.now, self.steps = 0.0, list(steps)

    def __call__(self) -> float:
        self.now += self.steps.pop(0) if self.steps else 0.0
        return self.now


def test_batch_time_is_divided_by_batch_size(
    tmp_path: Path, queries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import irbench.rankers.timing as timing
    from irbench.rankers.runner import ensure_index, read_queries

    ranker = get_ranker("toy")
    from irbench.datasets import load_dataset

    ensure_index(ranker, load_dataset("vaswani", cache_dir=tmp_path))
    table = read_queries(queries)
    # three queries in batches of 2: batch 1 takes 4 s, batch 2 takes 1 s
    monkeypatch.setattr(timing, "_clock", _Clock([0.0, 4.0, 0.0, 1.0]))
    run, times = timed_retrieve(ranker, table, 5, batch_size=2)
    assert times.query_ids == ["1", "2", "3"]
    assert times.seconds.tolist() == [2.0, 2.0, 1.0]
    assert times.batch_size == 2 and "batch time / batch size" in times.method
    whole, _ = timed_retrieve(ranker, table, 5, batch_size=0)
    assert run.equals(whole)  # batching does not change the run

    # re-ranking: one query per call, candidates counted per query
    monkeypatch.setattr(timing, "_clock", _Clock([0.0, 0.5, 0.0, 0.25, 0.0, 2.0]))
    reranked, rtimes = timed_rerank(ranker, table, whole, depth=3, batch_size=1)
    assert rtimes.seconds.tolist() == [0.5, 0.25, 2.0]
    assert rtimes.candidates is not None
    expected = [min(3, n) for n in np.unique(whole.column("query_id"), return_counts=True)[1]]
    assert rtimes.candidates.tolist() == expected
    from irbench.rankers.rerank import rerank

    assert reranked.equals(rerank(ranker, table, whole, depth=3))


def test_run_writes_latency_and_sidecar(tmp_path: Path, queries: Path) -> None:
    out = tmp_path / "toy.run"
    run_ranker("toy", dataset="vaswani", queries=queries, k=5, output=out, cache_dir=tmp_path)
    meta = json.loads(metadata_path(out).read_text())
    lat = meta["latency"]
    assert lat["file"] == "toy.run.latency.csv" and lat["queries"] == 3
    assert lat["batch_size"] == 3 and "batch time / batch size" in lat["method"]
    per_query = read_latency(latency_path(out))
    assert per_query.query_ids == ["1", "2", "3"] and per_query.candidates is None
    st = latency_stats(out)  # through the run's sidecar
    assert st.mean_s == pytest.approx(lat["mean_s"]) and st.queries == 3
    assert latency_stats(metadata_path(out)).mean_s == st.mean_s

    reranked = tmp_path / "rr.run"
    result = CliRunner().invoke(app, ["run", "toy", "-d", "vaswani", "--queries", str(queries),
                                      "--rerank", str(out), "--depth", "2", "-o", str(reranked),
                                      "--cache-dir", str(tmp_path), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads(metadata_path(reranked).read_text())["latency"]
    assert meta["batch_size"] == 1 and meta["candidates_mean"] == 2.0
    assert "each query, processed on its own" in meta["method"]
    rr = read_latency(latency_path(reranked))
    assert rr.candidates is not None and rr.candidates.tolist() == [2, 2, 2]
    assert read_run(reranked).num_rows == 6


def test_run_without_latency_says_how_to_give_one(tmp_path: Path) -> None:
    run = tmp_path / "old.run"
    run.write_text("1 Q0 d1 1 1.0 x\n")
    metadata_path(run).write_text(json.dumps({"ranker": "bm25"}))
    with pytest.raises(InputFormatError, match=r"records no per-query latency.*--latency-file"):
        latency_stats(run)


def _demo_latency(tmp_path: Path, name: str, seconds: float) -> Path:
    from irbench.io import read_run as rr

    qids = sorted(set(rr(DEMO / "runs" / f"{name}.run.gz").column("query_id").to_pylist()))
    path = tmp_path / f"{name}.csv"
    write_latency(path, qids, np.full(len(qids), seconds))
    return path


def test_leaderboard_latency_columns(tmp_path: Path) -> None:
    bm25 = _demo_latency(tmp_path, "bm25", 0.01)
    tasb = _demo_latency(tmp_path, "tas-b", 0.05)
    out = tmp_path / "board.csv"
    result = CliRunner().invoke(app, ["leaderboard", str(DEMO / "qrels.txt.gz"),
                                      str(DEMO / "runs" / "bm25.run.gz"),
                                      str(DEMO / "runs" / "tas-b.run.gz"), "-m", "nDCG@10",
                                      "--latency", "--latency-file", f"bm25={bm25}",
                                      "--latency-file", f"tas-b.run.gz={tasb}", "-o", str(out),
                                      "--no-ties"])  # fmt: skip
    assert result.exit_code == 0, result.output
    import pandas as pd

    df = pd.read_csv(out).set_index("run")
    assert df.loc["bm25", "latency_mean_s"] == pytest.approx(0.01)
    assert df.loc["tas-b", "throughput_qps"] == pytest.approx(20.0)
    assert df.loc["tas-b", "latency_queries"] == 43
    assert df.loc["bm25", "value"] == pytest.approx(0.5058, abs=5e-5)

    # a run with no latency file and no sidecar: exit 2 with the fix
    result = CliRunner().invoke(app, ["leaderboard", str(DEMO / "qrels.txt.gz"),
                                      str(DEMO / "runs" / "bm25.run.gz"), "-m", "nDCG@10",
                                      "--latency"])  # fmt: skip
    assert result.exit_code == 2
    assert "latency" in result.output

    # a latency file missing queries
    short = tmp_path / "short.csv"
    short.write_text("query_id,seconds\n19335,0.1\n")
    result = CliRunner().invoke(app, ["leaderboard", str(DEMO / "qrels.txt.gz"),
                                      str(DEMO / "runs" / "bm25.run.gz"), "-m", "nDCG@10",
                                      "--latency-file", f"bm25={short}"])  # fmt: skip
    assert result.exit_code == 2
    assert "no latency for 42 of the run's 43 queries" in result.output


def test_spec_latency_table(tmp_path: Path) -> None:
    from irbench.report.leaderboard import leaderboard

    bm25 = _demo_latency(tmp_path, "bm25", 0.002)
    spec = tmp_path / "board.toml"
    spec.write_text(
        'measures = ["nDCG@10"]\n[datasets.dl19]\n'
        f'qrels = "{DEMO / "qrels.txt.gz"}"\n'
        f'runs = {{ BM25 = "{DEMO / "runs" / "bm25.run.gz"}" }}\n'
        f'latency = {{ BM25 = "{bm25.name}" }}\n'  # relative to the spec's folder
    )
    df = leaderboard(spec=spec, ties=False)
    assert df["latency_mean_s"].tolist() == pytest.approx([0.002])
    assert df["latency_source"].tolist() == [str(bm25)]
    spec.write_text(spec.read_text().replace("latency = {", "latency = ["
                    ).replace('" }\n', '" ]\n', 1))  # fmt: skip
    with pytest.raises(InputFormatError):
        leaderboard(spec=spec, ties=False)
    with pytest.raises(ComparabilityError, match="names no run"):
        leaderboard(DEMO / "qrels.txt.gz", [DEMO / "runs" / "bm25.run.gz"], ["nDCG@10"],
                    latency={"nope": str(bm25)}, ties=False)  # fmt: skip

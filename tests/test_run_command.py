"""`irbench run` and the runner: index caching, atomic outputs, metadata sidecars, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.errors import RankerError
from irbench.io import read_run
from irbench.rankers import get_ranker, registry
from irbench.rankers.runner import metadata_path, run_ranker

DEMO_RUNS = (
    Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage" / "runs"
)


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "toy", "toy_ranker:Toy")


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "queries.tsv"
    path.write_text(
        "1\tmeasurement of dielectric constant of liquids\n2\tmicrowave electronic tubes\n"
    )
    return path


def test_index_is_built_once_then_loaded(tmp_path: Path, queries: Path) -> None:
    out = tmp_path / "runs" / "toy.run"
    first = run_ranker(
        "toy", dataset="vaswani", queries=queries, k=5, output=out, cache_dir=tmp_path
    )
    assert first.events[0].startswith("built index")
    assert first.index is not None and first.index.is_relative_to(tmp_path / "indexes" / "vaswani")
    table = read_run(out)
    assert set(table.column("query_id").to_pylist()) == {"1", "2"}
    assert table.num_rows == 10
    meta = json.loads(metadata_path(out).read_text())
    assert meta["ranker"] == "toy" and meta["dataset"] == "vaswani" and meta["k"] == 5
    assert meta["params"] == {"lowercase": True, "bonus": 0.0, "fail_index": False}
    assert len(meta["inputs"]["queries"]["sha256"]) == 64
    assert meta["run"] == "toy.run" and meta["wall_time_s"] >= 0

    again = run_ranker(get_ranker("toy", bonus="1.5"), dataset="vaswani", queries=queries, k=5,
                       cache_dir=tmp_path)  # fmt: skip
    assert again.events[0] == f"loaded index {first.index}"
    assert again.table.column("score").to_pylist()[0] == table.column("score").to_pylist()[0] + 1.5

    other = run_ranker(get_ranker("toy", lowercase="false"), dataset="vaswani", queries=queries,
                       k=5, cache_dir=tmp_path)  # fmt: skip
    assert other.events[0].startswith("built index") and other.index != first.index


def test_failed_build_leaves_no_index_and_no_run(tmp_path: Path, queries: Path) -> None:
    out = tmp_path / "toy.run"
    with pytest.raises(RuntimeError, match="disk on fire"):
        run_ranker(get_ranker("toy", fail_index="yes"), dataset="vaswani", queries=queries,
                   output=out, cache_dir=tmp_path)  # fmt: skip
    assert not out.exists()
    assert list((tmp_path / "indexes" / "vaswani").iterdir()) == []


def test_ranker_parameters_are_typed() -> None:
    assert get_ranker("toy", bonus="2").bonus == 2.0
    with pytest.raises(RankerError, match="expected float, got 'high'"):
        get_ranker("toy", bonus="high")
    with pytest.raises(RankerError, match=r"no parameter 'bonsu' \(did you mean bonus"):
        get_ranker("toy", bonsu="1")
    with pytest.raises(RankerError, match="did you mean toy"):
        get_ranker("tyo")


def test_cli_run_writes_run_and_sidecar(tmp_path: Path, queries: Path) -> None:
    out = tmp_path / "toy.run"
    result = CliRunner().invoke(app, ["run", "toy", "-d", "vaswani", "--queries", str(queries),
                                      "-k", "3", "-o", str(out), "--cache-dir", str(tmp_path),
                                      "-q", "--name", "mytag"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "2 queries" in result.output
    assert out.read_text().splitlines()[0].endswith(" mytag")
    assert json.loads(metadata_path(out).read_text())["tag"] == "mytag"

    reranked = tmp_path / "rr.run"
    result = CliRunner().invoke(app, ["run", "toy", "-d", "vaswani", "--queries", str(queries),
                                      "--rerank", str(out), "--depth", "2", "-o", str(reranked),
                                      "--cache-dir", str(tmp_path), "-q"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read_run(reranked).num_rows == 4
    assert json.loads(metadata_path(reranked).read_text())["inputs"]["rerank"]["depth"] == 2


def test_cli_fusion(tmp_path: Path) -> None:
    out = tmp_path / "fused.run"
    args = [
        "run",
        "rrf",
        "-i",
        str(DEMO_RUNS / "bm25.run.gz"),
        "-i",
        str(DEMO_RUNS / "tas-b.run.gz"),
    ]
    result = CliRunner().invoke(app, [*args, "-k", "10", "-o", str(out), "-p", "rrf_k=10"])
    assert result.exit_code == 0, result.output
    fused = read_run(out)
    assert fused.num_rows == 43 * 10
    meta = json.loads(metadata_path(out).read_text())
    assert meta["ranker"] == "rrf" and meta["params"]["rrf_k"] == 10.0
    assert [r["path"] for r in meta["inputs"]["runs"]] == [args[3], args[5]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "rrf", "-i", "a.run", "-p", "norm=zscore"], "rrf has no parameter norm"),
        (["run", "combsum", "-p", "oops"], "expects KEY=VALUE"),
        (["run", "bm52"], "unknown ranker 'bm52'"),
        (["run", "toy", "-i", "a.run"], "--input is for fusion"),
        (["run", "toy"], "give a dataset"),
        (["run"], "name a ranker"),
    ],
)
def test_cli_run_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_cli_run_list() -> None:
    result = CliRunner().invoke(app, ["run", "--list"])
    assert result.exit_code == 0, result.output
    for name in ("bm25", "dense", "toy", "rrf", "combmnz"):
        assert name in result.output

"""`irbench run` never replaces a run made another way without --force, and names re-ranked and
fused runs after what they are."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.cli.run_cmd import default_output, fused_output
from irbench.errors import RunExistsError
from irbench.rankers import registry
from irbench.rankers.runner import fuse_runs, metadata_path, run_identity, run_ranker

DEMO_RUNS = (
    Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage" / "runs"
)


@pytest.fixture(autouse=True)
def toy_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "toy", "toy_ranker:Toy")


@pytest.fixture
def queries(tmp_path: Path) -> Path:
    path = tmp_path / "queries.tsv"
    path.write_text("1\tmeasurement of dielectric constant\n2\tmicrowave electronic tubes\n")
    return path


def _run(tmp_path: Path, queries: Path, *extra: str) -> tuple[int, str]:
    args = ["run", "toy", "-d", "vaswani", "--queries", str(queries), "-k", "3",
            "--cache-dir", str(tmp_path / "cache"), "-q", *extra]  # fmt: skip
    res = CliRunner().invoke(app, args)
    return res.exit_code, " ".join(res.output.split())


def test_a_run_made_another_way_is_not_replaced(
    tmp_path: Path, queries: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = Path("runs/vaswani-toy.run")
    code, text = _run(tmp_path, queries)
    assert code == 0, text
    first = out.read_bytes()

    code, text = _run(tmp_path, queries)  # the same run again: rewritten
    assert code == 0 and f"rewrote {out} (made with the same ranker" in text
    assert out.read_bytes() == first
    first_meta = metadata_path(out).read_text()

    for extra, differs in [
        (["-p", "bonus=1.5"], "params.bonus: 0.0 there, 1.5 now"),
        (["-k", "2"], "k: 3 there, 2 now"),
        (["--name", "other"], 'tag: "toy" there, "other" now'),
        (["--rerank", str(out)], "k: 3 there, none now; inputs.rerank.sha256: none there"),
    ]:
        code, text = _run(tmp_path, queries, *extra, *(["-o", str(out)] if "--rerank" in extra
                                                      else []))  # fmt: skip
        assert code == 2, text
        assert f"error: {out} holds a run made another way ({differs}" in text
        assert "pass --force" in text and "elsewhere (-o)" in text
        assert out.read_bytes() == first and metadata_path(out).read_text() == first_meta

    queries.write_text("1\tmicrowave\n")  # other queries, same file name
    code, text = _run(tmp_path, queries)
    assert code == 2 and "inputs.queries: sha256 " in text

    code, text = _run(tmp_path, queries, "-p", "bonus=1.5", "--force")
    assert code == 0 and f"replaced {out} (--force)" in text
    meta = json.loads(metadata_path(out).read_text())
    assert meta["params"]["bonus"] == 1.5 and out.read_bytes() != first


def test_a_run_without_a_readable_sidecar_is_not_replaced(tmp_path: Path, queries: Path) -> None:
    out = tmp_path / "mine.run"
    out.write_text("1 Q0 d 1 1.0 hand\n")
    with pytest.raises(RunExistsError, match=r"mine\.run exists and has no mine\.run\.meta\.json"):
        run_ranker("toy", dataset="vaswani", queries=queries, output=out,
                   cache_dir=tmp_path)  # fmt: skip
    metadata_path(out).write_text("{not json")
    with pytest.raises(RunExistsError, match="cannot be read"):
        run_ranker("toy", dataset="vaswani", queries=queries, output=out, cache_dir=tmp_path)
    assert out.read_text() == "1 Q0 d 1 1.0 hand\n"
    made = run_ranker("toy", dataset="vaswani", queries=queries, output=out, cache_dir=tmp_path,
                      force=True)  # fmt: skip
    assert made.events[0] == f"replaced {out} (--force)"
    assert out.read_text() != "1 Q0 d 1 1.0 hand\n"


def test_fusion_is_named_after_its_inputs_and_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    inputs = ["-i", str(DEMO_RUNS / "bm25.run.gz"), "-i", str(DEMO_RUNS / "tas-b.run.gz")]
    res = CliRunner().invoke(app, ["run", "rrf", *inputs, "-k", "10"])
    assert res.exit_code == 0, res.output
    out = Path("runs/rrf-bm25+tas-b.run")
    assert f"wrote {out}" in res.output and out.is_file()
    res = CliRunner().invoke(app, ["run", "rrf", *inputs, "-k", "10", "-p", "rrf_k=10"])
    assert res.exit_code == 2
    assert "params.rrf_k: 60.0 there, 10.0 now" in " ".join(res.output.split())
    with pytest.raises(RunExistsError, match=r"runs: \[sha256 \w+, sha256 \w+\] there"):
        fuse_runs([DEMO_RUNS / "bm25.run.gz"] * 2, "rrf", k=10, output=out)
    assert fuse_runs([DEMO_RUNS / "bm25.run.gz", DEMO_RUNS / "tas-b.run.gz"], "rrf", k=10,
                     output=out).events == [f"rewrote {out} (made with the same ranker, "
                                            "parameters and inputs)"]  # fmt: skip


def test_default_names_say_what_a_run_is() -> None:
    rerank = default_output("dense", "vaswani", rerank=Path("runs/vaswani-bm25.run"), depth=100)
    assert rerank == Path("runs/vaswani-dense-rerank-bm25-d100.run")
    assert default_output("dense", "beir/scifact/test", rerank=Path("b.run.gz"), depth=20) == (
        Path("runs/beir-scifact-test-dense-rerank-b-d20.run")
    )
    assert default_output("bm25", "vaswani") == Path("runs/vaswani-bm25.run")
    fused = fused_output("rrf", [Path("runs/vaswani-bm25.run"), Path("runs/vaswani-dense.run")])
    assert fused == Path("runs/vaswani-rrf-bm25+dense.run")
    three = [Path("x/beir-scifact-test-bm25.run"), Path("beir-scifact-test-dense.run.gz"),
             Path("beir-scifact-test-dense-rerank-bm25-d100.run")]  # fmt: skip
    assert fused_output("combsum", three) == Path(
        "runs/beir-scifact-test-combsum-bm25+dense+dense-rerank-bm25-d100.run"
    )


def test_identity_ignores_what_does_not_change_the_run() -> None:
    meta = {"ranker": "bm25", "params": {"k1": 0.9}, "dataset": "vaswani", "k": 1000,
            "tag": "bm25", "inputs": {"queries": {"dataset": "vaswani", "sha256": "a" * 64},
                                      "docs": {"dataset": "vaswani", "index": "/x/bm25-1"}},
            "wall_time_s": 1.0, "created": "now", "engine": "local", "irbench_version": "0"}  # fmt: skip
    other = {**meta, "wall_time_s": 2.0, "created": "later", "engine": "dask",
             "inputs": {**meta["inputs"], "docs": {"dataset": "vaswani", "index": None}}}  # fmt: skip
    assert run_identity(meta) == run_identity(other)
    assert run_identity(meta) != run_identity({**meta, "params": {"k1": 1.2}})

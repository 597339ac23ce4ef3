"""`irbench run --engine dask`: query shards and corpus shards give the local run file byte for
byte; a failed shard fails with its name and writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.errors import DistributedError
from irbench.rankers import registry
from irbench.rankers.dense import Dense
from irbench.rankers.runner import metadata_path, run_ranker

pytest.importorskip("distributed")
pytestmark = pytest.mark.xdist_group("dask")

from irbench.distributed.retrieval import (  # noqa: E402
    DaskRetrieval,
    merge_topk,
    shard_bounds,
    shard_label,
)


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


class LocalRuns:
    """The local engine's Vaswani runs, made on first use (they also build the cached
    indexes the query shards load)."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.paths: dict[str, Path] = {}

    def __getitem__(self, ranker: str) -> Path:
        if ranker not in self.paths:
            out = self.cache / f"local-{ranker}.run"
            # the Dask engine searches dense flat indexes with the pairwise kernel
            made = Dense(search_kernel="pairwise") if ranker == "dense" else ranker
            run_ranker(made, dataset="vaswani", output=out, cache_dir=self.cache)
            self.paths[ranker] = out
        return self.paths[ranker]


@pytest.fixture(scope="module")
def local_runs(cache: Path) -> LocalRuns:
    return LocalRuns(cache)


def _dask_run(ranker: str, cache: Path, address: str, shard: str, shards: int) -> Path:
    out = cache / f"dask-{ranker}-{shard}-{shards}.run"
    options = DaskRetrieval(scheduler=address, shard=shard, shards=shards)
    run_ranker(ranker, dataset="vaswani", output=out, cache_dir=cache, dask=options)
    return out


@pytest.mark.parametrize("ranker", ["bm25", "dense"])
def test_query_shards_write_the_local_run(
    ranker: str, cache: Path, address: str, local_runs: LocalRuns
) -> None:
    local = local_runs[ranker]
    out = _dask_run(ranker, cache, address, "queries", 3)
    assert out.read_bytes() == local.read_bytes()
    meta = json.loads(metadata_path(out).read_text())
    assert meta["engine"] == "dask"
    assert meta["layout"]["shard"] == "queries" and meta["layout"]["shards"] == 3
    assert meta["layout"]["ranges"] == [[0, 31], [31, 62], [62, 93]]
    assert meta["layout"]["workers"] == 2
    assert json.loads(metadata_path(local).read_text())["engine"] == "local"


@pytest.mark.parametrize("ranker", ["bm25", "dense"])
def test_corpus_shards_write_the_local_run(
    ranker: str, cache: Path, address: str, local_runs: LocalRuns
) -> None:
    local = local_runs[ranker]
    out = _dask_run(ranker, cache, address, "corpus", 3)
    assert out.read_bytes() == local.read_bytes()
    layout = json.loads(metadata_path(out).read_text())["layout"]
    assert layout["shard"] == "corpus" and layout["ranges"][-1] == [7619, 11429]


def test_failed_shard_names_it_and_writes_nothing(
    cache: Path, address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILTIN, "toy-fail", "toy_ranker:FailingToy")
    queries = pa.table(
        {"query_id": ["1", "2", "3", "4"], "text": ["radio", "waves", "FAIL tubes", "ions"]}
    )
    out = cache / "failed.run"
    options = DaskRetrieval(scheduler=address, shards=2, retries=0)
    with pytest.raises(DistributedError, match=r"query shard 2 of 2 \(queries 3-4\) failed: "
                       r"RuntimeError: disk on fire"):  # fmt: skip
        run_ranker(
            "toy-fail", dataset="vaswani", queries=queries, k=5, output=out, cache_dir=cache,
            dask=options,
        )  # fmt: skip
    assert not out.exists() and not metadata_path(out).exists()


def test_cli_corpus_shards_on_an_existing_scheduler(
    cache: Path, address: str, local_runs: LocalRuns
) -> None:
    local = local_runs["bm25"]
    out = cache / "cli-bm25.run"
    result = CliRunner().invoke(
        app,
        ["run", "bm25", "--dataset", "vaswani", "--engine", "dask", "--scheduler", address,
         "--shard", "corpus", "--shards", "2", "-o", str(out), "--cache-dir", str(cache), "-q"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == local.read_bytes()
    assert "2 corpus shards on dask" in result.output


def test_cli_dask_options_need_the_dask_engine(cache: Path) -> None:
    result = CliRunner().invoke(
        app, ["run", "bm25", "-d", "vaswani", "--shards", "2", "--cache-dir", str(cache)]
    )
    assert result.exit_code != 0
    assert "--shards need --engine dask" in result.output


# ------------------------------------------------------------------ no cluster needed


def test_shard_bounds_and_labels() -> None:
    assert shard_bounds(11429, 4) == [(0, 2857), (2857, 5714), (5714, 8571), (8571, 11429)]
    assert shard_bounds(2, 4) == [(0, 1), (1, 2)]
    assert shard_label("corpus", 2, 4, 5714, 8571) == "corpus shard 3 of 4 (docs 5,715-8,571)"


def test_merge_topk_keeps_the_lowest_positions_among_ties() -> None:
    rng = np.random.default_rng(7)
    scores = rng.integers(0, 4, size=(5, 60)).astype(np.float32)
    k = 9
    want = np.lexsort((np.broadcast_to(np.arange(60), scores.shape), -scores), axis=1)[:, :k]
    from irbench.rankers.base import top_k

    parts = []
    for lo, hi in shard_bounds(60, 4):
        pos, vals = top_k(scores[:, lo:hi], k)
        parts.append((pos + lo, vals))
    got, _ = merge_topk(parts, k)
    assert np.array_equal(got, want)


def test_import_irbench_does_not_import_dask() -> None:
    code = (
        "import sys, irbench, irbench.rankers.runner, irbench.distributed.retrieval; "
        "sys.exit('distributed' in sys.modules or 'dask' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

"""The Dask engine gives bit-identical results to the local engine (eval, compare, leaderboard),
on real DL19 runs and on a synthetic run of 100,000 queries split into shards; failures name the
run and shard; the CLI's --engine dask prints what --engine local prints.

One real 2-worker LocalCluster is started for the module (slow on a loaded machine) and every
test uses it; the module is pinned to one pytest-xdist worker.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _differential import BUDGET, FLAG_SETS, RANDOM, Case, cases
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.engine import Evaluator, RunScores
from irbench.engine.api import make_engine
from irbench.engine.placement import LocalEngine, parse_size
from irbench.engine.shards import iter_query_shards
from irbench.errors import DistributedError, IrbenchError, IrbenchWarning
from irbench.io import read_run, write_run

pytestmark = pytest.mark.xdist_group("dask")
distributed = pytest.importorskip("distributed")

from irbench.distributed.dask_engine import DaskEngine  # noqa: E402

MEASURES = ["AP", "nDCG@10", "RR@10", "P@10", "R@100", "GMAP", "NumRet", "Bpref", "ERR@20"]
SYSTEMS = ["BM25", "BM25_RM3", "D_BERT_KD_TASB", "SPLADE_P_P_ENSEMBLE_DISTIL"]
N_SYNTH = 100_000
#: every kernel kind at least once, for the adversarial cases
DIFF_MEASURES = [
    "AP", "nDCG@10", "RR", "P@5", "R@10", "Rprec", "Bpref", "infAP", "IPrec@0.2", "SetF",
    "NumRet", "NumRel", "Judged@5", "GMAP", "ERR@10", "RBP(p=0.5)", "Success@3",
]  # fmt: skip


@pytest.fixture(scope="module")
def client() -> Any:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def dl19(dl19_data: Path) -> tuple[str, list[str]]:
    runs = [str(dl19_data / "runs-rank_llm" / s / "trec_results_dl19.txt") for s in SYSTEMS]
    return str(dl19_data / "trec-dl" / "qrels.dl19-passage.txt"), runs


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    """Qrels of 100,000 queries (3 judged documents each, one query without a run) and two
    runs of 10 documents per query, as TREC text files."""
    d = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(7)
    q = np.char.add("q", np.arange(N_SYNTH).astype(str))
    qrels_q = np.repeat(q, 3)
    qrels_d = np.char.add("d", rng.integers(0, 30, size=qrels_q.size).astype(str))
    # unique (query, doc) judgments: make the doc ids distinct within a query
    qrels_d = np.char.add(qrels_d, np.tile(np.array(["a", "b", "c"]), N_SYNTH))
    grades = rng.integers(0, 4, size=qrels_q.size)
    qrels_path = d / "qrels.txt"
    lines = np.char.add(np.char.add(np.char.add(qrels_q, " 0 "), qrels_d), " ")
    qrels_path.write_text("\n".join(np.char.add(lines, grades.astype(str))) + "\n")
    runs = []
    for k in range(2):
        rq = np.repeat(q[:-1], 10)  # the last qrels query is missing from the runs
        docs = np.char.add(
            np.char.add("d", rng.integers(0, 30, size=rq.size).astype(str)),
            rng.choice(np.array(["a", "b", "c"]), size=rq.size),
        )
        table = pa.table(
            {"query_id": rq, "doc_id": docs, "score": rng.integers(0, 5, size=rq.size) / 4}
        )
        # drop duplicate (query, doc) pairs: keep the first
        keys = np.char.add(np.char.add(rq, " "), docs)
        _, first = np.unique(keys, return_index=True)
        path = d / f"synth{k}.txt"
        write_run(table.take(np.sort(first)), path, name=f"synth{k}")
        runs.append(str(path))
    return str(qrels_path), runs


def assert_same(a: list[RunScores], b: list[RunScores]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.run == y.run
        assert x.query_ids.equals(y.query_ids)
        assert list(x.values) == list(y.values)
        for m in x.values:
            np.testing.assert_array_equal(x.values[m], y.values[m])
            assert x.aggregates[m] == y.aggregates[m] or (
                np.isnan(x.aggregates[m]) and np.isnan(y.aggregates[m])
            )
        assert x.num_qrels_queries_missing == y.num_qrels_queries_missing
        assert x.num_run_queries_not_in_qrels == y.num_run_queries_not_in_qrels


# -- pieces that need no cluster ------------------------------------------------------------


def test_parse_size() -> None:
    assert parse_size("256MB") == 256_000_000
    assert parse_size("1GiB") == 1024**3
    assert parse_size("64k") == 64_000
    assert parse_size(1234) == 1234
    with pytest.raises(IrbenchError, match="256MB"):
        parse_size("lots")


def test_shards_split_by_query_and_cover_the_run(dl19: tuple[str, list[str]]) -> None:
    run = read_run(dl19[1][0])
    shards = list(iter_query_shards(run, 5))
    assert [s.index for s in shards] == list(range(1, len(shards) + 1))
    assert all(s.total == len(shards) for s in shards)
    sets = [set(s.table.column("query_id").to_pylist()) for s in shards]
    assert sum(len(s) for s in sets) == len(set().union(*sets))  # no query in two shards
    assert sum(s.table.num_rows for s in shards) == run.num_rows
    assert sum(s.num_queries for s in shards) == len(set(run.column("query_id").to_pylist()))
    assert "shard 2 of" in shards[1].label
    assert len(list(iter_query_shards(run, 10_000))) == len(set().union(*sets))


def test_local_engine_options_are_refused() -> None:
    with pytest.raises(IrbenchError, match="--engine dask"):
        make_engine("local", scheduler="tcp://x:8786")


def test_missing_dask_gives_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, dl19: tuple[str, list[str]]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    res = CliRunner().invoke(app, ["eval", dl19[0], dl19[1][0], "-m", "AP", "--engine", "dask"])
    assert res.exit_code == 2
    assert "pip install 'irbench-eval[dask]'" in res.output


# -- the cluster ------------------------------------------------------------------------------


@pytest.mark.parametrize(("complete", "shard_size"), [(False, None), (True, 40_000)])
def test_eval_dl19_identical(
    client: Any, dl19: tuple[str, list[str]], complete: bool, shard_size: int | None
) -> None:
    qrels, runs = dl19
    ev = Evaluator(qrels, MEASURES, complete=complete)
    local = LocalEngine().score_runs(ev, runs)
    engine = DaskEngine(client, shard_size=shard_size or 256 * 1024**2)
    assert_same(engine.score_runs(ev, runs), local)


def test_evaluate_api_and_in_memory_runs(client: Any, dl19: tuple[str, list[str]]) -> None:
    import irbench

    qrels, runs = dl19
    tables = [read_run(r) for r in runs[:2]]
    tables[1] = tables[1].slice(0, 1000)  # lacks queries: the warning comes back to the client
    local = irbench.evaluate(qrels, tables, MEASURES)
    with pytest.warns(IrbenchWarning, match="lacks"):
        remote = irbench.evaluate(qrels, tables, MEASURES, engine=DaskEngine(client))
    assert remote.equals(local)


def test_compare_dl19_identical(client: Any, dl19: tuple[str, list[str]]) -> None:
    import pandas as pd

    from irbench.stats import compare

    qrels, runs = dl19
    kw: dict[str, Any] = {"test": "randomization", "permutations": 2000, "seed": 3}
    local = compare(qrels, runs, ["AP", "nDCG@10"], **kw)
    remote = compare(qrels, runs, ["AP", "nDCG@10"], engine=DaskEngine(client), **kw)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_leaderboard_dl19_identical(client: Any, dl19: tuple[str, list[str]]) -> None:
    import pandas as pd

    from irbench.report.leaderboard import leaderboard

    qrels, runs = dl19
    local = leaderboard(qrels, runs, ["nDCG@10", "AP"], baseline=runs[0])
    remote = leaderboard(
        qrels, runs, ["nDCG@10", "AP"], baseline=runs[0], engine=DaskEngine(client)
    )
    pd.testing.assert_frame_equal(remote, local, check_exact=True)


def test_synthetic_100k_queries_in_shards(client: Any, synthetic: tuple[str, list[str]]) -> None:
    import pandas as pd

    from irbench.report.leaderboard import leaderboard
    from irbench.stats import compare

    qrels, runs = synthetic
    size = os.path.getsize(runs[0])
    engine = DaskEngine(client, shard_size=size // 5)  # 6 shards of about 17,000 queries
    for complete in (False, True):
        ev = Evaluator(qrels, MEASURES, complete=complete)
        local = LocalEngine().score_runs(ev, runs)
        assert len(local[0].query_ids) >= N_SYNTH - 1
        assert_same(engine.score_runs(ev, runs), local)
    kw: dict[str, Any] = {"complete": True, "test": "t"}
    pd.testing.assert_frame_equal(
        compare(qrels, runs, ["AP", "nDCG@10"], engine=engine, **kw),
        compare(qrels, runs, ["AP", "nDCG@10"], **kw),
        check_exact=True,
    )
    kw = {"complete": True, "ties": False, "baseline": "synth0"}
    pd.testing.assert_frame_equal(
        leaderboard(qrels, runs, ["nDCG@10"], engine=engine, **kw),
        leaderboard(qrels, runs, ["nDCG@10"], **kw),
        check_exact=True,
    )


def _with_duplicate(src: str, dst: Path) -> tuple[str, int]:
    """``src`` with the first line of its last query repeated at the end; the query id."""
    lines = Path(src).read_text().splitlines()
    last_q = lines[-1].split()[0]
    dup = next(line for line in lines if line.split()[0] == last_q)
    dst.write_text("\n".join([*lines, dup]) + "\n")
    return last_q, len(lines) + 1


def test_failed_shard_names_shard_run_and_lines(
    client: Any, dl19: tuple[str, list[str]], tmp_path: Path
) -> None:
    qrels, runs = dl19
    bad = tmp_path / "dup.txt"
    query, line = _with_duplicate(runs[0], bad)
    ev = Evaluator(qrels, ["AP"])
    with pytest.raises(DistributedError) as info:
        DaskEngine(client, shard_size=40_000).score_runs(ev, [runs[1], str(bad)])
    msg = str(info.value)
    assert "shard " in msg and "of run 'dup' failed" in msg  # the run's name, as in results
    assert f"{bad}:" in msg.replace("\n", "")
    assert f"retrieved twice for query {query!r}" in msg and f":{line}:" in msg
    assert info.value.exit_code == 2


def test_bad_line_read_on_a_worker_fails_the_cli(
    client: Any, dl19: tuple[str, list[str]], tmp_path: Path
) -> None:
    qrels, runs = dl19
    bad = tmp_path / "bad.txt"
    lines = Path(runs[0]).read_text().splitlines()
    lines[9] = "19335 Q0 7267248 10 not-a-number tag"
    bad.write_text("\n".join(lines) + "\n")
    address = client.scheduler.address
    res = CliRunner().invoke(
        app,
        ["eval", qrels, runs[1], str(bad), "-m", "AP", "--engine", "dask", "--scheduler", address],
    )
    assert res.exit_code == 2, res.output
    assert "run 'bad' failed" in res.output  # named as the results table names it
    assert f"{bad}:10" in res.output.replace("\n", "")


@pytest.mark.parametrize(
    "command",
    [
        ["eval", "-m", "AP", "-m", "nDCG@10", "-q", "-f", "tsv"],
        ["eval", "-m", "AP", "-c", "-f", "json", "--shard-size", "40kB"],
        ["compare", "-m", "AP", "-m", "nDCG@10", "-f", "csv", "--baseline", "RUN0"],
        ["leaderboard", "-m", "nDCG@10", "--baseline", "RUN0", "-f", "csv"],
    ],
    ids=["eval", "eval-sharded", "compare", "leaderboard"],
)
def test_cli_dask_output_equals_local(
    client: Any, dl19: tuple[str, list[str]], command: list[str]
) -> None:
    qrels, runs = dl19
    args = [command[0], qrels, *runs, *(runs[0] if a == "RUN0" else a for a in command[1:])]
    local_args = [a for a in args if a not in ("--shard-size", "40kB")]
    local = CliRunner().invoke(app, local_args)
    assert local.exit_code == 0, local.output
    remote = CliRunner().invoke(
        app, [*args, "--engine", "dask", "--scheduler", client.scheduler.address]
    )
    assert remote.exit_code == 0, remote.output
    assert remote.stdout == local.stdout


@settings(
    max_examples=max(10, BUDGET // 6),
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@given(cases(), st.sampled_from(list(FLAG_SETS)), st.sampled_from([1, 200, 10**9]))
def test_dask_engine_on_adversarial_cases(
    client: Any, tmp_path_factory: pytest.TempPathFactory, case: Case, flag_set: str, shard: int
) -> None:
    """The differential generators (tests/_differential.py) through the Dask engine: run files
    grouped by query and interleaved, in-memory tables, shards from one query each (1 byte) to
    one shard per run, every flag set: the local engine's bits."""
    flags = FLAG_SETS[flag_set]
    ev = Evaluator(case.qrels_table(), DIFF_MEASURES, **flags)
    d = tmp_path_factory.mktemp("case")
    grouped, interleaved = d / "grouped.run", d / "interleaved.run"
    grouped.write_text(case.run_text(grouped=True), encoding="utf-8")
    interleaved.write_text(case.run_text(), encoding="utf-8")
    runs: list[Any] = [str(grouped), str(interleaved), case.run_table()]
    names = ["g", "i", "t"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IrbenchWarning)
        local = LocalEngine().score_runs(ev, runs, names)
        remote = DaskEngine(client, shard_size=shard).score_runs(ev, runs, names)
    assert_same(remote, local)
    for other in local[1:]:  # and the three inputs agree with each other
        for m in other.values:
            np.testing.assert_array_equal(other.values[m], local[0].values[m])


KILLER = '''
import os

from irbench.engine import Evaluator


class KillOnce(Evaluator):
    """Kills the worker process the first time it scores a run (a marker file remembers)."""

    marker = ""

    def score_part(self, table, **kwargs):
        try:  # atomic: of two tasks starting together, exactly one kills its worker
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().score_part(table, **kwargs)
        os._exit(1)
'''


def test_lost_worker_task_is_rerun(
    client: Any, dl19: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker dies while scoring a run; the scheduler reruns the task on the other worker and
    the result is complete and identical. Last in the module: it restarts a worker."""
    module = tmp_path / "irbench_killonce.py"
    module.write_text(KILLER)
    monkeypatch.syspath_prepend(str(tmp_path))
    client.upload_file(str(module))
    from irbench_killonce import KillOnce  # type: ignore[import-not-found]

    qrels, runs = dl19
    ev = KillOnce(qrels, ["AP", "nDCG@10"])
    ev.marker = str(tmp_path / "killed")
    local = LocalEngine().score_runs(Evaluator(qrels, ["AP", "nDCG@10"]), runs[:2])
    remote = DaskEngine(client, retries=1).score_runs(ev, runs[:2])
    assert Path(ev.marker).exists()  # a worker really died
    assert_same(remote, local)

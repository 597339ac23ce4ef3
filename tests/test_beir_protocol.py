"""BEIR's protocol on small constructed data, checked against BEIR's own definitions:

- ``ignore_identical_ids``: BEIR's ``EvaluateRetrieval.evaluate`` pops ``results[qid][qid]``
  before handing the run to pytrec_eval; here the same filter, then pytrec_eval, is the oracle,
  and every read path of the engine (table, whole file, chunks, partitions, shards, Dask) must
  give the same numbers; the condition is recorded and a baseline made without it is refused.
- CQADupStack: the score of the group is the plain mean of its twelve forums, and the BEIR
  average counts it once; a system missing from a dataset is a typed error (exit 2).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import pytrec_eval
from typer.testing import CliRunner

import irbench
from irbench.cli.app import app
from irbench.engine import Evaluator
from irbench.engine.evaluator import drop_identical_ids
from irbench.engine.shards import iter_query_shards
from irbench.errors import ComparabilityError
from irbench.io import read_run
from irbench.report.average import (
    CQADUPSTACK,
    MissingDatasetError,
    auto_group,
    average_units,
    beir_average,
)

FORUMS = [
    "android",
    "english",
    "gaming",
    "gis",
    "mathematica",
    "physics",
    "programmers",
    "stats",
    "tex",
    "unix",
    "webmasters",
    "wordpress",
]
MEASURES = {"nDCG@10": "ndcg_cut_10", "P@1": "P_1", "R@100": "recall_100", "AP": "map"}


def _corpus(n_queries: int = 60, seed: int = 3) -> tuple[dict, dict]:
    """Qrels and a run in which about half the queries retrieve their own id (often at rank 1,
    sometimes judged relevant: the case where dropping it changes every measure)."""
    rng = np.random.default_rng(seed)
    qrels: dict[str, dict[str, int]] = {}
    run: dict[str, dict[str, float]] = {}
    for i in range(n_queries):
        q = f"q{i}"
        docs = [f"d{j}" for j in rng.choice(200, size=15, replace=False)]
        qrels[q] = {d: int(rng.integers(0, 3)) for d in docs[:8]}
        run[q] = {d: float(rng.normal()) for d in docs[3:15]}
        if i % 2 == 0:
            run[q][q] = 5.0 + float(rng.random())  # the query's own id, ranked first
            if i % 4 == 0:
                qrels[q][q] = 1
        if i % 3 == 0:  # another query's id is kept: only doc == query is dropped
            run[q][f"q{i + 1}"] = 0.5
    return qrels, run


def _beir_filter(run: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """beir/retrieval/evaluation.py: ``for qid, rels in results.items(): for pid in
    list(rels): if qid == pid: results[qid].pop(pid)``."""
    out = {q: dict(docs) for q, docs in run.items()}
    for qid, rels in out.items():
        for pid in list(rels):
            if qid == pid:
                out[qid].pop(pid)
    return out


def _trec(path: Path, run: dict[str, dict[str, float]], interleave: bool = False) -> Path:
    rows = [(q, d, s) for q, docs in run.items() for d, s in docs.items()]
    if interleave:  # queries not grouped: forces the partitioned reader
        rows = rows[::2] + rows[1::2]
    path.write_text("".join(f"{q} Q0 {d} 0 {s!r} tag\n" for q, d, s in rows))
    return path


def _means(table: pa.Table) -> dict[str, float]:
    df = table.to_pandas()
    df = df[df["query_id"] == "all"]
    return dict(zip(df["measure"], df["value"], strict=True))


@pytest.fixture(scope="module")
def data() -> tuple[dict, dict]:
    return _corpus()


def test_drop_identical_ids_drops_only_equal_ids() -> None:
    t = pa.table(
        {
            "query_id": ["1", "1", "2", "2", "2"],
            "doc_id": ["1", "2", "1", "2", "02"],
            "score": [3.0, 2.0, 1.0, 0.5, 0.4],
        }
    )
    out = drop_identical_ids(t)
    assert list(zip(out["query_id"].to_pylist(), out["doc_id"].to_pylist(), strict=True)) == [
        ("1", "2"),
        ("2", "1"),
        ("2", "02"),  # ids are strings: "02" is not "2"
    ]


def test_ignore_identical_ids_equals_beir_then_pytrec_eval(data: tuple[dict, dict]) -> None:
    qrels, run = data
    ev = pytrec_eval.RelevanceEvaluator(qrels, set(MEASURES.values()))
    oracle = ev.evaluate(_beir_filter(run))
    mine = irbench.evaluate(qrels, run, list(MEASURES), ignore_identical_ids=True)
    got = _means(mine)
    for m, name in MEASURES.items():
        want = float(np.mean([oracle[q][name] for q in oracle]))
        assert got[m] == pytest.approx(want, abs=1e-12), m
    plain = _means(irbench.evaluate(qrels, run, list(MEASURES)))
    assert plain["P@1"] != pytest.approx(got["P@1"])  # the option changes the numbers


def test_every_read_path_gives_the_same_numbers(data: tuple[dict, dict], tmp_path: Path) -> None:
    from distributed import Client, LocalCluster

    from irbench.distributed.dask_engine import DaskEngine
    from irbench.engine.runs import score_chunks_part, score_partitions_part

    qrels, run = data
    ev = Evaluator(qrels, list(MEASURES), ignore_identical_ids=True)
    want = ev.score(_beir_filter(run))
    grouped = _trec(tmp_path / "grouped.run", run)
    mixed = _trec(tmp_path / "mixed.run", run, interleave=True)

    results = {
        "dict": ev.score(run),
        "file": ev.score(str(grouped)),
        "interleaved file": ev.score(str(mixed)),
    }
    part, _ = score_chunks_part(ev, grouped, chunk_bytes=256)  # many small chunks
    results["chunks"] = ev.finish(part, "r")
    part, _ = score_partitions_part(ev, mixed, chunk_bytes=256)
    results["partitions"] = ev.finish(part, "r")
    table = read_run(grouped)
    shards = [ev.score_part(s.table) for s in iter_query_shards(table, 7)]
    merged = shards[0]
    for s in shards[1:]:
        merged = merged.merge(s, what="shard")
    results["shards"] = ev.finish(merged, "r")
    with (
        LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        eng = DaskEngine(client, shard_size=512)  # the file is split into shards on the worker
        (results["dask"],) = eng.score_runs(ev, [str(grouped)])
    for path, scores in results.items():
        assert scores.query_ids.to_pylist() == want.query_ids.to_pylist(), path
        for m in ev.measures:
            np.testing.assert_array_equal(scores.values[m], want.values[m], err_msg=path)


def test_cli_eval_and_compare_take_the_flag(data: tuple[dict, dict], tmp_path: Path) -> None:
    qrels, run = data
    qpath = tmp_path / "qrels.txt"
    qpath.write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items())
    )
    rpath = _trec(tmp_path / "a.run", run)
    other = {q: {d: -s for d, s in docs.items()} for q, docs in run.items()}
    opath = _trec(tmp_path / "b.run", other)
    res = CliRunner().invoke(
        app, ["eval", str(qpath), str(rpath), "-m", "P@1", "--ignore-identical-ids", "-f", "csv"]
    )
    assert res.exit_code == 0, res.output
    want = _means(irbench.evaluate(qrels, run, ["P@1"], ignore_identical_ids=True))["P@1"]
    out = pd.read_csv(io.StringIO(res.output))
    assert out["value"].item() == pytest.approx(want, abs=1e-15)
    res = CliRunner().invoke(
        app,
        [
            *("compare", str(qpath), str(rpath), str(opath), "-m", "P@1"),
            *("--ignore-identical-ids", "-f", "csv", "-b", str(rpath)),
        ],
    )
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.output))
    assert df["baseline_mean"].iloc[0] == pytest.approx(want, abs=1e-12)


def test_condition_is_recorded_and_a_baseline_without_it_is_refused(
    data: tuple[dict, dict], tmp_path: Path
) -> None:
    qrels, run = data
    qpath = tmp_path / "qrels.txt"
    qpath.write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items())
    )
    rpath = _trec(tmp_path / "a.run", run)
    board = irbench.leaderboard(qpath, [rpath], ["P@1"], ignore_identical_ids=True)
    assert board["ignore_identical_ids"].tolist() == [True]
    base = tmp_path / "baseline.toml"
    runner = CliRunner()
    res = runner.invoke(
        app, ["check", "--baseline", str(base), str(qpath), str(rpath), "-m", "P@1", "--update"]
    )
    assert res.exit_code == 0, res.output
    assert "ignore_identical_ids = false" in base.read_text()
    res = runner.invoke(app, ["check", "--baseline", str(base), str(qpath), str(rpath)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["check", "--baseline", str(base), str(qpath), str(rpath), "--ignore-identical-ids"]
    )
    assert res.exit_code == 2 and "ignore_identical_ids was False, now True" in res.output
    # a baseline written before the condition existed means "not ignored"
    old = base.read_text().replace("ignore_identical_ids = false\n", "")
    base.write_text(old)
    assert (
        runner.invoke(app, ["check", "--baseline", str(base), str(qpath), str(rpath)]).exit_code
        == 0
    )


# ------------------------------------------------------------------------------ CQADupStack


def test_cqadupstack_ids_are_grouped() -> None:
    assert auto_group("android", "beir/cqadupstack/android") == CQADUPSTACK
    assert auto_group("x", "/d/qrels.beir-v1.0.0-cqadupstack-gis.test.txt") == CQADUPSTACK
    assert auto_group("cqadupstack-tex", "q.txt") == CQADUPSTACK
    assert auto_group("arguana", "beir/arguana") is None
    assert auto_group("scifact", "/tmp/cqadupstack-runs/qrels.scifact.txt") is None  # folders
    units = average_units(["a", "f1", "b", "f2"], {"f1": "g", "f2": "g"})
    assert units == [("a", ["a"]), ("g", ["f1", "f2"]), ("b", ["b"])]


def test_beir_average_is_the_plain_mean_of_units() -> None:
    values = {("s", f): float(i) for i, f in enumerate(FORUMS)} | {("s", "scifact"): 0.7}
    units = average_units([*FORUMS, "scifact"], dict.fromkeys(FORUMS, CQADUPSTACK))
    cqa = sum(range(12)) / 12
    assert beir_average(values, ["s"], units)["s"] == pytest.approx((cqa + 0.7) / 2, abs=1e-15)
    with pytest.raises(MissingDatasetError, match="'t' has no run for dataset 'android'"):
        beir_average(values, ["s", "t"], units)


def _spec(tmp_path: Path, *, missing: bool = False, explicit: bool = False) -> Path:
    """Twelve forum datasets and scifact, two systems whose per-forum values differ."""
    lines = ['measures = ["P@1", "nDCG@10"]\n']
    for k, forum in enumerate([*FORUMS, "scifact"]):
        qrels = {f"q{i}": {f"d{i}": 1, f"e{i}": 1} for i in range(k + 2)}
        qp = tmp_path / f"qrels.beir-v1.0.0-cqadupstack-{forum}.test.txt"
        if explicit:  # nothing in the ids says cqadupstack: only `group` groups them
            qp = tmp_path / f"qrels.{forum}.txt"
        if forum == "scifact":
            qp = tmp_path / "qrels.scifact.txt"
        qp.write_text("".join(f"{q} 0 {d} {r}\n" for q, ds in qrels.items() for d, r in ds.items()))
        runs = {}
        for s, good in (("A", k % 3 + 1), ("B", k % 5 + 1)):
            run = {
                q: {f"d{i}": 1.0 if i % good == 0 else 0.1, f"x{i}": 0.5}
                for i, q in enumerate(qrels)
            }
            if not (missing and s == "B" and forum == "gis"):
                runs[s] = _trec(tmp_path / f"{forum}-{s}.run", run)
        name = f"forum_{forum}" if explicit and forum != "scifact" else forum
        lines.append(f'[datasets.{name}]\nqrels = "{qp.name}"\n')
        lines.append("runs = { " + ", ".join(f'{s} = "{p.name}"' for s, p in runs.items()) + " }\n")
        if explicit and forum != "scifact":
            lines.append('group = "cqa"\n')
    spec = tmp_path / "spec.toml"
    spec.write_text("".join(lines))
    return spec


@pytest.mark.parametrize("explicit", [False, True])
def test_leaderboard_groups_forums_before_the_average(tmp_path: Path, explicit: bool) -> None:
    from irbench.report.leaderboard import win_tie_loss_matrix

    spec = _spec(tmp_path, explicit=explicit)
    board = irbench.leaderboard(spec=spec)
    group = "cqa" if explicit else CQADUPSTACK
    wtl = win_tie_loss_matrix(board, "P@1", exclude=[group]).loc["A", "B"]
    assert sum(map(int, wtl.split("/"))) == 13  # forums and scifact, not the group's row
    res = CliRunner().invoke(app, ["leaderboard", "--spec", str(spec), "-f", "markdown"])
    assert res.exit_code == 0 and f"| {wtl} |" in res.stdout, res.output
    per = board[~board["dataset"].isin(["average", group])]
    assert per["dataset"].nunique() == 13
    for (run, measure), rows in per.groupby(["run", "measure"]):
        forums = rows[rows["dataset"] != "scifact"]["value"]
        assert len(forums) == 12
        cqa = board[
            (board["dataset"] == group) & (board["run"] == run) & (board["measure"] == measure)
        ]
        assert cqa["value"].item() == pytest.approx(forums.mean(), abs=1e-15)
        sci = rows[rows["dataset"] == "scifact"]["value"].item()
        avg = board[
            (board["dataset"] == "average") & (board["run"] == run) & (board["measure"] == measure)
        ]
        assert avg["value"].item() == pytest.approx((forums.mean() + sci) / 2, abs=1e-15)
        # not the mean over the 13 datasets, which is what ungrouped averaging would give
        assert not math.isclose(avg["value"].item(), rows["value"].mean(), abs_tol=1e-9)
        assert avg["ci_low"].item() < avg["value"].item() < avg["ci_high"].item()


def test_a_system_missing_from_a_dataset_is_an_error(tmp_path: Path) -> None:
    spec = _spec(tmp_path, missing=True)
    with pytest.raises(MissingDatasetError) as exc:
        irbench.leaderboard(spec=spec)
    assert (exc.value.system, exc.value.dataset) == ("B", "gis")
    assert isinstance(exc.value, ComparabilityError)
    res = CliRunner().invoke(app, ["leaderboard", "--spec", str(spec)])
    assert res.exit_code == 2 and "'B' has no run for dataset 'gis'" in res.output
    res = CliRunner().invoke(app, ["leaderboard", "--spec", str(spec), "--no-average"])
    assert res.exit_code == 0, res.output


def test_spec_sets_ignore_identical_ids_per_dataset(
    data: tuple[dict, dict], tmp_path: Path
) -> None:
    qrels, run = data
    for name in ("arguana", "other"):
        (tmp_path / f"{name}.qrels").write_text(
            "".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items())
        )
    # the second dataset's qrels must differ (the leaderboard refuses one qrels twice)
    with open(tmp_path / "other.qrels", "a") as fh:
        fh.write("q0 0 extra 1\n")
    _trec(tmp_path / "a.run", run)
    spec = tmp_path / "s.toml"
    spec.write_text(
        'measures = ["P@1"]\n[datasets.arguana]\nqrels = "arguana.qrels"\nruns = ["a.run"]\n'
        'ignore_identical_ids = true\n[datasets.other]\nqrels = "other.qrels"\nruns = ["a.run"]\n'
    )
    board = irbench.leaderboard(spec=spec).set_index("dataset")
    assert bool(board.loc["arguana", "ignore_identical_ids"]) is True
    assert bool(board.loc["other", "ignore_identical_ids"]) is False
    assert board.loc["arguana", "value"] == pytest.approx(
        _means(irbench.evaluate(qrels, run, ["P@1"], ignore_identical_ids=True))["P@1"]
    )
    spec.write_text(spec.read_text().replace("= true", '= "yes"'))
    with pytest.raises(irbench.InputFormatError, match="true or false"):
        irbench.leaderboard(spec=spec)


def test_table_and_leaderboard_take_the_flag(data: tuple[dict, dict], tmp_path: Path) -> None:
    qrels, run = data
    qpath = tmp_path / "qrels.txt"
    qpath.write_text(
        "".join(f"{q} 0 {d} {r}\n" for q, docs in qrels.items() for d, r in docs.items())
    )
    rpath = _trec(tmp_path / "a.run", run)
    want = _means(irbench.evaluate(qrels, run, ["P@1"], ignore_identical_ids=True))["P@1"]
    for cmd in ("table", "leaderboard"):
        args = [cmd, str(qpath), str(rpath), "-m", "P@1", "--ignore-identical-ids", "-f", "csv"]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
        row = pd.read_csv(io.StringIO(res.stdout)).iloc[0]
        assert bool(row["ignore_identical_ids"]) is True, cmd
        assert row["value"] == pytest.approx(want, abs=1e-15), cmd

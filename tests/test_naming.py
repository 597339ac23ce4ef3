"""One naming rule for runs (irbench.engine.naming) in the Python API, every command, warnings
and baselines; NAME=PATH; and `eval -o` formats that follow the file's suffix. Runs on the DL19
data shipped in the package (every run there has the tag ``rank``)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import warnings
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import irbench
from irbench.cli.app import app
from irbench.engine.naming import (
    file_stem,
    is_named_runs,
    name_runs,
    path_aliases,
    split_run_arg,
)
from irbench.errors import InputFormatError, IrbenchWarning
from irbench.io import read_run

DEMO = Path(irbench.__file__).parent / "data" / "demo" / "dl19-passage"
QRELS = str(DEMO / "qrels.txt.gz")
BM25 = str(DEMO / "runs" / "bm25.run.gz")
TASB = str(DEMO / "runs" / "tas-b.run.gz")
runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module")
def same_stem(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two different runs with one file name, in two folders (as runs-rank_llm lays them out)."""
    root = tmp_path_factory.mktemp("same-stem")
    out = []
    for folder, src in (("BM25", BM25), ("TASB", TASB)):
        (root / folder).mkdir()
        dst = root / folder / "dl19.run.gz"
        shutil.copyfile(src, dst)
        out.append(str(dst))
    return out[0], out[1]


# ----------------------------------------------------------------------------------- the rule


def test_file_stem_drops_format_and_compression_suffixes() -> None:
    assert file_stem("runs/bm25.run.gz") == "bm25"
    assert file_stem("my.run.txt") == "my"
    assert file_stem("x.txt.run") == "x"
    assert file_stem("a/SPLADE.trec") == "SPLADE"
    assert file_stem("bm25.k1=0.9.res") == "bm25.k1=0.9"  # other dots are kept
    assert file_stem("r.parquet") == "r"


def test_names_are_stems_then_parent_folders_then_numbers() -> None:
    assert name_runs(["/d/bm25.run", "/d/splade.run.gz"]) == ["bm25", "splade"]
    assert name_runs(["/d/BM25/dl19.txt", "/d/SPLADE/dl19.txt"]) == ["BM25/dl19", "SPLADE/dl19"]
    got = name_runs(["/d/a/x/bm25.run", "/d/b/x/bm25.run", "/d/c/bm25.run", "/d/c/bm25.run"])
    assert got == ["a/x/bm25", "b/x/bm25", "c/bm25", "c/bm25#2"]  # the same file twice: #2
    assert name_runs(["-"]) == ["stdin"]


def test_a_name_does_not_depend_on_the_other_runs_unless_they_collide() -> None:
    alone = name_runs(["/d/bm25.run"])
    for others in (["/d/splade.run"], ["/e/tasb.run", "/e/ance.run"]):
        assert name_runs(["/d/bm25.run", *others])[0] == alone[0] == "bm25"


def test_explicit_names_win_and_must_be_distinct() -> None:
    assert name_runs(["/d/a.run", "/d/b.run"], ["b", None]) == ["b", "d/b"]
    assert name_runs(["/d/x/bm25.run", "/e/b.run"], [None, "bm25"]) == ["x/bm25", "bm25"]
    with pytest.raises(InputFormatError, match="two runs are named 'x'"):
        name_runs(["/a.run", "/b.run"], ["x", "x"])
    with pytest.raises(InputFormatError, match="2 names for 1 runs"):
        name_runs(["/a.run"], ["x", "y"])


def test_in_memory_runs_use_their_stored_name_numbered() -> None:
    table = read_run(BM25)  # the reader stores the run tag
    assert name_runs([table, table, {"q": {"d": 1.0}}, {"q": {"d": 2.0}}]) == [
        "rank",
        "rank#2",
        "run",
        "run#2",
    ]


def test_path_aliases_run_from_stem_to_parents() -> None:
    aliases = path_aliases(BM25)
    assert aliases[:3] == ["bm25", "runs/bm25", "dl19-passage/runs/bm25"]


def test_name_equals_path_split_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("b.run").write_text("")
    assert split_run_arg("bm25=b.run") == ("bm25", "b.run")
    assert split_run_arg("bm25=missing.run") == ("bm25", "missing.run")  # reported missing later
    assert split_run_arg("bm25=-") == ("bm25", "-")
    assert split_run_arg("plain.run") == (None, "plain.run")
    assert split_run_arg("dir/k1=0.9.run") == (None, "dir/k1=0.9.run")  # not a plain name
    Path("k1=0.9.run").write_text("")
    assert split_run_arg("k1=0.9.run") == (None, "k1=0.9.run")  # a file whose name has '='
    Path("x=b.run").write_text("")
    with pytest.raises(InputFormatError, match=r"\./x=b\.run"):
        split_run_arg("x=b.run")  # both the file 'x=b.run' and the run 'b.run' exist
    assert split_run_arg("./x=b.run") == (None, "./x=b.run")


def test_a_dict_of_runs_is_told_from_a_dict_of_dicts_run() -> None:
    assert not is_named_runs({"q1": {"d1": 1.0}})
    assert is_named_runs({"bm25": BM25, "tasb": read_run(TASB)})
    assert is_named_runs({"bm25": {"q1": {"d1": 1.0}}})


# ------------------------------------------------------------------------------- Python API


def test_evaluate_two_in_memory_runs_gets_two_names_and_pivots() -> None:
    runs = [read_run(BM25), read_run(TASB)]  # both tagged 'rank'
    df = irbench.evaluate(QRELS, runs, ["nDCG@10"], per_query=False, output="pandas")
    assert list(df["run"]) == ["rank", "rank#2"]
    wide = df.pivot(index="measure", columns="run", values="value")
    assert wide.loc["nDCG@10", "rank"] == pytest.approx(0.5058, abs=5e-5)
    assert wide.loc["nDCG@10", "rank#2"] == pytest.approx(0.7210, abs=5e-5)


def test_evaluate_paths_dict_and_names_name_the_same_way() -> None:
    table = irbench.evaluate(QRELS, [BM25, TASB], "nDCG@10", per_query=False)
    assert table.column("run").to_pylist() == ["bm25", "tas-b"]
    alone = irbench.evaluate(QRELS, BM25, "nDCG@10", per_query=False)
    assert alone.column("run").to_pylist() == ["bm25"]  # not the tag 'rank'
    named = irbench.evaluate(
        QRELS, {"BM25": BM25, "TAS-B": read_run(TASB)}, "nDCG@10", per_query=False
    )
    assert named.column("run").to_pylist() == ["BM25", "TAS-B"]
    given = irbench.evaluate(QRELS, [BM25, TASB], "nDCG@10", per_query=False, names=["a", None])
    assert given.column("run").to_pylist() == ["a", "tas-b"]
    ev = irbench.Evaluator(QRELS, ["nDCG@10"])
    assert ev.score(BM25).run == "bm25"
    assert ev.evaluate([BM25, BM25], per_query=False).column("run").to_pylist() == [
        "bm25",
        "bm25#2",
    ]


def test_compare_and_leaderboard_name_as_evaluate(same_stem: tuple[str, str]) -> None:
    df = irbench.compare(QRELS, list(same_stem), ["nDCG@10"], baseline="BM25/dl19")
    assert set(df["run"]) == {"TASB/dl19"} and set(df["baseline"]) == {"BM25/dl19"}
    df = irbench.compare(QRELS, {"b": BM25, "t": TASB}, ["nDCG@10"], baseline="b")
    assert list(df["run"]) == ["t"]
    board = irbench.leaderboard(QRELS, list(same_stem), ["nDCG@10"], ties=False)
    assert list(board["run"]) == ["BM25/dl19", "TASB/dl19"]
    board = irbench.leaderboard(QRELS, {"x": BM25}, ["nDCG@10"], ties=False)
    assert list(board["run"]) == ["x"]


def test_warnings_name_the_run_as_the_table_does(tmp_path: Path) -> None:
    lines = gzip.decompress(Path(BM25).read_bytes()).decode().splitlines()
    first = lines[0].split()[0]
    partial = tmp_path / "partial.run"
    partial.write_text("\n".join(x for x in lines if x.split()[0] != first) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IrbenchWarning)
        table = irbench.evaluate(QRELS, [str(partial), BM25], "RR", per_query=False)
    assert table.column("run").to_pylist() == ["partial", "bm25"]
    assert [str(w.message) for w in caught] == [
        "run 'partial' lacks 1 of the qrels queries (skipped; -c scores them as empty rankings)"
    ]
    res = invoke("eval", QRELS, str(partial), TASB, "-m", "RR", "-c", "-f", "tsv")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    runs = {line.split("\t")[0] for line in res.stdout.splitlines()[1:]}  # type: ignore[attr-defined]
    assert runs == {"partial", "tas-b"}
    assert "run 'partial' lacks 1 of the qrels queries (scored as empty rankings (-c))" in (
        res.stderr  # type: ignore[attr-defined]
    )


# ------------------------------------------------------------------------------ the CLI


def _csv_runs(stdout: str) -> list[str]:
    return list(dict.fromkeys(line.split(",")[0] for line in stdout.splitlines()[1:]))


def test_eval_names_one_run_as_several(same_stem: tuple[str, str]) -> None:
    one = invoke("eval", QRELS, BM25, "-m", "RR", "-f", "csv")
    two = invoke("eval", QRELS, BM25, TASB, "-m", "RR", "-f", "csv")
    assert _csv_runs(one.stdout) == ["bm25"]  # type: ignore[attr-defined]
    assert _csv_runs(two.stdout) == ["bm25", "tas-b"]  # type: ignore[attr-defined]
    both = invoke("eval", QRELS, *same_stem, "-m", "RR", "-f", "csv")
    assert _csv_runs(both.stdout) == ["BM25/dl19", "TASB/dl19"]  # type: ignore[attr-defined]


def test_name_equals_path_in_eval_compare_leaderboard(same_stem: tuple[str, str]) -> None:
    a, b = same_stem
    res = invoke("eval", QRELS, f"bm25={a}", f"tasb={b}", "-m", "RR", "-f", "csv")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert _csv_runs(res.stdout) == ["bm25", "tasb"]  # type: ignore[attr-defined]
    res = invoke("compare", QRELS, f"bm25={a}", f"tasb={b}", "-m", "RR", "-b", "bm25", "-f", "csv")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert _csv_runs(res.stdout) == ["tasb"]  # type: ignore[attr-defined]
    assert ",bm25," in res.stdout  # type: ignore[attr-defined]
    res = invoke("leaderboard", QRELS, f"bm25={a}", b, "-m", "RR", "--baseline", "bm25")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert [line.split(",")[1] for line in res.stdout.splitlines()[1:]] == [  # type: ignore[attr-defined]
        "bm25",
        "dl19",
    ]
    res = invoke("eval", QRELS, f"x={a}", f"x={b}", "-m", "RR")
    assert res.exit_code == 2 and "two runs are named 'x'" in res.stderr  # type: ignore[attr-defined]


def test_check_update_with_two_runs_then_check_with_one(
    same_stem: tuple[str, str], tmp_path: Path
) -> None:
    baseline = str(tmp_path / "b.toml")
    for runs in ([BM25, TASB], list(same_stem)):
        res = invoke("check", "-b", baseline, QRELS, *runs, "-m", "nDCG@10", "--update")
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
        for run in runs:  # each alone: named 'bm25' or 'dl19' now, recorded under another
            res = invoke("check", "-b", baseline, QRELS, run)
            assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
            assert "OK" in res.stdout  # type: ignore[attr-defined]
        res = invoke("check", "-b", baseline, QRELS, *runs)
        assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    text = Path(baseline).read_text()
    assert '[datasets.qrels.runs."BM25/dl19"]' in text and 'run_names = "file-stem"' in text
    # and the other way round: a baseline of one run serves a check of both
    one = str(tmp_path / "one.toml")
    assert invoke("check", "-b", one, QRELS, same_stem[0], "-m", "RR", "--update").exit_code == 0  # type: ignore[attr-defined]
    res = invoke("check", "-b", one, QRELS, *same_stem, "-f", "markdown")
    assert res.exit_code == 1  # type: ignore[attr-defined]
    rows = [line.split(" | ") for line in res.stdout.splitlines() if line.startswith("| qrels")]  # type: ignore[attr-defined]
    assert [(r[1], r[6]) for r in rows] == [("BM25/dl19", "✅ OK"), ("TASB/dl19", "❌ MISSING")]
    assert "run 'BM25/dl19' is checked against the baseline's 'dl19' (same source)" in res.stdout  # type: ignore[attr-defined]


def test_name_equals_path_in_check(tmp_path: Path) -> None:
    baseline = str(tmp_path / "b.toml")
    res = invoke("check", "-b", baseline, QRELS, f"mine={BM25}", "-m", "RR", "--update")
    assert res.exit_code == 0 and "mine" in Path(baseline).read_text()  # type: ignore[attr-defined]
    res = invoke("check", "-b", baseline, QRELS, f"mine={BM25}")
    assert res.exit_code == 0 and "mine" in res.stdout  # type: ignore[attr-defined]


def test_a_baseline_of_the_old_rule_matches_or_says_how_to_regenerate(tmp_path: Path) -> None:
    baseline = tmp_path / "old.toml"
    res = invoke("check", "-b", str(baseline), QRELS, BM25, "-m", "nDCG@10", "--update")
    assert res.exit_code == 0  # type: ignore[attr-defined]
    # what irbench wrote before the rule: a single run named by its tag, no run_names
    text = baseline.read_text().replace("runs.bm25", "runs.rank")
    baseline.write_text("".join(x for x in text.splitlines(True) if not x.startswith("run_names")))
    res = invoke("check", "-b", str(baseline), QRELS, BM25)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "checked against the baseline's 'rank' (same source)" in res.stdout  # type: ignore[attr-defined]
    moved = tmp_path / "moved.run.gz"
    shutil.copyfile(TASB, moved)  # another file with other content: no way to match it
    res = invoke("check", "-b", str(baseline), QRELS, str(moved), "-f", "markdown")
    assert res.exit_code == 1  # type: ignore[attr-defined]
    out = res.stdout  # type: ignore[attr-defined]
    assert "the baseline has no run 'moved'" in out and "(it has 'rank')" in out
    assert "predates irbench's run naming rule" in out
    assert f"`irbench check --baseline {baseline} QRELS RUN ... --update`" in out
    res = invoke("check", "-b", str(baseline), QRELS, BM25, "--update")
    assert "rank: renamed bm25" in res.stdout  # type: ignore[attr-defined]
    assert "runs.rank" not in baseline.read_text() and "runs.bm25" in baseline.read_text()


def test_committed_demo_baseline_passes() -> None:
    repo = Path(__file__).resolve().parents[1]
    runs = sorted(str(p) for p in (DEMO / "runs").glob("*.run.gz"))
    res = invoke("check", "-b", str(repo / "runs/baselines/dl19-demo.toml"), QRELS, *runs)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "30 OK" in res.stdout  # type: ignore[attr-defined]


# ------------------------------------------------------------------- eval -o and --format


@pytest.mark.parametrize(
    ("suffix", "first"),
    [
        (".csv", "run,measure,query_id,value"),
        (".tsv", "run\tmeasure\tquery_id\tvalue"),
        (".out", "run\tmeasure\tquery_id\tvalue"),  # unknown suffix: tab-separated
        (".jsonl", '{"run": "bm25", "query_id": "all", "measure": "RR", "value": '),
        (".json", '{"bm25": {"all": {"RR": '),
        (".trec", "recip_rank"),
    ],
)
def test_eval_output_format_follows_the_suffix(tmp_path: Path, suffix: str, first: str) -> None:
    out = tmp_path / f"res{suffix}"
    res = invoke("eval", QRELS, BM25, "-m", "RR", "-o", str(out))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    text = out.read_text()
    assert text.startswith(first)
    if suffix == ".json":
        expected = irbench.evaluate(QRELS, BM25, "RR", per_query=False).column("value")[0]
        assert json.loads(text)["bm25"]["all"]["RR"] == expected.as_py()


def test_eval_format_that_contradicts_the_suffix_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "res.json"
    res = invoke("eval", QRELS, BM25, "-m", "RR", "-o", str(out), "--format", "csv")
    assert res.exit_code == 2  # type: ignore[attr-defined]
    msg = res.stderr.replace("\n", "")  # type: ignore[attr-defined]
    assert f"--format csv contradicts -o {out} (a .json file is json)" in msg
    assert not out.exists()
    ok = invoke("eval", QRELS, BM25, "-m", "RR", "-o", str(out), "--format", "json")
    assert ok.exit_code == 0 and json.loads(out.read_text())  # type: ignore[attr-defined]
    other = tmp_path / "res.out"  # an unknown suffix takes any format
    ok = invoke("eval", QRELS, BM25, "-m", "RR", "-o", str(other), "--format", "csv")
    assert ok.exit_code == 0 and other.read_text().startswith("run,")  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- progress bars


def test_progress_without_a_total_never_shows_a_question_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    import irbench.cli.run_cmd as run_cmd

    buf = io.StringIO()
    monkeypatch.setattr(run_cmd, "err_console", lambda: Console(file=buf, width=100))
    with run_cmd.rich_progress() as progress:
        with progress.task("analysing documents") as task:
            for _ in range(11429):
                task.advance()
        with progress.task("searching", total=93) as task:
            task.advance(93)
    text = buf.getvalue()
    assert "/?" not in text
    assert "11,429/11,429" in text and "93/93" in text


def test_in_memory_single_run_keeps_its_stored_name() -> None:
    table = pa.table({"query_id": ["1037798"], "doc_id": ["x"], "score": [1.0]})
    t = irbench.evaluate(QRELS, table, "RR", per_query=False)
    assert t.column("run").to_pylist() == ["run"]
    t = irbench.evaluate(QRELS, read_run(BM25), "RR", per_query=False)
    assert t.column("run").to_pylist() == ["rank"]

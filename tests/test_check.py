"""`irbench check`: a BM25 baseline on real TREC DL 2019 passes against itself, a degraded copy
fails naming the measure and queries, and every failure path exits with a clear message."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.io import read_run

MEASURES = ["nDCG@10", "AP(rel=2)", "P(rel=2)@10"]


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, ["check", *args])


def _write_run(table: object, path: Path) -> None:
    df = table.to_pandas()  # type: ignore[attr-defined]
    with path.open("w") as fh:
        for q, d, s in zip(df["query_id"], df["doc_id"], df["score"], strict=True):
            fh.write(f"{q} Q0 {d} 0 {s!r} bm25\n")


@pytest.fixture(scope="module")
def setup(dl19_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("check")
    qrels = dl19_data / "trec-dl" / "qrels.dl19-passage.txt"
    src = read_run(dl19_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt")
    (root / "ok").mkdir()
    (root / "bad").mkdir()
    good = root / "ok" / "bm25.run"
    _write_run(src, good)
    # degraded copy: top 10 reversed for a quarter of the queries
    df = src.to_pandas().sort_values(["query_id", "score"], ascending=[True, False])
    queries = sorted(set(df["query_id"]) & set(qrels.read_text().split()[::4]))
    hit = queries[: len(queries) // 4]
    parts = []
    for q, g in df.groupby("query_id", sort=False):
        g = g.copy()
        if q in hit:
            top = g["score"].to_numpy()[:10].copy()
            g.iloc[:10, g.columns.get_loc("score")] = top[::-1]
        parts.append(g)
    import pandas as pd
    import pyarrow as pa

    bad = root / "bad" / "bm25.run"
    _write_run(pa.Table.from_pandas(pd.concat(parts), preserve_index=False), bad)
    baseline = root / "baseline.toml"
    args = ["--baseline", str(baseline), str(qrels), str(good), "--update", "-d", "dl19"]
    for m in MEASURES:
        args += ["-m", m]
    res = _invoke(*args)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert "+ dataset dl19: 1 run(s), 3 value(s)" in res.output  # type: ignore[attr-defined]
    return {"root": root, "qrels": qrels, "good": good, "bad": bad, "baseline": baseline}


def _copy_baseline(setup: dict[str, Path], name: str, edit: object = None) -> Path:
    text = setup["baseline"].read_text()
    if edit is not None:
        text = edit(text)  # type: ignore[operator]
    path = setup["root"] / name
    path.write_text(text)
    return path


def test_baseline_passes_against_itself(setup: dict[str, Path]) -> None:
    res = _invoke("--baseline", str(setup["baseline"]), str(setup["qrels"]), str(setup["good"]))
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert res.output.count(" OK ") == 3  # type: ignore[attr-defined]
    assert "irbench check passed: 3 OK" in res.output  # type: ignore[attr-defined]


def test_baseline_file_holds_per_query_values_and_provenance(setup: dict[str, Path]) -> None:
    import tomllib

    from irbench import evaluate
    from irbench.engine import BoundQrels
    from irbench.io import read_qrels

    doc = tomllib.loads(setup["baseline"].read_text())
    ds = doc["datasets"]["dl19"]
    assert ds["qrels_sha256"] == BoundQrels.from_table(read_qrels(setup["qrels"])).fingerprint
    assert (
        ds["query_policy"] == "skip-missing" and ds["tie_policy"] == "float32-score-desc-docid-desc"
    )
    run = ds["runs"]["bm25"]
    assert len(run["queries"]) == 43
    t = evaluate(setup["qrels"], setup["good"], MEASURES, output="pandas")
    for m in MEASURES:
        v = run["values"][m]
        sel = t[(t["measure"] == m)]
        assert v["value"] == sel[sel["query_id"] == "all"]["value"].item()  # exact round trip
        per_q = dict(zip(sel["query_id"], sel["value"], strict=True))
        assert v["per_query"] == [per_q[q] for q in run["queries"]]


def test_degraded_copy_fails_naming_measure_and_queries(setup: dict[str, Path]) -> None:
    res = _invoke("--baseline", str(setup["baseline"]), str(setup["qrels"]), str(setup["bad"]))
    out = res.output  # type: ignore[attr-defined]
    assert res.exit_code == 1, out  # type: ignore[attr-defined]
    assert "REGRESSED" in out and "FAILED" in out
    # nDCG@10 and P@10 change only on the reversed queries: name them
    from irbench.report.check import check

    result = check(setup["baseline"], setup["qrels"], [setup["bad"]])
    by = {r.measure: r for r in result.rows}
    assert by["nDCG@10"].status == "REGRESSED"
    assert by["nDCG@10"].actual < by["nDCG@10"].expected
    named = {q.query_id for q in by["nDCG@10"].regressed}
    assert named and "most regressed queries" in by["nDCG@10"].detail
    assert all(q in by["nDCG@10"].detail for q in named)
    assert "ties" in by["nDCG@10"].detail  # tie diagnostic: could tie order explain it?
    assert result.exit_code == 1


def test_policy_tolerance_and_margin(setup: dict[str, Path]) -> None:
    from irbench.report.check import check

    loose = _copy_baseline(
        setup,
        "loose.toml",
        lambda t: t.replace(
            "[policy.default]\ntolerance = 0.0", "[policy.default]\ntolerance = 0.5"
        ),
    )
    res = check(loose, setup["qrels"], [setup["bad"]])
    assert {r.status for r in res.rows} <= {"WITHIN TOLERANCE", "OK"}
    assert res.exit_code == 0
    # both: tolerance holds but non-inferiority at a tiny margin cannot be shown
    both = _copy_baseline(
        setup,
        "both.toml",
        lambda t: t.replace(
            "[policy.default]\ntolerance = 0.0",
            '[policy.default]\ntolerance = 0.5\n\n[policy."nDCG@10"]\ntolerance = 0.5\n'
            "margin = 0.001\nalpha = 0.05",
        ),
    )
    res = check(both, setup["qrels"], [setup["bad"]])
    row = next(r for r in res.rows if r.measure == "nDCG@10")
    assert row.status == "REGRESSED" and row.p_value > 0.05
    assert "non-inferiority at margin 0.001" in row.detail
    # the same margin passes the unchanged run (all differences 0: non-inferior)
    res = check(both, setup["qrels"], [setup["good"]])
    assert res.exit_code == 0


def test_same_run_different_value_blames_the_evaluation(setup: dict[str, Path]) -> None:
    from irbench.report.check import check

    path = _copy_baseline(
        setup, "raised.toml", lambda t: re.sub(r"\nvalue = 0\.5058", "\nvalue = 0.6058", t)
    )
    res = check(path, setup["qrels"], [setup["good"]])
    row = next(r for r in res.rows if r.measure == "nDCG@10")
    assert row.status == "REGRESSED" and row.expected == pytest.approx(0.6058, abs=1e-4)
    assert "content is unchanged (same SHA-256)" in row.detail
    assert res.exit_code == 1


def test_missing_value_fails_with_exit_1(setup: dict[str, Path]) -> None:
    res = _invoke(
        "--baseline",
        str(setup["baseline"]),
        str(setup["qrels"]),
        str(setup["good"]),
        "-m",
        "nDCG@10",
        "-m",
        "RR@10",
    )
    assert res.exit_code == 1
    out = res.output  # type: ignore[attr-defined]
    assert "MISSING" in out and "no value of RR@10" in out and "--update" in out


def test_missing_run_and_lost_queries_fail(setup: dict[str, Path]) -> None:
    from irbench.report.check import check

    other = setup["root"] / "other.run"
    lines = setup["good"].read_text().splitlines()
    first_q = lines[0].split()[0]
    other.write_text("\n".join(ln for ln in lines if ln.split()[0] != first_q) + "\n")
    res = check(setup["baseline"], setup["qrels"], [other], names=["other"])
    assert {r.status for r in res.rows} == {"MISSING"}
    assert "no run 'other' on 'dl19' (it has 'bm25')" in res.rows[0].detail
    res = check(setup["baseline"], setup["qrels"], [other], names=["bm25"])
    assert {r.status for r in res.rows} == {"QUERIES CHANGED"}
    assert f"1 lost ({first_q})" in res.rows[0].detail
    assert res.exit_code == 1


def test_mismatched_qrels_hash_exits_2(setup: dict[str, Path]) -> None:
    qrels = setup["root"] / "qrels-edited.txt"
    lines = setup["qrels"].read_text().splitlines()
    qrels.write_text("\n".join(lines[1:]) + "\n")
    args = ["--baseline", str(setup["baseline"]), str(qrels), str(setup["good"])]
    res = _invoke(*args)
    assert res.exit_code == 2
    out = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "qrels differ from the baseline's" in out and "--force" in out
    res = _invoke(*args, "--force")
    assert res.exit_code in (0, 1) and "forced:" in res.output  # type: ignore[attr-defined]


def test_changed_measure_definition_exits_2(setup: dict[str, Path]) -> None:
    path = _copy_baseline(
        setup,
        "def.toml",
        lambda t: t.replace(
            'definition = "Relevant documents in the top k divided by k',
            'definition = "Relevant documents in the top k divided by min(k, R)',
        ),
    )
    res = _invoke("--baseline", str(path), str(setup["qrels"]), str(setup["good"]))
    assert res.exit_code == 2
    out = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert "'P(rel=2)@10' has a different definition" in out


def test_changed_conditions_exit_2(setup: dict[str, Path]) -> None:
    res = _invoke(
        "--baseline", str(setup["baseline"]), str(setup["qrels"]), str(setup["good"]), "-M", "50"
    )
    assert res.exit_code == 2
    assert "max_results was 0, now 50" in " ".join(res.output.split())  # type: ignore[attr-defined]


def test_malformed_baseline_names_line(setup: dict[str, Path]) -> None:
    path = _copy_baseline(setup, "broken.toml", lambda t: t.replace("format = 1", "format = = 1"))
    lineno = path.read_text().splitlines().index("format = = 1") + 1
    res = _invoke("--baseline", str(path), str(setup["qrels"]), str(setup["good"]))
    assert res.exit_code == 2
    out = " ".join(res.output.split())  # type: ignore[attr-defined]
    assert f"broken.toml:{lineno}: malformed baseline file" in out


def test_structurally_bad_baselines_exit_2(setup: dict[str, Path]) -> None:
    cases = {
        "noqueries.toml": (lambda t: re.sub(r"\nqueries = \[[^\]]*\]", "", t), "query set"),
        "short.toml": (
            lambda t: re.sub(r"per_query = \[[^,]*, ", "per_query = [", t, count=1),
            "one number per query (43 numbers)",
        ),
        "novalue.toml": (lambda t: re.sub(r"\nvalue = [^\n]*", "", t, count=1), "numeric value"),
        "textvalue.toml": (
            lambda t: re.sub(r"per_query = \[[^,]*,", 'per_query = ["x",', t, count=1),
            "one number per query",
        ),
        "notirbench.toml": (lambda t: t.replace("format = 1", "format = 7"), "format = 1"),
        "policy.toml": (
            lambda t: t.replace("tolerance = 0.0", "tolerance = -1"),
            "tolerance must be a number >= 0",
        ),
    }
    for name, (edit, needle) in cases.items():
        path = _copy_baseline(setup, name, edit)
        res = _invoke("--baseline", str(path), str(setup["qrels"]), str(setup["good"]))
        out = " ".join(res.output.split())  # type: ignore[attr-defined]
        assert res.exit_code == 2, (name, out)
        assert needle in out and name in out, (name, out)
    res = _invoke("--baseline", str(setup["root"] / "nope.toml"), str(setup["qrels"]), "x.run")
    assert res.exit_code == 2 and "does not exist" in res.output  # type: ignore[attr-defined]


def test_ci_formats(setup: dict[str, Path]) -> None:
    args = ["--baseline", str(setup["baseline"]), str(setup["qrels"]), str(setup["bad"])]
    res = _invoke(*args, "--format", "github")
    assert res.exit_code == 1
    errors = [ln for ln in res.output.splitlines() if ln.startswith("::error ")]  # type: ignore[attr-defined]
    assert errors and all(f"file={setup['baseline']}" in e for e in errors)
    assert any("REGRESSED%3A bm25 nDCG@10" in e for e in errors)
    res = _invoke(*args, "--format", "markdown")
    assert res.exit_code == 1 and "❌ REGRESSED" in res.output  # type: ignore[attr-defined]
    out = setup["root"] / "junit.xml"
    res = _invoke(*args, "--format", "junit", "-o", str(out))
    assert res.exit_code == 1
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert "nDCG@10" in failed and int(suite.get("failures", "0")) == len(failed)


def test_update_rewrites_and_shows_diff(setup: dict[str, Path]) -> None:
    path = _copy_baseline(setup, "upd.toml")
    before = path.read_text()
    args = ["--baseline", str(path), str(setup["qrels"]), str(setup["bad"]), "--update"]
    res = CliRunner().invoke(app, ["check", *args], catch_exceptions=False)
    assert res.exit_code == 0
    assert re.search(r"~ dl19/bm25 nDCG@10: 0\.\d+ -> 0\.\d+", res.output)
    after = path.read_text()
    assert after != before and "[policy.default]\ntolerance = 0.0" in after
    assert not list(path.parent.glob(".upd.toml.*"))  # no temporary file left
    res = _invoke("--baseline", str(path), str(setup["qrels"]), str(setup["bad"]))
    assert res.exit_code == 0
    np.testing.assert_equal(res.output.count(" OK "), 3)  # type: ignore[attr-defined]


def test_command_reads_the_baseline_once(
    setup: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`irbench check` and `irbench check --update` read the baseline file once: the command
    hands the loaded document on instead of check/update_baseline reading it again."""
    from irbench.report import _toml

    reads: list[str] = []
    load = _toml.load

    def counting_load(path: object, what: str) -> object:
        reads.append(what)
        return load(path, what)  # type: ignore[arg-type]

    monkeypatch.setattr(_toml, "load", counting_load)
    baseline = _copy_baseline(setup, "read-once.toml")
    args = ("--baseline", str(baseline), str(setup["qrels"]), str(setup["good"]))
    res = _invoke(*args)
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert reads == ["baseline file"]
    reads.clear()
    res = _invoke(*args, "--update")
    assert res.exit_code == 0, res.output  # type: ignore[attr-defined]
    assert reads == ["baseline file"]

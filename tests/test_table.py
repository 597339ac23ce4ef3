"""`irbench table` on the real DL19/DL20 runs: the published nDCG@10 of BM25, SPLADE++, TAS-B and
RepLLaMA; markers equal to `irbench compare --baseline`'s decisions (computed here by the
command); a golden LaTeX file; the LaTeX compiles with pdflatex (CI installs TeX Live) and has
a sound structure; Markdown, CSV (long, wide) and HTML; groups, the average and plug-ins."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import irbench
from irbench.cli.app import app
from irbench.report.table import ColumnSpec, PaperTable

GOLDEN = Path(__file__).parent / "golden" / "table_dl19_dl20.tex"
SYSTEMS = {  # row name -> folder in runs-rank_llm
    "BM25": "BM25",
    "SPLADE++": "SPLADE_P_P_ENSEMBLE_DISTIL",
    "TAS-B": "D_BERT_KD_TASB",
    "RepLLaMA": "REP_LLAMA",
}
PUBLISHED = {  # nDCG@10 on DL19 / DL20 (rank_llm's runs; the numbers)
    "BM25": (0.5058, 0.4796),
    "SPLADE++": (0.7308, 0.7197),
    "TAS-B": (0.7210, 0.6854),
    "RepLLaMA": (0.7384, 0.7195),
}
MEASURES = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10"]


def _run(shared: Path, folder: str, year: str) -> Path:
    (path,) = (shared / "runs-rank_llm" / folder).glob(f"trec_results_{year}.txt*")
    return path


@pytest.fixture(scope="module")
def spec(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("table")
    lines = [f"measures = {MEASURES!r}\n".replace("'", '"'), 'baselines = ["BM25", "TAS-B"]\n']
    for year in ("dl19", "dl20"):
        runs = ", ".join(
            f'"{name}" = "{_run(shared_data, folder, year).as_posix()}"'
            for name, folder in SYSTEMS.items()
        )
        lines.append(
            f'[datasets.{year}]\nqrels = "{(shared_data / "trec-dl" / f"qrels.{year}-passage.txt").as_posix()}"\n'
            f"runs = {{ {runs} }}\n"
        )
    path = root / "dl.toml"
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def paper(spec: Path) -> PaperTable:
    return irbench.table(spec=spec)


def test_reproduces_the_published_ndcg(paper: PaperTable) -> None:
    f = paper.frame
    for system, (dl19, dl20) in PUBLISHED.items():
        for year, want in (("dl19", dl19), ("dl20", dl20)):
            row = f[(f["dataset"] == year) & (f["run"] == system) & (f["measure"] == "nDCG@10")]
            assert round(row["value"].item(), 4) == want, (system, year)
            assert paper.number(row["value"].item(), "nDCG@10") == f"{want:.4f}"
    avg = f[(f["dataset"] == "average") & (f["measure"] == "nDCG@10")].set_index("run")["value"]
    for system, (dl19, dl20) in PUBLISHED.items():
        assert avg[system] == pytest.approx((dl19 + dl20) / 2, abs=1e-4)
    assert paper.systems == list(SYSTEMS) and paper.datasets == ["dl19", "dl20", "average"]


def _compare_cli(shared: Path, year: str, baseline: str, test: str = "t") -> pd.DataFrame:
    """`irbench compare QRELS <the four runs> -m ... --baseline B -f csv`, rows renamed to the
    table's system names (compare names runs by file; rows follow the run order)."""
    paths = [str(_run(shared, folder, year)) for folder in SYSTEMS.values()]
    base_path = paths[list(SYSTEMS).index(baseline)]
    args = ["compare", str(shared / "trec-dl" / f"qrels.{year}-passage.txt"), *paths]
    for m in MEASURES:
        args += ["-m", m]
    args += ["--baseline", base_path, "-f", "csv", "--test", test]
    if test == "randomization":
        args += ["--permutations", "2000", "--seed", "7"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.output))
    others = [s for s in SYSTEMS if s != baseline]
    order = list(dict.fromkeys(df["run"]))
    assert len(order) == len(others)
    df["run"] = df["run"].map(dict(zip(order, others, strict=True)))
    return df


@pytest.mark.parametrize("baseline", ["BM25", "TAS-B"])
@pytest.mark.parametrize("year", ["dl19", "dl20"])
def test_markers_equal_compare_decisions(
    paper: PaperTable, shared_data: Path, year: str, baseline: str
) -> None:
    cmp = _compare_cli(shared_data, year, baseline).set_index(["run", "measure"])
    f = paper.frame[paper.frame["dataset"] == year]
    letter = "a" if baseline == "BM25" else "b"
    n_sig = 0
    for r in f[f["run"] != baseline].itertuples():
        c = cmp.loc[(r.run, r.measure)]
        row = f.loc[r.Index]
        assert row[f"significant_vs_{baseline}"] == bool(c["significant"]), (r.run, r.measure)
        assert row[f"p_adjusted_vs_{baseline}"] == pytest.approx(c["p_adjusted"], rel=1e-12)
        better = bool(c["significant"]) and c["delta"] > 0
        assert (letter in row["marker"]) == better, (r.run, r.measure)
        n_sig += bool(c["significant"])
    assert n_sig > 0  # the check has decisions of both kinds to agree with
    if baseline == "BM25":  # every neural system beats BM25 on DL19/DL20 nDCG@10
        nd = f[(f["measure"] == "nDCG@10") & (f["run"] != "BM25")]
        assert nd["marker"].str.contains("a").all()


def test_randomization_markers_equal_compare(spec: Path, shared_data: Path) -> None:
    t = irbench.table(
        spec=spec, baselines=["BM25"], test="randomization", permutations=2000, seed=7
    )
    cmp = _compare_cli(shared_data, "dl20", "BM25", "randomization").set_index(["run", "measure"])
    f = t.frame[(t.frame["dataset"] == "dl20") & (t.frame["run"] != "BM25")]
    for _, row in f.iterrows():
        c = cmp.loc[(row["run"], row["measure"])]
        assert row["p_adjusted_vs_BM25"] == c["p_adjusted"]
        assert row["significant_vs_BM25"] == bool(c["significant"])


def test_golden_latex(paper: PaperTable) -> None:
    text = paper.to_latex()
    if os.environ.get("IRBENCH_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def _latex_structure(text: str, n_value_columns: int) -> None:
    """Balanced braces and environments, booktabs rules in order, every row with its cells."""
    depth = 0
    for ch in re.sub(r"\\[{}]", "", text):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{(\w+)\}", text):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack.pop() == env
    assert not stack
    rules = re.findall(r"\\(toprule|midrule|bottomrule)", text)
    assert rules == ["toprule", "midrule", "bottomrule"]
    spec = re.search(r"\\begin\{tabular\}\{(\w+)\}", text)
    assert spec is not None and len(spec.group(1)) == n_value_columns + 1
    body = text[text.index(r"\toprule") : text.index(r"\bottomrule")]
    for line in body.splitlines():
        if not line.endswith(r"\\"):
            assert line.startswith((r"\toprule", r"\midrule", r"\cmidrule"))
            continue
        cells = re.sub(r"\\&", "", line).split("&")
        spans = [int(x) for x in re.findall(r"\\multicolumn\{(\d+)\}", line)]
        width = len(cells) - len(spans) + sum(spans)
        assert width == n_value_columns + 1, line


def test_latex_structure(paper: PaperTable) -> None:
    text = paper.to_latex()
    n = 3 * len(MEASURES)  # DL19, DL20, Avg.
    _latex_structure(text, n)
    assert r"\multicolumn{3}{c}{DL19}" in text and r"\cmidrule(lr){2-4}" in text
    assert r"\textbf{0.7384}$^{a}$" in text  # RepLLaMA, DL19 nDCG@10: best, beats BM25
    assert r"\underline{0.7308}$^{a}$" in text  # SPLADE++: second
    assert "(a) BM25 &" in text and "(b) TAS-B &" in text
    assert (
        r"\caption{Superscript letters mark a significant improvement over (a) BM25, (b) TAS-B"
        in text
    )


def test_latex_compiles_with_pdflatex(paper: PaperTable, tmp_path: Path) -> None:
    exe = shutil.which("pdflatex")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: .ci/run installs texlive-latex-recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-recommended)")
    paper.annotate(irbench.report.table.STD)  # type: ignore[attr-defined]
    try:
        doc = paper.to_latex(standalone=True)
    finally:
        paper.annotations.clear()
    (tmp_path / "t.tex").write_text(doc)
    res = subprocess.run(
        [exe, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stdout[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000


def test_markdown_csv_html(paper: PaperTable) -> None:
    md = paper.to_markdown()
    assert md.splitlines()[0].startswith("| System | DL19 nDCG@10 | DL19 AP(rel=2) |")
    assert "**0.7384**<sup>a</sup>" in md and "Superscript letters" in md
    long = pd.read_csv(io.StringIO(paper.to_csv()))
    assert len(long) == len(SYSTEMS) * 3 * len(MEASURES)
    for col in ("significant_vs_BM25", "p_adjusted_vs_TAS-B", "better_vs_BM25", "marker"):
        assert col in long.columns
    wide = pd.read_csv(io.StringIO(paper.to_csv(wide=True)), keep_default_na=False)
    assert list(wide["system"]) == list(SYSTEMS)
    assert wide.loc[wide["system"] == "RepLLaMA", "DL19 nDCG@10 marker"].item() == "a"
    page = paper.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert not re.search(r"(src|href)=", page)  # self-contained
    assert '<th colspan="3" class="group">DL19</th>' in page and "<b>0.7384</b><sup>a</sup>" in page


def test_cli_formats_and_options(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.tex"
    res = CliRunner().invoke(app, ["table", "--spec", str(spec), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text() == GOLDEN.read_text()  # the spec's baselines, defaults = the golden
    res = CliRunner().invoke(
        app,
        [
            *("table", "--spec", str(spec), "-b", "BM25", "--markers", "dagger", "-m", "nDCG@10"),
            *("--percent", "--datasets", "dl20,dl19", "--systems", "RepLLaMA,BM25"),
            "--no-underline",
        ],
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "| System | DL20 nDCG@10 | DL19 nDCG@10 | Avg. nDCG@10 |"
    assert lines[2] == "| RepLLaMA | **71.9**<sup>†</sup> | **73.8**<sup>†</sup> | **72.9** |"
    assert lines[3] == "| BM25 | 48.0 | 50.6 | 49.3 |"
    assert "<u>" not in res.stdout and "BM25 (†)" in res.stdout
    res = CliRunner().invoke(
        app, ["table", "--spec", str(spec), "--layout", "measure", "-f", "latex"]
    )
    assert res.exit_code == 0 and r"\multicolumn{3}{c}{nDCG@10}" in res.stdout
    res = CliRunner().invoke(app, ["table", "--spec", str(spec), "--datasets", "dl21"])
    assert res.exit_code == 2 and "dl21" in res.output
    bad = ["table", "--spec", str(spec), "--markers", "dagger"]
    res = CliRunner().invoke(app, [*bad, *[x for s in SYSTEMS for x in ("-b", s)], "-b", "BM25"])
    assert res.exit_code == 2 and "dagger" in res.output


def test_flags_for_one_dataset(shared_data: Path) -> None:
    paths = [str(_run(shared_data, f, "dl19")) for f in SYSTEMS.values()]
    args = ["table", str(shared_data / "trec-dl" / "qrels.dl19-passage.txt"), *paths]
    args += ["-m", "nDCG@10", "-b", "BM25", "-f", "csv"]
    for name in SYSTEMS:
        args += ["-n", name]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(io.StringIO(res.stdout))
    assert set(df["dataset"]) == {"dl19-passage"}  # one dataset: no average column
    got = df.set_index("run")["value"].round(4).to_dict()
    assert got == {s: v[0] for s, v in PUBLISHED.items()}


def test_plugged_column_and_annotation(paper: PaperTable) -> None:
    t = PaperTable(
        **{**paper.__dict__, "frame": paper.frame.copy(), "columns": list(paper.columns)}
    )
    t.annotations = []
    latency = pd.DataFrame(
        [
            (d, s, ms)
            for d in t.datasets
            for s, ms in zip(SYSTEMS, (2.0, 40.0, 9.0, 900.0), strict=True)
        ],
        columns=["dataset", "run", "value"],
    )
    t.add_column(
        ColumnSpec("ms/q", higher_is_better=False, significance=False, decimals=0), latency
    )
    text = t.to_latex()
    _latex_structure(text, 3 * (len(MEASURES) + 1))
    assert r"\textbf{2} \\" in text  # BM25 is fastest: bold, no marker
    assert r"\underline{9} \\" in text
    t.annotate(irbench.report.table.CI)  # type: ignore[attr-defined]
    assert "0.7384</b><sup>a</sup> [" in t.to_html()


# ------------------------------------------------------------------ groups, average, errors


def _beir_spec(tmp_path: Path, *, missing: bool = False) -> Path:
    lines = ['measures = ["P@1"]\nbaselines = ["A"]\n']
    for k, name in enumerate(["cqadupstack-gis", "cqadupstack-tex", "cqadupstack-unix", "scifact"]):
        qrels = {f"q{i}": {f"d{i}": 1} for i in range(6 + k)}
        qp = tmp_path / f"qrels.{name}.txt"
        qp.write_text("".join(f"{q} 0 {d} 1\n" for q, ds in qrels.items() for d in ds))
        runs = {}
        for s, step in (("A", 2 + k % 2), ("B", 1 + k % 3)):
            if missing and s == "B" and name == "scifact":
                continue
            rp = tmp_path / f"{name}-{s}.run"
            rp.write_text(
                "".join(
                    f"{q} Q0 d{i} 0 {1.0 if i % step == 0 else 0.1} t\n{q} Q0 x 0 0.5 t\n"
                    for i, q in enumerate(qrels)
                )
            )
            runs[s] = rp.name
        lines.append(f'[datasets."{name}"]\nqrels = "{qp.name}"\n')
        lines.append("runs = { " + ", ".join(f'{s} = "{p}"' for s, p in runs.items()) + " }\n")
    path = tmp_path / "beir.toml"
    path.write_text("".join(lines))
    return path


def test_cqadupstack_column_and_beir_average(tmp_path: Path) -> None:
    t = irbench.table(spec=_beir_spec(tmp_path))
    assert t.datasets == ["cqadupstack", "scifact", "average"]
    assert [t.labels[d] for d in t.datasets] == ["CQADupStack", "scifact", "Avg."]
    full = irbench.table(spec=_beir_spec(tmp_path), expand_groups=True)
    assert full.datasets[3:] == ["cqadupstack", "scifact", "average"]  # after its forums
    f = full.frame.set_index(["dataset", "run"])["value"]
    for s in ("A", "B"):
        forums = [f[(n, s)] for n in ("cqadupstack-gis", "cqadupstack-tex", "cqadupstack-unix")]
        cqa = sum(forums) / 3
        assert f[("cqadupstack", s)] == pytest.approx(cqa, abs=1e-15)
        assert f[("average", s)] == pytest.approx((cqa + f[("scifact", s)]) / 2, abs=1e-15)
    g = t.frame[t.frame["kind"] != "dataset"]
    assert (g["marker"] == "").all() and g["p_adjusted_vs_A"].isna().all()


def test_missing_dataset_is_an_error_naming_system_and_dataset(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["table", "--spec", str(_beir_spec(tmp_path, missing=True))])
    assert res.exit_code == 2
    assert "system 'B' has no run for dataset 'scifact'" in res.output


def test_readme_example_on_the_shipped_runs() -> None:
    """The README's worked example prints the table the README shows."""
    repo = Path(__file__).resolve().parents[1]
    demo = repo / "irbench" / "data" / "demo" / "dl19-passage"
    runs = [
        str(demo / "runs" / f"{n}.run.gz") for n in ("bm25", "splade-pp-ed", "tas-b", "repllama")
    ]
    args = ["table", str(demo / "qrels.txt.gz"), *runs, "-d", "dl19"]
    args += ["-m", "nDCG@10", "-m", "AP(rel=2)", "-m", "R@1000", "-b", "bm25", "-b", "tas-b"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    shown = res.stdout.split("\n\n")[0]
    assert shown.count("\n") == 5 and shown in (repo / "README.md").read_text()

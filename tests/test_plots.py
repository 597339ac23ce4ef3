"""Figures: files written, valid SVG / PDF, one bar per query, PR points equal to the
engine's IPrec values, deterministic bytes, the HTML report's inline figures, and the message
when matplotlib is missing."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.engine import Evaluator
from irbench.io import read_run
from irbench.report.plots import (
    RECALL_LEVELS,
    PlotsUnavailableError,
    diff_data,
    diff_figure,
    pr_curves,
    pr_figure,
    require_matplotlib,
)

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"
QRELS = str(DEMO / "qrels.txt.gz")
RUNS = DEMO / "runs"
SVG = "{http://www.w3.org/2000/svg}"


def _ids(svg: Path, prefix: str) -> list[str]:
    root = ET.parse(svg).getroot()
    assert root.tag == f"{SVG}svg"
    return [e.get("id", "") for e in root.iter() if e.get("id", "").startswith(prefix)]


def test_cli_diff_svg_has_one_bar_per_query(tmp_path: Path) -> None:
    out = tmp_path / "diff.svg"
    result = CliRunner().invoke(app, ["plot", "diff", QRELS, str(RUNS / "tas-b.run.gz"),
                                      "--baseline", str(RUNS / "bm25.run.gz"), "-m", "nDCG@10",
                                      "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    n_queries = len(set(read_run(RUNS / "tas-b.run.gz").column("query_id").to_pylist()))
    assert n_queries == 43
    assert len(_ids(out, "bar-")) == n_queries
    first = out.read_bytes()
    assert b"<dc:date>" not in first  # no date: the same data give the same bytes
    CliRunner().invoke(app, ["plot", "diff", QRELS, str(RUNS / "tas-b.run.gz"),
                             "--baseline", str(RUNS / "bm25.run.gz"), "-o", str(out)])  # fmt: skip
    assert out.read_bytes() == first


def test_diff_data_by_hand(tmp_path: Path) -> None:
    (tmp_path / "qrels").write_text("q1 0 a 1\nq2 0 a 1\nq3 0 a 1\n")
    (tmp_path / "run").write_text("q1 Q0 a 1 2 r\nq1 Q0 b 2 1 r\nq2 Q0 b 1 2 r\nq2 Q0 a 2 1 r\n"
                                  "q3 Q0 a 1 1 r\n")  # fmt: skip
    (tmp_path / "base").write_text("q1 Q0 b 1 2 b\nq1 Q0 a 2 1 b\nq2 Q0 a 1 2 b\nq2 Q0 b 2 1 b\n"
                                   "q3 Q0 a 1 1 b\n")  # fmt: skip
    data = diff_data(tmp_path / "qrels", tmp_path / "run", tmp_path / "base", "RR")
    # RR run: 1, 1/2, 1; baseline: 1/2, 1, 1 -> deltas +1/2 (q1), 0 (q3), -1/2 (q2)
    assert data.query_ids == ["q1", "q3", "q2"]
    assert data.deltas.tolist() == [0.5, 0.0, -0.5]
    fig = diff_figure(data)
    assert len(fig.axes[0].patches) == 3


def test_pr_points_are_the_engine_iprec_values(tmp_path: Path) -> None:
    runs = [str(RUNS / "bm25.run.gz"), str(RUNS / "tas-b.run.gz")]
    curves = pr_curves(QRELS, runs, rel_level=2)
    ev = Evaluator(QRELS, [f"IPrec(rel=2)@{x:g}" for x in RECALL_LEVELS])
    for name, path in zip(curves, runs, strict=True):
        scores = ev.score(path)
        assert curves[name].tolist() == [scores.aggregates[m] for m in ev.measures]
    fig = pr_figure(curves)
    lines = fig.axes[0].lines
    assert len(lines) == 2
    for line, values in zip(lines, curves.values(), strict=True):
        assert np.asarray(line.get_xdata()).tolist() == list(RECALL_LEVELS)
        assert np.asarray(line.get_ydata()).tolist() == values.tolist()

    pdf = tmp_path / "pr.pdf"
    svg = tmp_path / "pr.svg"
    for out in (pdf, svg):
        result = CliRunner().invoke(app, ["plot", "pr", QRELS, *runs, "-l", "2", "-o", str(out)])
        assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert _ids(svg, "pr-") == ["pr-0", "pr-1"]


def test_bad_figure_suffix(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plot", "pr", QRELS, str(RUNS / "bm25.run.gz"),
                                      "-o", str(tmp_path / "pr.png")])  # fmt: skip
    assert result.exit_code == 2 and ".svg or .pdf" in result.output


def test_html_report_inlines_figures(tmp_path: Path) -> None:
    out = tmp_path / "board.html"
    result = CliRunner().invoke(app, ["leaderboard", QRELS, str(RUNS / "bm25.run.gz"),
                                      str(RUNS / "tas-b.run.gz"), "-m", "nDCG@10", "-b", "bm25",
                                      "--no-ties", "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out.read_text()
    figures = page[page.index("<h2>Figures</h2>") :]
    assert not re.search(r"(href|src)=[\"']https?:", figures)  # nothing fetched
    assert figures.count('id="pr-') == 2
    assert figures.count('id="bar-') == 43


def test_missing_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(PlotsUnavailableError, match=r"pip install 'irbench-eval\[plots\]'"):
        require_matplotlib()
    result = CliRunner().invoke(app, ["plot", "pr", QRELS, str(RUNS / "bm25.run.gz"),
                                      "-o", str(tmp_path / "pr.svg")])  # fmt: skip
    assert result.exit_code == 2
    assert "irbench-eval[plots]" in result.output
    assert not (tmp_path / "pr.svg").exists()

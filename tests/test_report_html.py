"""The HTML leaderboard a person opens: rows best first, delta charts shown, labels clear of
bars. On the TREC DL 2019 runs shipped with irbench."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.report.render import _FONT_PX, _svg_deltas

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("html") / "board.html"
    runs = [str(p) for p in sorted((DEMO / "runs").glob("*.run.gz"))]
    args = ["leaderboard", str(DEMO / "qrels.txt.gz"), *runs, "-m", "nDCG@10", "-m", "AP(rel=2)"]
    result = CliRunner().invoke(app, [*args, "--baseline", "bm25", "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text()


def _rows(page: str) -> list[list[str]]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>(.*?)</td>", row) for row in body.split("</tr>") if "<td>" in row]


def test_rows_are_sorted_by_value_best_first_per_measure(page: str) -> None:
    rows = _rows(page)
    assert len(rows) == 6 * 2
    measures = [r[2] for r in rows]
    assert measures == ["nDCG@10"] * 6 + ["AP(rel=2)"] * 6  # grouped, in the order given
    for m in ("nDCG@10", "AP(rel=2)"):
        values = [float(r[3]) for r in rows if r[2] == m]
        assert values == sorted(values, reverse=True)
    assert [r[1] for r in rows][:6] != sorted(r[1] for r in rows[:6])  # not alphabetical


def test_delta_charts_are_shown_without_clicking(page: str) -> None:
    charts = [  # the delta charts; the matplotlib figures have <details open> of their own
        c for c in re.findall(r"<details open>(.*?)</details>", page, re.S) if "most improved" in c
    ]
    assert len(charts) == 5 * 2  # five runs against bm25, two measures
    assert all(chart.count("<svg") == 1 for chart in charts)
    folded = re.findall(r"<details>(.*?)</details>", page, re.S)
    assert not [c for c in folded if "most improved" in c]  # (the matplotlib diffs may fold)


def _label_and_bar_extents(svg: str) -> tuple[float, float]:
    labels = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="end">([^<]+)</text>', svg)
    assert len(labels) == 2
    rightmost = max(float(x) for x, _ in labels)
    leftmost = min(float(x) - _FONT_PX * len(text) for x, text in labels)
    assert leftmost >= 0  # the label fits inside the picture
    first_bar = min(float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg))
    return rightmost, first_bar


@pytest.mark.parametrize(
    "deltas",
    [
        [("q1", 0.302), ("q2", -0.1), ("q3", 0.05)],
        [("q1", -0.5)] * 3,
        [(f"q{i}", 1234.5 * (-1) ** i) for i in range(300)],  # wide labels, thin bars
    ],
)
def test_scale_labels_never_overlap_bars(deltas: list[tuple[str, float]]) -> None:
    label_right, first_bar = _label_and_bar_extents(_svg_deltas(deltas))
    assert label_right < first_bar


def test_page_labels_never_overlap_bars(page: str) -> None:
    for svg in re.findall(r"<svg.*?</svg>", page):
        label_right, first_bar = _label_and_bar_extents(svg)
        assert label_right < first_bar

"""Renderers of a :class:`~irbench.report.paper_table.PaperTable`: LaTeX (booktabs), Markdown, CSV
(long or wide) and a self-contained HTML page. All share one cell model (:func:`cells`)."""

from __future__ import annotations

import csv
import html
import io
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Cell",
    "TableView",
    "cells",
    "render_csv",
    "render_html",
    "render_latex",
    "render_markdown",
]


class TableView(Protocol):
    """What the renderers read of a table (:class:`irbench.report.paper_table.PaperTable`
    provides it); named here so that the renderers do not import the table they render."""

    frame: Any  # pandas DataFrame: dataset, run, measure, value, best, second, markers
    systems: list[str]
    labels: dict[str, str]
    baselines: list[str]
    markers: str
    underline: bool
    layout: str
    annotations: list[Any]  # each has .text(table, row) -> str
    caption: str | None
    label: str | None

    def spec(self, key: str) -> Any: ...  # the ColumnSpec of column kind *key*
    def number(self, value: float, key: str) -> str: ...
    def letter(self, baseline: str) -> str: ...
    def grid(self) -> list[tuple[str, str]]: ...
    def legend(self) -> str: ...


@dataclass(frozen=True)
class Cell:
    """What one value cell shows: the number, its emphasis, marker and annotations."""

    number: str
    bold: bool = False
    underline: bool = False
    marker: str = ""
    note: str = ""


def cells(t: TableView) -> list[tuple[str, list[Cell]]]:
    """``(row label, cells)`` per system, cells in :meth:`TableView.grid` order."""
    grid = t.grid()
    f = t.frame
    index = {(r["dataset"], r["run"], r["measure"]): r for _, r in f.iterrows()}
    out = []
    for s in t.systems:
        row = []
        for d, key in grid:
            r = index.get((d, s, key))
            if r is None:
                row.append(Cell("–"))
                continue
            spec = t.spec(key)
            row.append(
                Cell(
                    number=t.number(r["value"], key),
                    bold=bool(r["best"]),
                    underline=bool(r["second"]) and t.underline,
                    marker=str(r.get("marker") or "") if spec.significance else "",
                    note="".join(a.text(t, r) for a in t.annotations),
                )
            )
        label = s
        if t.markers == "letters" and s in t.baselines:
            label = f"({t.letter(s)}) {s}"
        out.append((label, row))
    return out


def _headers(t: TableView) -> tuple[list[tuple[str, int]], list[str]]:
    """Top header (text, span) and bottom header, per :attr:`TableView.layout`."""
    grid = t.grid()
    if t.layout == "measure":
        top_keys = [t.spec(k).header for _, k in grid]
        bottom = [t.labels[d] for d, _ in grid]
    else:
        top_keys = [t.labels[d] for d, _ in grid]
        bottom = [t.spec(k).header for _, k in grid]
    top: list[tuple[str, int]] = []
    for k in top_keys:
        if top and top[-1][0] == k:
            top[-1] = (k, top[-1][1] + 1)
        else:
            top.append((k, 1))
    return top, bottom


# ------------------------------------------------------------------------------------ LaTeX

_TEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "±": r"$\pm$",
    "≤": r"$\le$",
    "†": r"$\dagger$",
    "‡": r"$\ddagger$",
    "§": r"\S{}",
    "¶": r"\P{}",
    "–": "--",
}
_SUP = {"†": r"\dagger", "‡": r"\ddagger", "§": r"\S", "¶": r"\P"}


def tex(text: str) -> str:
    """``text`` escaped for LaTeX (symbols the table uses become their LaTeX commands)."""
    return "".join(_TEX.get(ch, ch) for ch in text.replace("--", "-\x00-")).replace("\x00", "{}")


def _tex_cell(c: Cell) -> str:
    s = tex(c.number)
    if c.underline:
        s = r"\underline{" + s + "}"
    if c.bold:
        s = r"\textbf{" + s + "}"
    if c.marker:
        s += "$^{" + "".join(_SUP.get(ch, ch) for ch in c.marker) + "}$"
    return s + tex(c.note)


def render_latex(t: TableView, *, standalone: bool = False) -> str:
    """A ``table`` float with a booktabs ``tabular``: dataset headers over ``\\cmidrule``s,
    ``\\textbf`` best, ``\\underline`` second, ``$^{a}$`` markers, the legend as caption.
    ``standalone``: a whole document (``article`` + ``booktabs``) that pdflatex compiles."""
    top, bottom = _headers(t)
    n = len(bottom)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\caption{" + tex(((t.caption + " ") if t.caption else "") + t.legend()) + "}",
    ]
    if t.label:
        lines.append(r"\label{" + t.label + "}")
    lines += [r"\begin{tabular}{l" + "r" * n + "}", r"\toprule"]
    lines.append(
        " & " + " & ".join(f"\\multicolumn{{{span}}}{{c}}{{{tex(k)}}}" for k, span in top) + r" \\"
    )
    rules, col = [], 2
    for _, span in top:
        rules.append(f"\\cmidrule(lr){{{col}-{col + span - 1}}}")
        col += span
    lines.append(" ".join(rules))
    lines.append("System & " + " & ".join(tex(b) for b in bottom) + r" \\")
    lines.append(r"\midrule")
    for label, row in cells(t):
        lines.append(tex(label) + " & " + " & ".join(_tex_cell(c) for c in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    body = "\n".join(lines) + "\n"
    if standalone:
        return (
            "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
            + body
            + "\\end{document}\n"
        )
    return body


# --------------------------------------------------------------------------------- Markdown


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(c: Cell) -> str:
    s = _md(c.number)
    if c.underline:
        s = f"<u>{s}</u>"
    if c.bold:
        s = f"**{s}**"
    if c.marker:
        s += f"<sup>{_md(c.marker)}</sup>"
    return s + _md(c.note)


def render_markdown(t: TableView) -> str:
    """A GitHub Markdown table (one header row, ``DL19 nDCG@10``) and the legend below."""
    grid = t.grid()
    if t.layout == "measure":
        heads = [f"{t.spec(k).header} {t.labels[d]}" for d, k in grid]
    else:
        heads = [f"{t.labels[d]} {t.spec(k).header}" for d, k in grid]
    out = [
        "| System | " + " | ".join(_md(h) for h in heads) + " |",
        "|---|" + "---:|" * len(heads),
    ]
    for label, row in cells(t):
        out.append(f"| {_md(label)} | " + " | ".join(_md_cell(c) for c in row) + " |")
    legend = ((t.caption + " ") if t.caption else "") + t.legend()
    return "\n".join(out) + "\n\n" + legend + "\n"


# -------------------------------------------------------------------------------------- CSV


def render_csv(t: TableView, *, wide: bool = False) -> str:
    """Long: the table's frame (one row per dataset, system and measure, with the marker
    decisions per baseline). Wide: one row per system, a value and a marker column per
    (dataset, measure)."""
    import pandas as pd

    buf = io.StringIO()
    if not wide:
        df = t.frame.copy()
        df.insert(1, "dataset_label", df["dataset"].map(t.labels))
        df.to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    index = {(r["dataset"], r["run"], r["measure"]): r for _, r in t.frame.iterrows()}
    rows = []
    for s in t.systems:
        rec: dict[str, object] = {"system": s}
        for d, key in t.grid():
            r = index.get((d, s, key))
            head = f"{t.labels[d]} {t.spec(key).header}"
            rec[head] = r["value"] if r is not None else None
            rec[f"{head} marker"] = (r.get("marker") or "") if r is not None else ""
        rows.append(rec)
    pd.DataFrame(rows).to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


# ------------------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
caption { caption-side: bottom; text-align: left; padding-top: .6em; max-width: 60em;
          font-size: .9em; color: #444; }
th, td { padding: .25em .7em; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child, th:first-child { text-align: left; }
thead tr:first-child th { border-top: 2px solid #000; }
thead tr:last-child th { border-bottom: 1px solid #000; }
tbody tr:last-child td { border-bottom: 2px solid #000; }
th.group { border-bottom: 1px solid #888; }
"""


def _html_cell(c: Cell) -> str:
    s = html.escape(c.number)
    if c.underline:
        s = f"<u>{s}</u>"
    if c.bold:
        s = f"<b>{s}</b>"
    if c.marker:
        s += f"<sup>{html.escape(c.marker)}</sup>"
    return s + html.escape(c.note)


def render_html(t: TableView) -> str:
    """A self-contained page (inline CSS, no script, no external resource)."""
    top, bottom = _headers(t)
    head1 = "".join(f'<th colspan="{span}" class="group">{html.escape(k)}</th>' for k, span in top)
    head2 = "".join(f"<th>{html.escape(b)}</th>" for b in bottom)
    body = "".join(
        f"<tr><td>{html.escape(label)}</td>"
        + "".join(f"<td>{_html_cell(c)}</td>" for c in row)
        + "</tr>\n"
        for label, row in cells(t)
    )
    legend = ((t.caption + " ") if t.caption else "") + t.legend()
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>irbench table</title><style>{_CSS}</style></head><body>\n<table>\n"
        f"<caption>{html.escape(legend)}</caption>\n"
        f"<thead><tr><th></th>{head1}</tr>\n<tr><th>System</th>{head2}</tr></thead>\n"
        f"<tbody>\n{body}</tbody>\n</table>\n</body></html>\n"
    )

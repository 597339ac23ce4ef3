"""Reports of leaderboards and checks: CSV, Markdown, self-contained HTML (inline CSS, JS and
SVG, no network), rich tables, GitHub annotations and JUnit XML."""

from __future__ import annotations

import csv
import html
import io
import math
from typing import Any

from irbench.report.check import CheckResult, CheckRow
from irbench.report.diagnostics import top_deltas
from irbench.report.leaderboard import AVERAGE, Leaderboard, win_tie_loss_matrix

__all__ = [
    "check_github",
    "check_junit",
    "check_markdown",
    "leaderboard_csv",
    "leaderboard_html",
    "leaderboard_markdown",
    "print_check",
]


def _f(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return f"{x:.{digits}f}"


def _p(x: float) -> str:
    if math.isnan(x):
        return ""
    return "<0.0001" if x < 1e-4 else f"{x:.4f}"


# ----------------------------------------------------------------------------- leaderboard


def leaderboard_csv(board: Leaderboard) -> str:
    """Every column, full precision (``repr`` floats), empty cells for NaN."""
    buf = io.StringIO()
    board.table.to_csv(buf, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    return buf.getvalue()


def _display(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    headers = ["dataset", "run", "measure", "value", "95% CI", "n"]
    if board.baseline:
        headers += ["delta", "p adj", "sig"]
    headers += ["tie range"]
    extra = [c for c in ("judged", "unjudged_low") if c in board.table.columns]
    headers += [{"judged": "Judged@k", "unjudged_low": "unjudged range"}[c] for c in extra]
    headers[4] = f"{100 * (1 - board.alpha):g}% CI"
    rows = []
    for r in _ranked(board.table).itertuples(index=False):
        row = [
            r.dataset,
            r.run,
            r.measure,
            _f(r.value),
            f"[{_f(r.ci_low)}, {_f(r.ci_high)}]" if not math.isnan(r.ci_low) else "",
            str(r.n_queries),
        ]
        if board.baseline:
            row += [
                "" if math.isnan(r.delta) else f"{r.delta:+.4f}",
                _p(r.p_adjusted),
                "*" if r.significant else "",
            ]
        spread = r.tie_high - r.tie_low
        row += [f"[{_f(r.tie_low)}, {_f(r.tie_high)}]" if spread > 1e-12 else ""]
        if "judged" in extra:
            row += [_f(r.judged)]
        if "unjudged_low" in extra:
            row += [f"[{_f(r.unjudged_low)}, {_f(r.unjudged_high)}]"]
        rows.append(row)
    return _with_latency(board, headers, rows)


def _with_latency(
    board: Leaderboard, headers: list[str], rows: list[list[str]]
) -> tuple[list[str], list[list[str]]]:
    """Latency cells (``--latency``) after the others: ms per query and queries/s."""
    if "latency_mean_s" not in board.table.columns:
        return headers, rows
    ms = [f"{c} ms/q" for c in ("mean", "median", "p95")]
    cols = ("latency_mean_s", "latency_median_s", "latency_p95_s")
    for row, r in zip(rows, board.table.itertuples(index=False), strict=True):
        row += [_f(1000 * getattr(r, c), 2) for c in cols] + [_f(r.throughput_qps, 1)]
    return [*headers, *ms, "q/s"], rows


def _ranked(table: Any) -> Any:
    """Rows by dataset (as given, the average last), then measure (as given), then value, best
    first (every measure irbench computes is better when higher; NaN last), then run name."""
    datasets = [d for d in dict.fromkeys(table["dataset"]) if d != AVERAGE] + [AVERAGE]
    measures = list(dict.fromkeys(table["measure"]))
    keys = table.assign(
        _dataset=table["dataset"].map({d: i for i, d in enumerate(datasets)}),
        _measure=table["measure"].map({m: i for i, m in enumerate(measures)}),
        _value=-table["value"].astype(float).fillna(-math.inf),
    )
    order = keys.sort_values(["_dataset", "_measure", "_value", "run"], kind="stable").index
    return table.loc[order]


def _note(board: Leaderboard) -> str:
    t = board.table.iloc[0]
    text = (
        f"irbench {t['irbench_version']}; query policy {t['query_policy']}; ties "
        f"{t['tie_policy']}; intervals: Student t over queries"
    )
    if (board.table["dataset"] == AVERAGE).any():
        text += "; average rows: mean over datasets, normal interval from per-dataset errors"
    if board.baseline:
        text += (
            f". Against {board.baseline}: {t['test'] or 't'}-test, {t['correction']} correction "
            f"per dataset, * = significant at alpha {board.alpha:g}"
        )
    return text + ". Tie range: the value with ties broken relevant-last / relevant-first."


def _movers(board: Leaderboard) -> list[tuple[str, str, str, list[Any], list[Any]]]:
    out: list[tuple[str, str, str, list[Any], list[Any]]] = []
    if not board.baseline:
        return out
    for ds in board.datasets:
        base = next((r for r in ds.runs if r.name == board.baseline), None)
        if base is None:
            continue
        for run in ds.runs:
            if run is base:
                continue
            for m in ds.measures:
                up, down = top_deltas(run.per_query(m), base.per_query(m), k=3)
                out.append((ds.name, run.name, str(m), up, down))
    return out


def _ties(board: Leaderboard) -> list[tuple[str, str, str, float, float, dict[str, Any]]]:
    return [
        (ds, run, m, tr.low, tr.high, tr.queries)
        for (ds, run, m), tr in board.ties.items()
        if tr.queries
    ]


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        out.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return out


def _qlist(rows: list[Any]) -> str:
    return ", ".join(f"{r.query_id} ({r.delta:+.3f})" for r in rows) or "-"


def leaderboard_markdown(board: Leaderboard) -> str:
    headers, rows = _display(board)
    out = ["# Leaderboard", "", *_md_table(headers, rows), "", _note(board)]
    if len(board.datasets) > 1:
        for m in board.measures:
            mat = win_tie_loss_matrix(board.table, m, exclude=board.group_names)
            out += ["", f"## Wins/ties/losses over datasets: {m} (row run vs column run)", ""]
            out += _md_table(["run", *mat.columns], [[i, *row] for i, row in mat.iterrows()])
    movers = _movers(board)
    if movers:
        out += ["", f"## Per-query changes against {board.baseline}", ""]
        out += _md_table(
            ["dataset", "run", "measure", "most improved", "most regressed"],
            [[d, r, m, _qlist(up), _qlist(down)] for d, r, m, up, down in movers],
        )
    ties = _ties(board)
    out += ["", "## Ties", ""]
    if ties:
        out += ["Queries whose tied scores straddle a cutoff: the value could move within:", ""]
        out += _md_table(
            ["dataset", "run", "measure", "range", "queries"],
            [
                [d, r, m, f"[{lo:.4f}, {hi:.4f}]", f"{len(q)}: {', '.join(list(q)[:8])}"]
                for d, r, m, lo, hi, q in ties
            ],
        )
    else:
        out.append("No tie order changes any value.")
    return "\n".join(out) + "\n"


_CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{padding:3px 8px;border-bottom:1px solid #ddd;
text-align:right}th{cursor:pointer;background:#f4f4f4;position:sticky;top:0}
td:nth-child(-n+3),th:nth-child(-n+3){text-align:left}.sig{font-weight:bold}
.note{color:#555;max-width:60em}svg{display:block;margin:.3em 0 1em}details{margin:.3em 0}"""

_JS = """document.querySelectorAll('table.sortable th').forEach((th,i)=>th.onclick=()=>{
const tb=th.closest('table').tBodies[0],rows=[...tb.rows],asc=th.dataset.asc!=='1';
th.dataset.asc=asc?'1':'0';const k=r=>{const t=r.cells[i].innerText.replace(/[\\[\\]+*<]/g,'');
const n=parseFloat(t);return isNaN(n)?t:n};rows.sort((a,b)=>{const x=k(a),y=k(b);
return (x>y?1:x<y?-1:0)*(asc?1:-1)});rows.forEach(r=>tb.appendChild(r))});"""


def _svg_deltas(deltas: list[tuple[str, float]], width: int = 640, height: int = 120) -> str:
    """Bar chart of per-query deltas, sorted; green up, red down; a title per bar. The scale
    labels sit in a left margin of their own, right-aligned, so they never overlap a bar."""
    if not deltas:
        return ""
    deltas = sorted(deltas, key=lambda t: t[1], reverse=True)
    top = max(1e-12, max(abs(d) for _, d in deltas))
    labels = (f"+{top:.3f}", f"-{top:.3f}")
    margin = 8 + _FONT_PX * max(map(len, labels))  # 11 px digits are at most 7 px wide
    bw = (width - margin) / len(deltas)
    mid = height / 2
    bars = []
    for i, (q, d) in enumerate(deltas):
        h = abs(d) / top * (mid - 2)
        y = mid - h if d > 0 else mid
        color = "#2a9d3c" if d > 0 else "#c0392b"
        bars.append(
            f'<rect x="{margin + i * bw:.2f}" y="{y:.2f}" width="{max(bw - 1, 0.5):.2f}" '
            f'height="{h:.2f}" fill="{color}"><title>{html.escape(q)}: {d:+.4f}</title></rect>'
        )
    x = margin - 4
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img"><line x1="{margin}" y1="{mid}" x2="{width}" y2="{mid}" stroke="#999"/>'
        + "".join(bars)
        + f'<text x="{x}" y="12" font-size="11" text-anchor="end">{labels[0]}</text>'
        f'<text x="{x}" y="{height - 3}" font-size="11" text-anchor="end">{labels[1]}</text></svg>'
    )


_FONT_PX = 7


def _html_table(headers: list[str], rows: list[list[str]], sortable: bool = True) -> str:
    cls = ' class="sortable"' if sortable else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table{cls}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def leaderboard_html(board: Leaderboard) -> str:
    """One self-contained page: sortable table, W/T/L matrices, per-query delta charts, ties."""
    headers, rows = _display(board)
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>irbench leaderboard</title>",
        f"<style>{_CSS}</style></head><body><h1>Leaderboard</h1>",
        _html_table(headers, rows),
        f"<p class='note'>{html.escape(_note(board))} Click a header to sort.</p>",
    ]
    if len(board.datasets) > 1:
        for m in board.measures:
            mat = win_tie_loss_matrix(board.table, m, exclude=board.group_names)
            parts.append(f"<h2>Wins/ties/losses over datasets: {html.escape(m)}</h2>")
            parts.append(
                _html_table(["run", *mat.columns], [[i, *row] for i, row in mat.iterrows()], False)
            )
    if board.baseline:
        parts.append(f"<h2>Per-query differences against {html.escape(board.baseline)}</h2>")
        for ds in board.datasets:
            base = next((r for r in ds.runs if r.name == board.baseline), None)
            if base is None:
                continue
            for run in ds.runs:
                if run is base:
                    continue
                for m in ds.measures:
                    cur, old = run.per_query(m), base.per_query(m)
                    deltas = [(q, cur[q] - old[q]) for q in old if q in cur]
                    up, down = top_deltas(cur, old, k=3)
                    parts.append(
                        f"<details open><summary>{html.escape(ds.name)} / {html.escape(run.name)} / "
                        f"{html.escape(str(m))}: most improved {html.escape(_qlist(up))}; most "
                        f"regressed {html.escape(_qlist(down))}</summary>"
                        f"{_svg_deltas(deltas)}</details>"
                    )
    from irbench.report.plots import leaderboard_figures_html

    parts.append(leaderboard_figures_html(board))  # matplotlib figures (irbench-eval[plots])
    ties = _ties(board)
    parts.append("<h2>Ties</h2>")
    if ties:
        parts.append(
            _html_table(
                ["dataset", "run", "measure", "range", "queries"],
                [
                    [d, r, m, f"[{lo:.4f}, {hi:.4f}]", f"{len(q)}: {', '.join(q)}"]
                    for d, r, m, lo, hi, q in ties
                ],
            )
        )
    else:
        parts.append("<p>No tie order changes any value.</p>")
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------- check

STYLE = {
    "OK": "green",
    "IMPROVED": "cyan",
    "WITHIN TOLERANCE": "yellow",
    "REGRESSED": "bold red",
    "MISSING": "bold red",
    "QUERIES CHANGED": "bold red",
}
CHECK_HEADERS = ["dataset", "run", "measure", "expected", "actual", "delta", "status", "detail"]


def _check_cells(r: CheckRow) -> list[str]:
    delta = "" if math.isnan(r.delta) else f"{r.delta:+.4f}"
    return [r.dataset, r.run, r.measure, _f(r.expected), _f(r.actual), delta, r.status, r.detail]


def check_summary(res: CheckResult) -> str:
    counts: dict[str, int] = {}
    for r in res.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    verdict = "FAILED" if res.failed else "passed"
    return f"irbench check {verdict}: " + ", ".join(f"{n} {s}" for s, n in counts.items())


def print_check(res: CheckResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 200)
    table = Table(show_edge=False, header_style="bold")
    for h in CHECK_HEADERS:
        table.add_column(h, justify="right" if h in ("expected", "actual", "delta") else "left")
    for r in res.rows:
        cells = _check_cells(r)
        cells[6] = f"[{STYLE[r.status]}]{r.status}[/]"
        table.add_row(*cells)
    console.print(table)
    for n in res.notes:
        console.print(n, style="yellow", markup=False, soft_wrap=True)
    console.print(("[bold red]" if res.failed else "[green]") + check_summary(res) + "[/]")


def _gh_escape(s: str, prop: bool = False) -> str:
    s = s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        s = s.replace(":", "%3A").replace(",", "%2C")
    return s


def check_github(res: CheckResult) -> str:
    """GitHub Actions workflow commands: ``::error`` per failure, ``::notice`` for improvements,
    ``::warning`` for drops within tolerance."""
    out = []
    level = {"IMPROVED": "notice", "WITHIN TOLERANCE": "warning"}
    for r in res.rows:
        kind = "error" if r.failed else level.get(r.status)
        if kind is None:
            continue
        title = _gh_escape(f"{r.status}: {r.run} {r.measure} on {r.dataset}", prop=True)
        msg = (
            f"{r.run} {r.measure} on {r.dataset}: expected {_f(r.expected)}, got "
            f"{_f(r.actual)}. {r.detail}"
        )
        out.append(
            f"::{kind} file={_gh_escape(res.baseline, True)},title={title}::{_gh_escape(msg)}"
        )
    for n in res.notes:
        out.append(f"::warning file={_gh_escape(res.baseline, True)}::{_gh_escape(n)}")
    out.append(check_summary(res))
    return "\n".join(out) + "\n"


def check_markdown(res: CheckResult) -> str:
    """A step summary: verdict, table, and the queries behind each change."""
    icon = {"OK": "✅", "IMPROVED": "⬆️", "WITHIN TOLERANCE": "⚠️"}
    out = [f"### {check_summary(res)}", ""]
    rows = []
    for r in res.rows:
        cells = _check_cells(r)
        cells[6] = f"{icon.get(r.status, '❌')} {r.status}"
        rows.append(cells)
    out += _md_table(CHECK_HEADERS, rows)
    moved = [r for r in res.rows if r.improved or r.regressed]
    if moved:
        out += ["", "Per-query changes (most improved / most regressed):", ""]
        for r in moved:
            out.append(
                f"- {r.run} {r.measure}: up {_qlist(r.improved)}; down {_qlist(r.regressed)}"
            )
    for n in res.notes:
        out.append(f"\n> {n}")
    return "\n".join(out) + "\n"


def check_junit(res: CheckResult) -> str:
    """JUnit XML: one test case per dataset, run and measure; failures carry the detail."""
    import xml.etree.ElementTree as ET

    failures = sum(r.failed for r in res.rows)
    suite = ET.Element(
        "testsuite",
        name=f"irbench check {res.baseline}",
        tests=str(len(res.rows)),
        failures=str(failures),
        errors="0",
        skipped="0",
    )
    for r in res.rows:
        case = ET.SubElement(
            suite, "testcase", classname=f"{r.dataset}.{r.run}", name=r.measure, time="0"
        )
        text = f"{r.status}: expected {_f(r.expected)}, got {_f(r.actual)}. {r.detail}".strip()
        if r.failed:
            fail = ET.SubElement(case, "failure", message=text, type=r.status)
            fail.text = text
        else:
            out = ET.SubElement(case, "system-out")
            out.text = text
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

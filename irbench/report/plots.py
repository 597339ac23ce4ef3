"""Figures for papers: per-query differences against a baseline, and interpolated
precision-recall curves; SVG or PDF through matplotlib (the optional extra
``irbench-eval[plots]``), and inline SVG for the HTML leaderboard.

- **Per-query difference plot**: one bar per query, the run's value minus the baseline's for
  one measure, sorted from the largest gain to the largest loss (the "sorted deltas" plot of
  many IR papers). Queries are those both runs were scored on.
- **Interpolated precision-recall curve**: the 11 points of trec_eval's ``iprec_at_recall``
  (recall 0.0, 0.1, ..., 1.0), each the mean over queries of the engine's ``IPrec@level``.

matplotlib is imported lazily, on the Agg canvas, without pyplot (no global state). Output is
deterministic: ``svg.hashsalt`` is fixed and the files carry no date, so the same data give
the same bytes. Each bar's SVG group has the id ``bar-<i>`` and each curve ``pr-<i>``.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from irbench.errors import InputFormatError, IrbenchError, IrbenchWarning

__all__ = [
    "RECALL_LEVELS",
    "DiffData",
    "PlotsUnavailableError",
    "diff_data",
    "diff_figure",
    "figure_svg",
    "leaderboard_figures_html",
    "pr_curves",
    "pr_figure",
    "require_matplotlib",
    "save_figure",
]

#: The recall levels of trec_eval's iprec_at_recall.
RECALL_LEVELS = tuple(i / 10 for i in range(11))
_SALT = "irbench"


class PlotsUnavailableError(IrbenchError, ImportError):
    """matplotlib is not installed (the ``plots`` extra)."""


def require_matplotlib() -> Any:
    """The ``matplotlib`` module, or :class:`PlotsUnavailableError` saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise PlotsUnavailableError(
            "plots need matplotlib: pip install 'irbench-eval[plots]'"
        ) from None
    return matplotlib


def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# ------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class DiffData:
    """Per-query deltas ``run - baseline`` of one measure, sorted descending."""

    measure: str
    run: str
    baseline: str
    query_ids: list[str]
    deltas: np.ndarray


def _per_query(scores: Any, measure: Any) -> dict[str, float]:
    qids = [str(q) for q in scores.query_ids.to_pylist()]
    return dict(zip(qids, scores.values[measure].tolist(), strict=True))


def diff_data(
    qrels: Any,
    run: Any,
    baseline: Any,
    measure: Any = "nDCG@10",
    *,
    names: tuple[str, str] | None = None,
    complete: bool = False,
) -> DiffData:
    """Score *run* and *baseline* with *measure* and return their sorted per-query deltas
    (ties in the delta keep query id order)."""
    from irbench.engine import Evaluator
    from irbench.engine.naming import file_stem
    from irbench.io import read_run

    ev = Evaluator(qrels, [measure], complete=complete)
    m = ev.measures[0]
    run_scores = ev.score(read_run(run))
    base_scores = ev.score(read_run(baseline))
    cur, old = _per_query(run_scores, m), _per_query(base_scores, m)
    both = [q for q in sorted(old) if q in cur]
    if len(both) < max(len(cur), len(old)):
        warnings.warn(
            f"{max(len(cur), len(old)) - len(both)} queries are scored for only one of the two "
            "runs and are left out of the plot (-c scores them 0)",
            IrbenchWarning,
            stacklevel=2,
        )
    if not both:
        raise InputFormatError("the run and the baseline share no scored query")
    deltas = np.array([cur[q] - old[q] for q in both])
    order = np.argsort(-deltas, kind="stable")
    if names is None:
        names = (
            file_stem(os.fspath(run)) if isinstance(run, (str, os.PathLike)) else run_scores.run,
            file_stem(os.fspath(baseline))
            if isinstance(baseline, (str, os.PathLike))
            else base_scores.run,
        )
    return DiffData(str(m), names[0], names[1], [both[i] for i in order], deltas[order])


def pr_curves(
    qrels: Any,
    runs: Sequence[Any],
    *,
    names: Sequence[str] | None = None,
    rel_level: int = 1,
    complete: bool = False,
) -> dict[str, np.ndarray]:
    """Run name -> the 11 mean interpolated precisions at :data:`RECALL_LEVELS` (the engine's
    ``IPrec@0`` ... ``IPrec@1``, trec_eval's iprec_at_recall)."""
    from irbench.engine import Evaluator
    from irbench.engine.naming import name_runs
    from irbench.io import read_run

    measures = [f"IPrec@{level:g}" for level in RECALL_LEVELS]
    ev = Evaluator(qrels, measures, rel_level=rel_level, complete=complete)
    tables = [read_run(r) for r in runs]
    scored = [ev.score(t) for t in tables]
    if names is None:
        names = name_runs(list(runs))
    if len(names) != len(scored):
        raise InputFormatError(f"{len(names)} names for {len(scored)} runs")
    return {
        n: np.array([s.aggregates[m] for m in ev.measures])
        for n, s in zip(names, scored, strict=True)
    }


# --------------------------------------------------------------------------------- figures


def diff_figure(data: DiffData, *, width: float = 6.4, height: float = 3.0) -> Any:
    """Bar chart of *data*'s sorted deltas: gains green, losses red, one bar per query."""
    fig = _figure(width, height)
    ax = fig.add_subplot()
    x = np.arange(len(data.deltas))
    colors = ["#2a9d3c" if d > 0 else "#c0392b" for d in data.deltas]
    bars = ax.bar(x, data.deltas, width=0.85, color=colors, linewidth=0)
    for i, bar in enumerate(bars):
        bar.set_gid(f"bar-{i}")
        bar.set_url(None)
    ax.axhline(0, color="#555", linewidth=0.6)
    ax.set_xlim(-0.6, len(x) - 0.4)
    ax.set_xticks([])
    ax.set_xlabel(f"queries ({len(x)}), sorted by difference")
    ax.set_ylabel(f"Δ {data.measure}")
    wins, losses = int((data.deltas > 0).sum()), int((data.deltas < 0).sum())
    ax.set_title(
        f"{data.run} − {data.baseline}: {wins} better, {losses} worse, "
        f"{len(x) - wins - losses} equal",
        fontsize=10,
    )
    return fig


def pr_figure(curves: dict[str, np.ndarray], *, width: float = 4.8, height: float = 4.0) -> Any:
    """Interpolated precision-recall curves (11 points each), one line per run."""
    fig = _figure(width, height)
    ax = fig.add_subplot()
    markers = "os^vD<>pPX*h"
    for i, (name, values) in enumerate(curves.items()):
        (line,) = ax.plot(
            RECALL_LEVELS, values, marker=markers[i % len(markers)], markersize=4, label=name
        )
        line.set_gid(f"pr-{i}")
    ax.set_xlabel("recall")
    ax.set_ylabel("interpolated precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=8)
    return fig


def _render(fig: Any, fmt: str) -> bytes:
    require_matplotlib()
    import matplotlib

    metadata: dict[str, Any] = {"Date": None}  # no date: the same data give the same bytes
    if fmt == "pdf":
        metadata = {"CreationDate": None, "ModDate": None}
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": _SALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, metadata=metadata)
    return buf.getvalue()


def save_figure(fig: Any, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write *fig* atomically as SVG or PDF (from *fmt* or the file suffix)."""
    from irbench.io.atomic import atomic_output

    target = Path(os.fspath(path))
    kind = (fmt or target.suffix.lstrip(".")).lower()
    if kind not in ("svg", "pdf"):
        raise InputFormatError(
            f"{target}: a figure is written as .svg or .pdf, got {target.suffix or 'no suffix'!r}"
        )
    data = _render(fig, kind)
    with atomic_output(target) as fh:
        fh.write(data)
    return target


def figure_svg(fig: Any) -> str:
    """The figure as an ``<svg>`` element to inline in HTML (no XML prolog, no doctype)."""
    text = _render(fig, "svg").decode("utf-8")
    text = re.sub(r"^.*?(?=<svg)", "", text, count=1, flags=re.S)  # prolog, doctype
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)


# ------------------------------------------------------------------------------ HTML report


def leaderboard_figures_html(board: Any) -> str:
    """The "Figures" section of the HTML leaderboard: per dataset, the runs' precision-recall
    curves and, with a baseline, each run's per-query difference plot per measure (inline SVG,
    no network). Without matplotlib the section says what to install."""
    import html

    parts = ["<h2>Figures</h2>"]
    try:
        require_matplotlib()
    except PlotsUnavailableError as err:
        return parts[0] + f"<p class='note'>{html.escape(str(err))} to see figures here.</p>"
    from irbench.engine import Evaluator

    levels = [f"IPrec@{level:g}" for level in RECALL_LEVELS]
    for ds in board.datasets:
        tables = [(r.name, r.table) for r in ds.runs if r.table is not None]
        if tables:
            cond = ds.conditions
            ev = Evaluator(
                ds.evaluator.qrels,
                levels,
                rel_level=cond.rel_level,
                judged_only=cond.judged_only,
                max_results=cond.max_results,
                complete=cond.complete,
            )
            curves = {}
            for name, table in tables:
                scores = ev.score_table(table)
                curves[name] = np.array([scores.aggregates[m] for m in ev.measures])
            parts.append(
                f"<details open><summary>{html.escape(ds.name)}: interpolated precision-recall "
                f"(11 points)</summary>{figure_svg(pr_figure(curves))}</details>"
            )
        base = next((r for r in ds.runs if r.name == board.baseline), None)
        if base is None:
            continue
        for run in ds.runs:
            if run is base:
                continue
            for m in ds.measures:
                cur, old = run.per_query(m), base.per_query(m)
                both = [q for q in sorted(old) if q in cur]
                if not both:
                    continue
                deltas = np.array([cur[q] - old[q] for q in both])
                order = np.argsort(-deltas, kind="stable")
                data = DiffData(
                    str(m), run.name, base.name, [both[i] for i in order], deltas[order]
                )
                parts.append(
                    f"<details><summary>{html.escape(ds.name)}: {html.escape(run.name)} − "
                    f"{html.escape(base.name)}, {html.escape(str(m))} per query</summary>"
                    f"{figure_svg(diff_figure(data))}</details>"
                )
    return "\n".join(parts)

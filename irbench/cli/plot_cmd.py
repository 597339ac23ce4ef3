"""`irbench plot`: figures for papers (SVG or PDF; needs the plots extra, matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from irbench.cli.common import err_console, user_errors

DIFF_EXAMPLES = """
[bold]Example[/] (shipped data)

  D=irbench/data/demo/dl19-passage
  irbench plot diff $D/qrels.txt.gz $D/runs/tas-b.run.gz --baseline $D/runs/bm25.run.gz \\
      -m nDCG@10 -o diff.svg

One bar per query: the run's value minus the baseline's, sorted from the largest gain to the
largest loss. Needs pip install 'irbench-eval\\[plots]' (matplotlib). .svg or .pdf by suffix.
"""

PR_EXAMPLES = """
[bold]Example[/] (shipped data)

  irbench plot pr $D/qrels.txt.gz $D/runs/*.run.gz -o pr.pdf

11-point interpolated precision-recall curves: at recall 0.0, 0.1, ..., 1.0 the mean over
queries of IPrec@level (trec_eval's iprec_at_recall; -l sets the relevance level).
"""


def diff_command(
    qrels: Annotated[str, typer.Argument(help="Qrels (file or dataset id).")],
    run: Annotated[str, typer.Argument(help="The run.")],
    baseline: Annotated[str, typer.Option("--baseline", "-b", help="The baseline run.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure file (.svg, .pdf).")],
    measure: Annotated[str, typer.Option("--measure", "-m", help="Measure.")] = "nDCG@10",
    complete: Annotated[
        bool, typer.Option("--complete", "-c", help="Score missing queries 0 (trec_eval -c).")
    ] = False,
) -> None:
    """Per-query difference plot: sorted deltas of RUN against --baseline for one measure."""
    from irbench.report.plots import diff_data, diff_figure, require_matplotlib, save_figure

    with user_errors():
        require_matplotlib()
        data = diff_data(qrels, run, baseline, measure, complete=complete)
        path = save_figure(diff_figure(data), output)
    err_console().print(f"wrote {path}: {len(data.deltas)} queries", soft_wrap=True)


def pr_command(
    qrels: Annotated[str, typer.Argument(help="Qrels (file or dataset id).")],
    runs: Annotated[list[str], typer.Argument(help="One or more runs.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Figure file (.svg, .pdf).")],
    rel_level: Annotated[int, typer.Option("--rel-level", "-l", help="trec_eval -l.")] = 1,
    complete: Annotated[
        bool, typer.Option("--complete", "-c", help="Score missing queries 0 (trec_eval -c).")
    ] = False,
) -> None:
    """Interpolated precision-recall curves (11 points) of one or more runs."""
    from irbench.report.plots import pr_curves, pr_figure, require_matplotlib, save_figure

    with user_errors():
        require_matplotlib()
        curves = pr_curves(qrels, runs, rel_level=rel_level, complete=complete)
        path = save_figure(pr_figure(curves), output)
    err_console().print(f"wrote {path}: {len(curves)} curves", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``plot`` command group to the ``irbench`` app."""
    group = typer.Typer(
        name="plot",
        help="Figures for papers: per-query difference plots and precision-recall curves "
        "(SVG, PDF; pip install 'irbench-eval\\[plots]').",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )
    group.command("diff", epilog=DIFF_EXAMPLES, no_args_is_help=True)(diff_command)
    group.command("pr", epilog=PR_EXAMPLES, no_args_is_help=True)(pr_command)
    app.add_typer(group, name="plot")

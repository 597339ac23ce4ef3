"""`irbench leaderboard`: one table of runs x measures (x datasets) with provenance."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from irbench.cli.common import (
    AlphaOption,
    Compat,
    CompatOption,
    CompleteOption,
    CorrectionOption,
    EngineName,
    EngineOption,
    IgnoreIdenticalIdsOption,
    JudgedOnlyOption,
    MaxResultsOption,
    RelLevelOption,
    SchedulerOption,
    ShardSizeOption,
    TestOption,
    WorkersOption,
    open_engine,
    user_errors,
)

EXAMPLES = """
[bold]Examples[/]

  irbench leaderboard qrels.txt runs/*.run -m nDCG@10 -m 'AP(rel=2)' --baseline bm25
  irbench leaderboard qrels.txt runs/*.run -m nDCG@10 -o board.html     [dim]# sortable page, charts[/]
  irbench leaderboard qrels.txt BM25=a/dl19.txt SPLADE=b/dl19.txt -m nDCG@10 --baseline BM25
  irbench leaderboard --spec beir.toml -o board.md                       [dim]# many datasets[/]
  irbench leaderboard --spec beir.toml --engine dask --scheduler tcp://10.0.0.5:8786

A spec file (TOML; paths relative to it):

  measures = ["nDCG@10"]
  baseline = "BM25"
  [datasets.dl19]
  qrels = "qrels.dl19-passage.txt"            [dim]# a file or a dataset id[/]
  runs = ["runs/*/dl19.txt"]                  [dim]# paths or globs[/]
  run_names = "parent"                        [dim]# auto (as eval) | file | parent[/]
  [datasets.dl20]
  qrels = "qrels.dl20-passage.txt"
  runs = { BM25 = "runs/BM25/dl20.txt", SPLADE = "runs/SPLADE/dl20.txt" }

Latency (--latency, or a spec's [datasets.NAME.latency] table RUN = "file.csv") adds the
columns latency_mean_s, latency_median_s, latency_p95_s (seconds per query; p95 by linear
interpolation), throughput_qps (queries / total seconds), latency_queries, candidates_mean
(documents re-ranked per query, when recorded) and latency_source, over the queries each run
was scored on.

CSV columns (stable): dataset, run, measure, value, n_queries, ci_low, ci_high, ci_method,
baseline, delta, p_value, p_adjusted, test, correction, significant, tie_low, tie_high,
qrels_sha256, run_sha256, query_policy, tie_policy, rel_level, judged_only, max_results,
ignore_identical_ids, irbench_version; --judged adds judged, --bounds unjudged_low and
unjudged_high (at the end). With several datasets, rows with dataset "average" hold
the BEIR-style mean over datasets; datasets of one group (CQADupStack's forums, grouped by id or
by `group = "..."` in the spec) get a row of their own mean and count once in the average. A run
missing from a dataset is an error (exit 2) unless --no-average. A dataset of the spec may set
`ignore_identical_ids = true` (ArguAna, Quora) and `label = "DL19"`.
Runs scored on different query sets are refused unless -c or --force.
"""


class BoardFormat(str, Enum):
    csv = "csv"
    markdown = "markdown"
    html = "html"


def _format_for(output: Path | None, fmt: BoardFormat | None) -> BoardFormat:
    if fmt is not None:
        return fmt
    suffix = output.suffix.lower() if output is not None else ""
    if suffix in (".md", ".markdown"):
        return BoardFormat.markdown
    if suffix in (".html", ".htm"):
        return BoardFormat.html
    return BoardFormat.csv


def leaderboard_command(
    qrels: Annotated[
        str | None, typer.Argument(help="Qrels (file or dataset id); omit with --spec.")
    ] = None,
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Runs (TREC file, .gz, ...); NAME=PATH names a run."),
    ] = None,
    measure: Annotated[
        list[str] | None,
        typer.Option("--measure", "-m", help="Measure (nDCG@10, AP(rel=2), ...). Repeat."),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="TOML file of datasets and runs (see below).")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", "-b", help="Test every run against this one (name or path)."),
    ] = None,
    test: TestOption = "t",
    correction: CorrectionOption = "holm",
    alpha: AlphaOption = 0.05,
    complete: CompleteOption = False,
    rel_level: RelLevelOption = 1,
    judged_only: JudgedOnlyOption = False,
    max_results: MaxResultsOption = None,
    ties: Annotated[
        bool, typer.Option("--ties/--no-ties", help="Bound each value over tie orders.")
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Allow results on different query sets.")
    ] = False,
    fmt: Annotated[
        BoardFormat | None,
        typer.Option("--format", "-f", help="Default: from the -o suffix (.md, .html), else csv."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
    ] = None,
    compat: CompatOption = Compat.v9,
    ignore_identical_ids: IgnoreIdenticalIdsOption = False,
    average: Annotated[
        bool,
        typer.Option(
            "--average/--no-average",
            help="Average over datasets (BEIR); a run missing from a dataset is then an error.",
        ),
    ] = True,
    judged: Annotated[
        bool,
        typer.Option(
            "--judged",
            help="Add a judged column: Judged@k, k the measure's cutoff (whole ranking "
            "without one).",
        ),
    ] = False,
    bounds: Annotated[
        bool,
        typer.Option(
            "--bounds",
            help="Add unjudged_low/unjudged_high: the value with unjudged documents counted "
            "non-relevant and counted relevant (down to the measure's cutoff, within -M).",
        ),
    ] = False,
    latency: Annotated[
        bool,
        typer.Option(
            "--latency",
            help="Add mean/median/p95 seconds per query and queries/s of each run (from the "
            "RUN.latency.csv that irbench run writes, or --latency-file).",
        ),
    ] = False,
    latency_file: Annotated[
        list[str] | None,
        typer.Option(
            "--latency-file",
            metavar="RUN=FILE",
            help="Latency measured elsewhere: a CSV query_id,seconds for the run RUN (its "
            "name, file name or path). Repeat; implies --latency.",
        ),
    ] = None,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    shard_size: ShardSizeOption = None,
) -> None:
    """Leaderboard of runs x measures with intervals, baseline tests and provenance (CSV,
    Markdown or a self-contained HTML page)."""
    from irbench.errors import InputFormatError
    from irbench.report import render
    from irbench.report.leaderboard import build_leaderboard
    from irbench.report.scoring import Conditions
    from irbench.report.spec_file import datasets_from

    with user_errors():
        if spec is not None and (qrels is not None or runs):
            raise InputFormatError("give QRELS RUN ... or --spec, not both")
        if spec is None and (qrels is None or not runs):
            raise InputFormatError("give QRELS and at least one RUN (or --spec FILE)")
        paths, given = (None, None)
        if runs:
            from irbench.engine.naming import split_run_args

            paths, given = split_run_args(runs)
        sets, measures, opts = datasets_from(qrels, paths, measure or None, spec=spec, names=given)
        baseline = baseline if baseline is not None else opts.get("baseline")
        board = build_leaderboard(
            sets,
            measures,
            baseline=baseline,
            conditions=Conditions(
                rel_level=rel_level,
                judged_only=judged_only,
                max_results=max_results,
                complete=complete,
                compat=compat.value,
                ignore_identical_ids=ignore_identical_ids,
            ),
            test=test,
            correction=correction,
            alpha=alpha,
            ties=ties,
            force=force,
            engine=open_engine(engine, scheduler, workers, shard_size),
            average=average,
            judged=judged,
            bounds=bounds,
        )
        files = _latency_files(latency_file or [])
        spec_files = {
            f"{d.name}/{run}": path for d in sets for run, path in (d.latency or {}).items()
        }
        if latency or files or spec_files:
            from irbench.report.latency import add_latency_columns

            add_latency_columns(board, {**spec_files, **files})
        kind = _format_for(output, fmt)
        text = {
            BoardFormat.csv: render.leaderboard_csv,
            BoardFormat.markdown: render.leaderboard_markdown,
            BoardFormat.html: render.leaderboard_html,
        }[kind](board)
        if output is None:
            sys.stdout.write(text)
            return
        from irbench.io.atomic import atomic_text_writer

        with atomic_text_writer(output) as fh:
            fh.write(text)


def _latency_files(items: list[str]) -> dict[str, str]:
    from irbench.errors import InputFormatError

    out: dict[str, str] = {}
    for item in items:
        run, sep, path = item.partition("=")
        if not sep or not run.strip() or not path.strip():
            raise InputFormatError(
                f"--latency-file expects RUN=FILE, got {item!r} (for example "
                "--latency-file bm25=bm25-latency.csv)"
            )
        out[run.strip()] = path.strip()
    return out


def register(app: typer.Typer) -> None:
    """Add the ``leaderboard`` command to the ``irbench`` app."""
    app.command("leaderboard", epilog=EXAMPLES, no_args_is_help=True)(leaderboard_command)

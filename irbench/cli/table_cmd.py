"""`irbench table`: the results table of a paper (LaTeX, Markdown, CSV, HTML)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from irbench.cli.common import (
    AlphaOption,
    CompleteOption,
    CorrectionOption,
    EngineName,
    EngineOption,
    FamilyOption,
    IgnoreIdenticalIdsOption,
    JudgedOnlyOption,
    MaxResultsOption,
    PermutationsOption,
    RelLevelOption,
    SchedulerOption,
    SeedOption,
    ShardSizeOption,
    TestOption,
    WorkersOption,
    open_engine,
    user_errors,
)

EXAMPLES = """
[bold]Examples[/]

  irbench table qrels.txt bm25.run splade.run tasb.run -m nDCG@10 -m 'AP(rel=2)' -b bm25 -d DL19
  irbench table --spec dl.toml -b BM25 -b TAS-B -o table.tex          [dim]# letters a, b[/]
  irbench table --spec dl.toml -b BM25 --markers dagger --std -o table.md
  irbench table --spec beir.toml --percent --decimals 1 -o beir.html  [dim]# BEIR average[/]
  irbench table --spec dl.toml -f csv-wide                             [dim]# one row per system[/]

Rows are systems, columns (dataset x measure), datasets in spec order (--datasets to choose),
then "Avg." (the BEIR mean over datasets; CQADupStack's forums averaged first) when there are
several. Spec files are those of `irbench leaderboard --spec` (see its --help); a spec may also
list `baselines = ["BM25", "TAS-B"]`. A marker is `irbench compare --baseline B`'s decision for
that dataset and measure: same test, same correction over every other system x every measure
of the dataset (--family measure: per measure). Markers mark significant improvements; the CSV
has every decision (delta_vs_B, p_adjusted_vs_B, significant_vs_B).
"""


class TableFormat(str, Enum):
    latex = "latex"
    markdown = "markdown"
    csv = "csv"
    csv_wide = "csv-wide"
    html = "html"


class Markers(str, Enum):
    letters = "letters"
    dagger = "dagger"


class Layout(str, Enum):
    dataset = "dataset"
    measure = "measure"


_SUFFIXES = {
    ".tex": TableFormat.latex,
    ".md": TableFormat.markdown,
    ".markdown": TableFormat.markdown,
    ".csv": TableFormat.csv,
    ".html": TableFormat.html,
    ".htm": TableFormat.html,
}


def _format_for(output: Path | None, fmt: TableFormat | None) -> TableFormat:
    if fmt is not None:
        return fmt
    if output is None:
        return TableFormat.markdown
    return _SUFFIXES.get(output.suffix.lower(), TableFormat.markdown)


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def table_command(
    qrels: Annotated[
        str | None, typer.Argument(help="Qrels (file or dataset id); omit with --spec.")
    ] = None,
    runs: Annotated[list[str] | None, typer.Argument(help="Runs (TREC file, .gz, ...).")] = None,
    measure: Annotated[
        list[str] | None,
        typer.Option("--measure", "-m", help="Measure (nDCG@10, AP(rel=2), ...). Repeat."),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="TOML file of datasets and runs (as leaderboard).")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", help="Name of the dataset of QRELS (default: from its file)."
        ),
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option("--name", "-n", help="Name of each RUN, in order (default: as eval). Repeat."),
    ] = None,
    baseline: Annotated[
        list[str] | None,
        typer.Option(
            "--baseline", "-b", help="Mark significant improvements over this system. Repeat."
        ),
    ] = None,
    test: TestOption = "t",
    correction: CorrectionOption = "holm",
    alpha: AlphaOption = 0.05,
    family: FamilyOption = "all",
    permutations: PermutationsOption = 10_000,
    seed: SeedOption = 0,
    markers: Annotated[
        Markers, typer.Option("--markers", help="letters (a, b, ... per baseline) or dagger.")
    ] = Markers.letters,
    underline: Annotated[
        bool, typer.Option("--underline/--no-underline", help="Underline the second best.")
    ] = True,
    std: Annotated[bool, typer.Option("--std", help="Show ± the std over queries.")] = False,
    ci: Annotated[bool, typer.Option("--ci", help="Show the 1-alpha t interval.")] = False,
    judged: Annotated[
        bool, typer.Option("--judged", help="Add Judged@k beside each measure (k its cutoff).")
    ] = False,
    bounds: Annotated[
        bool,
        typer.Option(
            "--bounds", help="Show (≤ high): the value with unjudged documents counted relevant."
        ),
    ] = False,
    decimals: Annotated[
        int | None, typer.Option("--decimals", help="Digits after the point (4; 1 with --percent).")
    ] = None,
    percent: Annotated[bool, typer.Option("--percent", help="Values x 100.")] = False,
    datasets: Annotated[
        list[str] | None,
        typer.Option("--datasets", help="Dataset columns, in this order (comma-separated)."),
    ] = None,
    systems: Annotated[
        list[str] | None,
        typer.Option("--systems", help="System rows, in this order (comma-separated)."),
    ] = None,
    layout: Annotated[
        Layout, typer.Option("--layout", help="dataset (datasets on top) or measure on top.")
    ] = Layout.dataset,
    average: Annotated[
        bool, typer.Option("--average/--no-average", help="BEIR average column.")
    ] = True,
    expand_groups: Annotated[
        bool, typer.Option("--expand-groups", help="Show each CQADupStack forum as well.")
    ] = False,
    caption: Annotated[
        str | None, typer.Option("--caption", help="Text before the legend.")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="LaTeX \\label.")] = None,
    complete: CompleteOption = False,
    rel_level: RelLevelOption = 1,
    judged_only: JudgedOnlyOption = False,
    max_results: MaxResultsOption = None,
    ignore_identical_ids: IgnoreIdenticalIdsOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow results on different query sets.")
    ] = False,
    fmt: Annotated[
        TableFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Default: from the -o suffix (.tex .md .csv .html), else markdown.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
    ] = None,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    shard_size: ShardSizeOption = None,
) -> None:
    """Paper table: systems x (dataset x measure), significance markers against baselines,
    best in bold, BEIR average; LaTeX (booktabs), Markdown, CSV or HTML."""
    from irbench.errors import InputFormatError
    from irbench.report.table import table

    with user_errors():
        if spec is not None and (qrels is not None or runs):
            raise InputFormatError("give QRELS RUN ... or --spec, not both")
        if spec is None and (qrels is None or not runs):
            raise InputFormatError("give QRELS and at least one RUN (or --spec FILE)")
        if dataset is not None and spec is not None:
            raise InputFormatError("--dataset names the dataset of QRELS; a spec names its own")
        if name and (spec is not None or len(name) != len(runs or [])):
            raise InputFormatError(
                f"--name: give one name per RUN ({len(runs or [])} runs, {len(name)} names); "
                "a spec names its runs itself"
            )
        t = table(
            qrels,
            list(runs) if runs else None,
            measure or None,
            spec=spec,
            names=name or None,
            dataset=dataset,
            baselines=_split(baseline),
            complete=complete,
            rel_level=rel_level,
            judged_only=judged_only,
            max_results=max_results,
            ignore_identical_ids=ignore_identical_ids,
            std=std,
            ci=ci,
            judged=judged,
            bounds=bounds,
            test=test,
            correction=correction,
            alpha=alpha,
            family=family,
            permutations=permutations,
            seed=seed,
            markers=markers.value,
            average=average,
            expand_groups=expand_groups,
            systems=_split(systems),
            order=_split(datasets),
            force=force,
            engine=open_engine(engine, scheduler, workers, shard_size),
            decimals=decimals if decimals is not None else (1 if percent else 4),
            percent=percent,
            underline=underline,
            layout=layout.value,
            caption=caption,
            label=label,
        )
        text = t.render(_format_for(output, fmt).value)
        if output is None:
            sys.stdout.write(text)
            return
        from irbench.io.atomic import atomic_text_writer

        with atomic_text_writer(output) as fh:
            fh.write(text)


def register(app: typer.Typer) -> None:
    """Add the ``table`` command to the ``irbench`` app."""
    app.command("table", epilog=EXAMPLES, no_args_is_help=True)(table_command)

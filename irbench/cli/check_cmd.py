"""`irbench check`: regression gate of runs against a committed baseline file."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import Compat, user_errors
from irbench.stats.methods import GATE_TESTS

EXAMPLES = """
[bold]Examples[/]

  irbench check --baseline runs/baselines/dl19.toml qrels.txt runs/*.run -m nDCG@10 --update
  irbench check --baseline runs/baselines/dl19.toml qrels.txt runs/*.run      [dim]# the gate[/]
  irbench check --baseline b.toml qrels.txt new.run --format github            [dim]# CI annotations[/]
  irbench check --baseline b.toml qrels.txt new.run --format junit -o check.xml

Exit status: 0 every value holds; 1 a value REGRESSED, is MISSING from the baseline, or was
scored on other queries (QUERIES CHANGED); 2 bad usage or input: unreadable or malformed files,
or results that cannot be compared (other qrels, measure definition, -c/-l/-J/-M) unless --force.

The baseline (TOML) keeps per dataset the qrels SHA-256, the conditions, each measure's
definition and per run the values and per-query values. Edit its [policy] tables, per
measure or `default`:

  [policy.default]
  tolerance = 0.005        [dim]# absolute drop of the mean that still passes[/]
  [policy."nDCG@10"]
  margin = 0.01            [dim]# non-inferiority: one-sided paired test must show[/]
  alpha = 0.05             [dim]# 'no worse than baseline - margin' ...[/]
  test = "t"               [dim]# ... with {tests}[/]

With both, both must hold; with neither, any drop fails.
""".format(tests=", ".join(GATE_TESTS[:-1]) + " or " + GATE_TESTS[-1])


class CheckFormat(str, Enum):
    table = "table"
    github = "github"
    markdown = "markdown"
    junit = "junit"


def check_command(
    qrels: Annotated[str, typer.Argument(help="Qrels: file (.gz ok) or dataset id.")],
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Runs to check (TREC file, .gz, ...); NAME=PATH names a run (default: its "
            "file name without suffixes, as in eval)."
        ),
    ],
    baseline: Annotated[
        Path, typer.Option("--baseline", "-b", help="Baseline TOML file (created by --update).")
    ],
    measure: Annotated[
        list[str] | None,
        typer.Option("--measure", "-m", help="Measures (default: the baseline's). Repeat."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset", "-d", help="Dataset key in the baseline (default: its only one)."
        ),
    ] = None,
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite the baseline with these values; show diff.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Check even if qrels/conditions/definitions differ.")
    ] = False,
    complete: Annotated[
        bool | None, typer.Option("--complete/--skip-missing", "-c", help="trec_eval -c.")
    ] = None,
    rel_level: Annotated[
        int | None, typer.Option("--rel-level", "-l", help="trec_eval -l.")
    ] = None,
    judged_only: Annotated[
        bool | None, typer.Option("--judged-only", "-J", help="trec_eval -J.")
    ] = None,
    max_results: Annotated[
        int | None, typer.Option("--max-results", "-M", help="trec_eval -M.")
    ] = None,
    compat: Annotated[
        Compat | None,
        typer.Option(
            "--compat", help="trec_eval version to match, 9 or 10 (default: the baseline's)."
        ),
    ] = None,
    ignore_identical_ids: Annotated[
        bool | None,
        typer.Option(
            "--ignore-identical-ids/--keep-identical-ids",
            help="Drop documents whose id equals the query id (BEIR); default: the baseline's.",
        ),
    ] = None,
    judged: Annotated[
        bool,
        typer.Option("--judged", help="Show Judged@k (k the measure's cutoff) in each row."),
    ] = False,
    bounds: Annotated[
        bool,
        typer.Option(
            "--bounds",
            help="Show each value with unjudged documents counted relevant (not recorded).",
        ),
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of resampling tests.")] = 0,
    fmt: Annotated[
        CheckFormat, typer.Option("--format", "-f", help="table, github, markdown or junit.")
    ] = CheckFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file.")
    ] = None,
) -> None:
    """Check runs against a committed baseline: exit 0 if every value holds, 1 on a regression,
    2 on bad input. --update records the current values."""
    from irbench.engine.naming import split_run_args
    from irbench.report import check as chk
    from irbench.report import render
    from irbench.report.baseline_file import baseline_conditions, load_baseline, pick_dataset

    with user_errors():
        runs, names = split_run_args(runs)
        doc = load_baseline(baseline) if baseline.exists() or not update else None
        name, entry = pick_dataset(doc or {}, dataset, qrels)
        given: dict[str, Any] = {
            k: v
            for k, v in {
                "complete": complete,
                "rel_level": rel_level,
                "judged_only": judged_only,
                "max_results": max_results,
                "compat": compat.value if compat is not None else None,
                "ignore_identical_ids": ignore_identical_ids,
            }.items()
            if v is not None
        }
        cond = None
        if given:
            import dataclasses

            cond = dataclasses.replace(baseline_conditions(entry), **given)
        if update:
            changes = chk.update_baseline(
                baseline,
                qrels,
                runs,
                measure,
                dataset=name,
                names=names,
                conditions=cond,
                baseline_doc=doc,
            )
            typer.echo(f"updated {baseline}:")
            for line in changes or ["(no change)"]:
                typer.echo(f"  {line}")
            return
        result = chk.check(
            baseline,
            qrels,
            runs,
            measure,
            dataset=name,
            names=names,
            force=force,
            seed=seed,
            conditions=cond,
            judged=judged,
            bounds=bounds,
            baseline_doc=doc,
        )
        if fmt is CheckFormat.table and output is None:
            render.print_check(result)
        else:
            text = {
                CheckFormat.table: render.check_markdown,
                CheckFormat.github: render.check_github,
                CheckFormat.markdown: render.check_markdown,
                CheckFormat.junit: render.check_junit,
            }[fmt](result)
            if output is None:
                sys.stdout.write(text)
            else:
                from irbench.io.atomic import atomic_text_writer

                with atomic_text_writer(output) as fh:
                    fh.write(text)
                sys.stderr.write(render.check_summary(result) + "\n")
    if result.failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to the ``irbench`` app."""
    app.command("check", epilog=EXAMPLES, no_args_is_help=True)(check_command)

"""`irbench eval`: score runs against qrels, trec_eval's numbers in the shape you want."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import (
    Compat,
    CompatOption,
    EngineName,
    EngineOption,
    EvalFormat,
    IgnoreIdenticalIdsOption,
    SchedulerOption,
    ShardSizeOption,
    WorkersOption,
    open_engine,
    user_errors,
)
from irbench.cli.eval_output import emit_scores, print_bounds_table, write_bounds

EXAMPLES = """
[bold]Examples[/]

  irbench eval qrels.txt run.txt -m nDCG@10 -m AP -m RR@10
  irbench eval qrels.txt runs/*.run -m 'P.5,10' -m map        [dim]# trec_eval names work too[/]
  irbench eval qrels.txt run.txt -m 'AP(rel=2)' -q --format jsonl
  irbench eval qrels.txt bm25=runs/a.run splade=runs/b.run -m AP   [dim]# NAME=PATH names a run[/]
  irbench eval qrels.txt runs/*.run -m AP -o results.csv       [dim]# format from the suffix[/]
  zcat run.gz | irbench eval qrels.txt - -m nDCG@10 -c         [dim]# - reads the run from stdin[/]
  irbench eval qrels.txt huge.run.gz -m AP --stream           [dim]# bounded memory, or an error[/]
  irbench eval qrels.txt runs/*.run -m AP --engine dask        [dim]# parallel on a local Dask cluster[/]
  irbench eval qrels.txt runs/*.run -m AP --engine dask --scheduler tcp://10.0.0.5:8786
  irbench eval qrels.txt runs/*.run -m nDCG@10 --judged --bounds  [dim]# unjudged documents[/]
  irbench eval qrels.txt run.txt -m 'nDCG(judged_only=True)@10' -m RBP_resid@10

Semantics are trec_eval 9.0.x: documents are ranked by score (descending), ties by document
id (descending); the rank column is ignored. Queries the run lacks are skipped unless -c.

Run names: NAME=PATH, else the file name without .gz/.txt/.run/.trec/.res/.tsv
(runs/bm25.run.gz is bm25; stdin is `stdin`); files with the same name get their parent
folders (BM25/dl19, SPLADE/dl19). The same names in compare, leaderboard and check.
"""

#: Output format implied by an -o suffix (other suffixes: tab-separated values).
SUFFIX_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".trec": "trec",
}


def eval_command(
    qrels: Annotated[str, typer.Argument(help="Qrels: TREC file (.gz ok), Parquet, JSONL or -.")],
    runs: Annotated[
        list[str],
        typer.Argument(
            help="One or more runs: TREC file, .gz, Parquet, JSONL, - for stdin; NAME=PATH "
            "names a run (default: its file name without suffixes)."
        ),
    ],
    measure: Annotated[
        list[str] | None,
        typer.Option(
            "--measure",
            "-m",
            help="Measure in ir_measures syntax (nDCG@10, AP(rel=2), P@5) or trec_eval's "
            "(ndcg_cut.10, P.5,10, map, official). Repeat for several. Default: trec_eval's official set.",
        ),
    ] = None,
    per_query: Annotated[
        bool, typer.Option("--per-query", "-q", help="Also print each query's value.")
    ] = False,
    complete: Annotated[
        bool,
        typer.Option(
            "--complete",
            "-c",
            help="Score qrels queries missing from a run as empty rankings (trec_eval -c).",
        ),
    ] = False,
    rel_level: Annotated[
        int,
        typer.Option("--rel-level", "-l", help="Minimum grade counted as relevant (trec_eval -l)."),
    ] = 1,
    judged_only: Annotated[
        bool,
        typer.Option(
            "--judged-only", "-J", help="Drop unjudged documents before scoring (trec_eval -J)."
        ),
    ] = False,
    max_results: Annotated[
        int | None,
        typer.Option(
            "--max-results", "-M", help="Use only the top N documents per query (trec_eval -M)."
        ),
    ] = None,
    fmt: Annotated[
        EvalFormat | None,
        typer.Option(
            "--format",
            "-f",
            help="Output format. Default: from the -o suffix (.csv, .tsv, .json, .jsonl or "
            ".ndjson, .trec), tsv for another suffix, table on the terminal. A --format that "
            "contradicts the -o suffix is an error.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout (format from its suffix)."
        ),
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Insist on streaming: read each run in chunks of whole queries, in memory "
            "bounded by a few chunks, and refuse a run that is not grouped by query (the error "
            "gives the `sort` command that groups it); stdin (-) is streamed too. Without it, run "
            "files grouped by query (as rankers write them) are read in chunks anyway and other "
            "runs are read whole. Same numbers either way.",
        ),
    ] = False,
    chunk_size: Annotated[
        str,
        typer.Option(
            "--chunk-size",
            help="With --stream: bytes read per chunk, e.g. 4MiB, 64MB or 1GB. "
            "Peak memory is a few times this plus the largest query.",
        ),
    ] = "4MiB",
    compat: CompatOption = Compat.v9,
    ignore_identical_ids: IgnoreIdenticalIdsOption = False,
    judged: Annotated[
        bool,
        typer.Option(
            "--judged",
            help="Add Judged@k beside the measures: the fraction of the top k documents that "
            "the qrels judge, k each measure's cutoff (Judged over the whole ranking for a "
            "measure without one).",
        ),
    ] = False,
    bounds: Annotated[
        bool,
        typer.Option(
            "--bounds",
            help="Add low/high per measure (and query with -q): unjudged documents counted "
            "non-relevant (the usual value) and counted relevant (the value on qrels where every "
            "retrieved unjudged document within -M is judged relevant, grade max(1, rel)). "
            "Reads each run whole, in this process.",
        ),
    ] = False,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    shard_size: ShardSizeOption = None,
) -> None:
    """Evaluate runs against qrels with trec_eval's exact semantics, fast."""
    from irbench.engine import Evaluator
    from irbench.engine.naming import name_runs, split_run_args

    with user_errors():
        kind = output_format(fmt, output)
        runs, given = split_run_args(runs)
        names = name_runs(runs, given)
        wanted: Any = measure or ["official"]
        if judged:
            from irbench.engine.unjudged import with_judged

            wanted = with_judged(wanted)
        ev = Evaluator(
            qrels,
            wanted,
            rel_level=rel_level,
            judged_only=judged_only,
            max_results=max_results,
            complete=complete,
            compat=compat.value,
            ignore_identical_ids=ignore_identical_ids,
        )
        if runs.count("-") > 1 or (qrels == "-" and "-" in runs):
            raise typer.BadParameter("only one input can be read from stdin (-)")
        if bounds:
            _emit_bounds(ev, runs, names, kind, per_query, output, stream, engine)
            return
        from irbench.engine.api import evaluate_runs
        from irbench.engine.runs import ReadPolicy

        read = ReadPolicy()
        if stream:
            if engine is not EngineName.local:
                raise typer.BadParameter(
                    "--stream scores runs in this process; the Dask engine splits big runs "
                    "into shards itself (--shard-size)",
                    param_hint="--stream",
                )
            from irbench.engine.placement import parse_size

            read = ReadPolicy(stream=True, chunk_bytes=parse_size(chunk_size))
        with open_engine(engine, scheduler, workers, shard_size) as eng:
            scores = evaluate_runs(ev, runs, names, engine=eng, read=read)
        emit_scores(scores, ev.measures, kind, per_query, output, ev.compat)


def output_format(fmt: EvalFormat | None, output: Path | None) -> EvalFormat:
    """The format to write: ``--format``, else the one the ``-o`` suffix implies (tsv for an
    unknown suffix), else a table; a ``--format`` the suffix contradicts is an error."""
    implied = SUFFIX_FORMATS.get(output.suffix.lower()) if output is not None else None
    if fmt is None:
        if output is None:
            return EvalFormat.table
        return EvalFormat(implied or "tsv")
    written = "tsv" if fmt is EvalFormat.table and output is not None else fmt.value
    if output is not None and implied is not None and written != implied:
        from irbench.errors import InputFormatError

        raise InputFormatError(
            f"--format {fmt.value} contradicts -o {output} (a {output.suffix} file is "
            f"{implied}); drop --format or change the file's suffix"
        )
    return fmt


def _emit_bounds(
    ev: Any,
    runs: list[str],
    names: list[str],
    fmt: EvalFormat,
    per_query: bool,
    output: Path | None,
    stream: bool,
    engine: EngineName,
) -> None:
    """``--bounds``: score each run whole here, then write value/low/high per measure."""
    from irbench.engine.unjudged import score_bounds

    if stream or engine is not EngineName.local:
        raise typer.BadParameter(
            "--bounds reads each run whole in this process (no --stream, no --engine dask)",
            param_hint="--bounds",
        )
    found = [score_bounds(ev, r, name=n) for r, n in zip(runs, names, strict=True)]
    if fmt is EvalFormat.table and output is None:
        print_bounds_table(found, ev.measures, per_query)
        return
    if output is not None:
        from irbench.io.atomic import atomic_text_writer

        with atomic_text_writer(output) as fh:
            write_bounds(fh, found, ev.measures, fmt, per_query)
    else:
        write_bounds(sys.stdout, found, ev.measures, fmt, per_query)


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EXAMPLES, no_args_is_help=True)(eval_command)

"""`irbench eval`: score runs against qrels, trec_eval's numbers in the shape you want."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import (
    EngineName,
    EngineOption,
    EvalFormat,
    SchedulerOption,
    ShardSizeOption,
    WorkersOption,
    dumps,
    fmt_value,
    open_engine,
    user_errors,
    write_lines,
)

EXAMPLES = """
[bold]Examples[/]

  irbench eval qrels.txt run.txt -m nDCG@10 -m AP -m RR@10
  irbench eval qrels.txt runs/*.run -m 'P.5,10' -m map        [dim]# trec_eval names work too[/]
  irbench eval qrels.txt run.txt -m 'AP(rel=2)' -q --format jsonl
  zcat run.gz | irbench eval qrels.txt - -m nDCG@10 -c         [dim]# - reads the run from stdin[/]
  irbench eval qrels.txt huge.run.gz -m AP --stream           [dim]# bounded memory, or an error[/]
  irbench eval qrels.txt runs/*.run -m AP --engine dask        [dim]# parallel on a local Dask cluster[/]
  irbench eval qrels.txt runs/*.run -m AP --engine dask --scheduler tcp://10.0.0.5:8786

Semantics are trec_eval 9.0.x: documents are ranked by score (descending), ties by document
id (descending); the rank column is ignored. Queries the run lacks are skipped unless -c.
"""


def eval_command(
    qrels: Annotated[str, typer.Argument(help="Qrels: TREC file (.gz ok), Parquet, JSONL or -.")],
    runs: Annotated[
        list[str],
        typer.Argument(help="One or more runs: TREC file, .gz, Parquet, JSONL, - for stdin."),
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
            "--complete", "-c", help="Score qrels queries missing from a run as 0 (trec_eval -c)."
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
        EvalFormat, typer.Option("--format", "-f", help="Output format.")
    ] = EvalFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
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
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    shard_size: ShardSizeOption = None,
) -> None:
    """Evaluate runs against qrels with trec_eval's exact semantics, fast."""
    from irbench.engine import Evaluator
    from irbench.engine.naming import unique_run_names

    with user_errors():
        ev = Evaluator(
            qrels,
            measure or ["official"],
            rel_level=rel_level,
            judged_only=judged_only,
            max_results=max_results,
            complete=complete,
        )
        if runs.count("-") > 1 or (qrels == "-" and "-" in runs):
            raise typer.BadParameter("only one input can be read from stdin (-)")
        if stream:
            from irbench.engine.streaming import score_stream

            if engine is not EngineName.local:
                raise typer.BadParameter(
                    "--stream scores runs in this process; the Dask engine splits big runs "
                    "into shards itself (--shard-size)",
                    param_hint="--stream",
                )
            from irbench.engine.engines import parse_size

            size = parse_size(chunk_size)
            scores = [score_stream(ev, r, chunk_bytes=size) for r in runs]
        else:
            with open_engine(engine, scheduler, workers, shard_size) as eng:
                scores = eng.score_runs(ev, runs)
        for s, name in zip(scores, unique_run_names(runs, [s.run for s in scores]), strict=True):
            s.run = name
        _emit(scores, ev.measures, fmt, per_query, output)


def _emit(
    scores: list[Any], measures: list[Any], fmt: EvalFormat, per_query: bool, output: Path | None
) -> None:
    if fmt is EvalFormat.table and output is None:
        _print_table(scores, measures, per_query)
        return
    if output is not None:
        from irbench.io.atomic import atomic_text_writer

        with atomic_text_writer(output) as fh:
            _write(fh, scores, measures, fmt, per_query)
    else:
        _write(sys.stdout, scores, measures, fmt, per_query)


def _rows(
    scores: list[Any], measures: list[Any], per_query: bool
) -> list[tuple[str, str, str, float]]:
    rows: list[tuple[str, str, str, float]] = []
    for s in scores:
        if per_query:
            qids = s.query_ids.to_pylist()
            for m in measures:
                vals = s.values[m].tolist()
                rows.extend((s.run, str(m), q, v) for q, v in zip(qids, vals, strict=False))
        rows.extend((s.run, str(m), "all", s.aggregates[m]) for m in measures)
    return rows


def _write(
    fh: Any, scores: list[Any], measures: list[Any], fmt: EvalFormat, per_query: bool
) -> None:
    from irbench.measures import trec_eval_name

    rows = _rows(scores, measures, per_query)
    if fmt in (EvalFormat.csv, EvalFormat.tsv, EvalFormat.table):
        writer = csv.writer(
            fh, delimiter="\t" if fmt is not EvalFormat.csv else ",", lineterminator="\n"
        )
        writer.writerow(["run", "measure", "query_id", "value"])
        writer.writerows((r, m, q, repr(v)) for r, m, q, v in rows)
    elif fmt is EvalFormat.jsonl:
        write_lines(
            (dumps({"run": r, "query_id": q, "measure": m, "value": v}) for r, m, q, v in rows), fh
        )
    elif fmt is EvalFormat.json:
        doc: dict[str, dict[str, dict[str, float]]] = {}
        for r, m, q, v in rows:
            doc.setdefault(r, {}).setdefault(q, {})[m] = v
        fh.write(dumps(doc) + "\n")
    elif fmt is EvalFormat.trec:
        names = {str(m): trec_eval_name(m) or str(m) for m in measures}
        for s in scores:
            lines = [f"{names[m]:<22}\t{q}\t{fmt_value(v)}" for r, m, q, v in rows if r == s.run]
            write_lines(iter(lines), fh)


def _print_table(scores: list[Any], measures: list[Any], per_query: bool) -> None:
    plain = _plain_table(scores, measures, per_query)
    if plain is not None:  # a pipe or a file: the same text, without importing rich
        sys.stdout.write(plain)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("run", style="cyan", no_wrap=True)
    if per_query:
        table.add_column("query")
    best = {}
    for m in measures:
        table.add_column(str(m), justify="right")
        vals = [s.aggregates[m] for s in scores]
        best[m] = max(vals) if len(scores) > 1 and m.family.aggregate != "sum" else None
    for s in scores:
        if per_query:
            qids = s.query_ids.to_pylist()
            for i, q in enumerate(qids):
                table.add_row(s.run, q, *(fmt_value(float(s.values[m][i])) for m in measures))
        cells = []
        for m in measures:
            v = s.aggregates[m]
            text = fmt_value(v)
            cells.append(f"[bold green]{text}[/]" if best[m] is not None and v == best[m] else text)
        if per_query:
            table.add_row(s.run, "all", *cells, style="bold")
        else:
            table.add_row(s.run, *cells)
    console = Console()
    if not console.is_terminal:  # pipes and files: never truncate numbers to 80 columns
        console.width = max(console.width, 160)
    console.print(table)
    nq = {len(s.query_ids) for s in scores}
    console.print(
        f"[dim]{'/'.join(map(str, sorted(nq)))} queries; best value per measure in green[/]"
    )


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EXAMPLES, no_args_is_help=True)(eval_command)


#: Characters a cell may hold for :func:`_plain_table`: printable ASCII that rich prints as it
#: is (no markup ``[``, ``]``, ``\\``, no emoji codes ``:name:``).
_PLAIN_CELL = frozenset(map(chr, range(0x20, 0x7F))) - set("[]\\:")


def _plain_table(scores: list[Any], measures: list[Any], per_query: bool) -> str | None:
    """The text :func:`_print_table` prints with rich when stdout is not a terminal, drawn
    without importing rich (about a tenth of a small evaluation's start-up), or None where
    rich must draw it: a terminal or forced colours/terminal, an encoding rich would draw
    ASCII boxes for, cells with characters rich would interpret, or a table too wide for
    rich's 160 columns. tests/test_cold_start.py checks it against rich, byte for byte."""
    import os

    env = os.environ
    if (
        sys.platform == "win32"
        or sys.stdout.isatty()
        or env.get("TTY_COMPATIBLE", "") not in ("", "0")
        or env.get("FORCE_COLOR") is not None
        or any(key in env for key in ("JUPYTER_COLUMNS", "JPY_PARENT_PID", "VSCODE_PID"))
        or not (getattr(sys.stdout, "encoding", None) or "utf-8").lower().startswith("utf")
    ):
        return None
    header = ["run", *(["query"] if per_query else []), *map(str, measures)]
    if any(not _PLAIN_CELL.issuperset(cell) for cell in header):
        return None
    rows: list[list[str]] = []
    for s in scores:
        if per_query:
            qids = s.query_ids.to_pylist()
            for i, q in enumerate(qids):
                rows.append([s.run, q, *(fmt_value(float(s.values[m][i])) for m in measures)])
        cells = [fmt_value(s.aggregates[m]) for m in measures]
        rows.append([s.run, "all", *cells] if per_query else [s.run, *cells])
    if any(not _PLAIN_CELL.issuperset(cell) for row in rows for cell in row):
        return None
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    if sum(widths) + 3 * len(widths) - 1 >= 160:
        return None
    left = 2 if per_query else 1  # run (and query) columns are left-justified

    def line(cells: list[str], bar: str) -> str:
        return bar.join(
            f" {cell.ljust(w) if c < left else cell.rjust(w)} "
            for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
        )

    nq = "/".join(map(str, sorted({len(s.query_ids) for s in scores})))
    footer = f"{nq} queries; best value per measure in green"
    if len(footer) >= 160:
        return None
    lines = [line(header, "┃"), "╇".join("━" * (w + 2) for w in widths)]
    lines += [line(row, "│") for row in rows]
    return "\n".join([*lines, footer, ""])

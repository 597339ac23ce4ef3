"""`irbench eval`: score runs against qrels, trec_eval's numbers in the shape you want."""

from __future__ import annotations

import csv
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
    dumps,
    fmt_value,
    open_engine,
    semantics_note,
    user_errors,
    write_lines,
)

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
            scores = [
                score_stream(ev, r, name=n, chunk_bytes=size)
                for r, n in zip(runs, names, strict=True)
            ]
        else:
            with open_engine(engine, scheduler, workers, shard_size) as eng:
                scores = eng.score_runs(ev, runs, names)
        _emit(scores, ev.measures, kind, per_query, output, ev.compat)


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


def _emit(
    scores: list[Any],
    measures: list[Any],
    fmt: EvalFormat,
    per_query: bool,
    output: Path | None,
    compat: str = "9",
) -> None:
    if fmt is EvalFormat.table and output is None:
        _print_table(scores, measures, per_query, compat)
        return
    if compat != "9":  # machine-readable outputs stay pure; the choice is said on stderr
        print(f"note: {semantics_note(compat)}", file=sys.stderr)
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


def _print_table(
    scores: list[Any], measures: list[Any], per_query: bool, compat: str = "9"
) -> None:
    plain = _plain_table(scores, measures, per_query, compat)
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
        f"[dim]{'/'.join(map(str, sorted(nq)))} queries; best value per measure in green; "
        f"{semantics_note(compat)}[/]"
    )


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
        _print_bounds_table(found, ev.measures, per_query)
        return
    if output is not None:
        from irbench.io.atomic import atomic_text_writer

        with atomic_text_writer(output) as fh:
            _write_bounds(fh, found, ev.measures, fmt, per_query)
    else:
        _write_bounds(sys.stdout, found, ev.measures, fmt, per_query)


def _bounds_rows(
    found: list[Any], measures: list[Any], per_query: bool
) -> list[tuple[str, str, str, float, float]]:
    rows = []
    for b in found:
        lows = _rows([b.low], measures, per_query)
        highs = _rows([b.high], measures, per_query)
        rows += [(r, m, q, v, h[3]) for (r, m, q, v), h in zip(lows, highs, strict=True)]
    return rows


def _write_bounds(
    fh: Any, found: list[Any], measures: list[Any], fmt: EvalFormat, per_query: bool
) -> None:
    """csv/tsv: run, measure, query_id, value, low, high (value = low); jsonl: the same keys;
    json: ``{run: {query: {measure: value, "measure low": ..., "measure high": ...}}}``; trec:
    trec_eval's layout with ``NAME_low`` and ``NAME_high`` lines after each value."""
    from irbench.measures import trec_eval_name

    rows = _bounds_rows(found, measures, per_query)
    if fmt in (EvalFormat.csv, EvalFormat.tsv, EvalFormat.table):
        writer = csv.writer(
            fh, delimiter="\t" if fmt is not EvalFormat.csv else ",", lineterminator="\n"
        )
        writer.writerow(["run", "measure", "query_id", "value", "low", "high"])
        writer.writerows((r, m, q, repr(v), repr(v), repr(h)) for r, m, q, v, h in rows)
    elif fmt is EvalFormat.jsonl:
        write_lines(
            (
                dumps({"run": r, "query_id": q, "measure": m, "value": v, "low": v, "high": h})
                for r, m, q, v, h in rows
            ),
            fh,
        )
    elif fmt is EvalFormat.json:
        doc: dict[str, dict[str, dict[str, float]]] = {}
        for r, m, q, v, h in rows:
            cell = doc.setdefault(r, {}).setdefault(q, {})
            cell[m], cell[f"{m} low"], cell[f"{m} high"] = v, v, h
        fh.write(dumps(doc) + "\n")
    elif fmt is EvalFormat.trec:
        names = {str(m): trec_eval_name(m) or str(m) for m in measures}
        for b in found:
            lines = []
            for r, m, q, v, h in rows:
                if r == b.run:
                    lines.append(f"{names[m]:<22}\t{q}\t{fmt_value(v)}")
                    lines.append(f"{names[m] + '_low':<22}\t{q}\t{fmt_value(v)}")
                    lines.append(f"{names[m] + '_high':<22}\t{q}\t{fmt_value(h)}")
            write_lines(iter(lines), fh)


def _print_bounds_table(found: list[Any], measures: list[Any], per_query: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    table.add_column("run", style="cyan", no_wrap=True)
    if per_query:
        table.add_column("query")
    for m in measures:
        table.add_column(f"{m} low", justify="right")
        table.add_column(f"{m} high", justify="right")

    def cells(b: Any, i: int | None) -> list[str]:
        out = []
        for m in measures:
            for s in (b.low, b.high):
                v = s.aggregates[m] if i is None else float(s.values[m][i])
                out.append(fmt_value(v))
        return out

    for b in found:
        if per_query:
            for i, q in enumerate(b.low.query_ids.to_pylist()):
                table.add_row(b.run, q, *cells(b, i))
            table.add_row(b.run, "all", *cells(b, None), style="bold")
        else:
            table.add_row(b.run, *cells(b, None))
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(table)
    grades = sorted({g for b in found for g in b.grades.values()})
    console.print(
        "[dim]low: unjudged documents counted non-relevant (the usual value); high: counted "
        f"relevant with grade {'/'.join(map(str, grades))} (max(1, rel)) down to each "
        "measure's cutoff (within -M); measures divided by R or the ideal DCG can drop, as "
        "the added documents count there too[/]"
    )


def register(app: typer.Typer) -> None:
    app.command("eval", epilog=EXAMPLES, no_args_is_help=True)(eval_command)


#: Characters a cell may hold for :func:`_plain_table`: printable ASCII that rich prints as it
#: is (no markup ``[``, ``]``, ``\\``, no emoji codes ``:name:``).
_PLAIN_CELL = frozenset(map(chr, range(0x20, 0x7F))) - set("[]\\:")


def _plain_table(
    scores: list[Any], measures: list[Any], per_query: bool, compat: str = "9"
) -> str | None:
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
    footer = f"{nq} queries; best value per measure in green; {semantics_note(compat)}"
    if len(footer) >= 160:
        return None
    lines = [line(header, "┃"), "╇".join("━" * (w + 2) for w in widths)]
    lines += [line(row, "│") for row in rows]
    return "\n".join([*lines, footer, ""])

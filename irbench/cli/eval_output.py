"""What `irbench eval` writes: the results as a table on the terminal, or TSV, CSV, JSON,
JSON Lines or trec_eval's own layout (also ``irbench demo``'s table)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from irbench.cli.common import EvalFormat, dumps, fmt_value, semantics_note, write_lines

__all__ = ["emit_scores", "print_bounds_table", "print_scores_table", "write_bounds"]


def emit_scores(
    scores: list[Any],
    measures: list[Any],
    fmt: EvalFormat,
    per_query: bool,
    output: Path | None,
    compat: str = "9",
) -> None:
    if fmt is EvalFormat.table and output is None:
        print_scores_table(scores, measures, per_query, compat)
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


def print_scores_table(
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


def _bounds_rows(
    found: list[Any], measures: list[Any], per_query: bool
) -> list[tuple[str, str, str, float, float]]:
    rows = []
    for b in found:
        lows = _rows([b.low], measures, per_query)
        highs = _rows([b.high], measures, per_query)
        rows += [(r, m, q, v, h[3]) for (r, m, q, v), h in zip(lows, highs, strict=True)]
    return rows


def write_bounds(
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


def print_bounds_table(found: list[Any], measures: list[Any], per_query: bool) -> None:
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


#: Characters a cell may hold for :func:`_plain_table`: printable ASCII that rich prints as it
#: is (no markup ``[``, ``]``, ``\\``, no emoji codes ``:name:``).
_PLAIN_CELL = frozenset(map(chr, range(0x20, 0x7F))) - set("[]\\:")


def _plain_table(
    scores: list[Any], measures: list[Any], per_query: bool, compat: str = "9"
) -> str | None:
    """The text :func:`print_scores_table` prints with rich when stdout is not a terminal, drawn
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

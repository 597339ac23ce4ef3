"""`irbench compare`: paired significance tests between runs, every measure, corrected."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import (
    AlphaOption,
    CiOption,
    Compat,
    CompatOption,
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
    semantics_note,
    user_errors,
)

EXAMPLES = """
[bold]Examples[/]

  irbench compare qrels.txt bm25.run splade.run tasb.run -m nDCG@10 -m AP --baseline bm25
  irbench compare qrels.txt runs/*.run -m nDCG@10 --test randomization --permutations 100000 --seed 7
  irbench compare qrels.txt base.run new.run -m nDCG@10 --baseline base --margin 0.01   [dim]# non-inferiority gate[/]
  irbench compare qrels.txt a.run b.run c.run -m AP --test tukey --format latex
  irbench compare qrels.txt runs/*.run -m nDCG@10 --engine dask --workers 4   [dim]# score in parallel[/]

Without --baseline every pair of runs is compared. p-values are corrected over all rows
(systems x measures) with --correction; the family is printed under the table.
"""


class CompareFormat(str, Enum):
    table = "table"
    csv = "csv"
    jsonl = "jsonl"
    markdown = "markdown"
    latex = "latex"


JSONL_FIELDS = (
    "run",
    "baseline",
    "measure",
    "n_queries",
    "mean",
    "baseline_mean",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "test",
    "correction",
    "significant",
    "alternative",
    "margin",
    "family",
    "mc_se",
    "effect_dz",
    "wins",
    "ties",
    "losses",
    "mde",
)


def _num(x: Any) -> Any:
    if isinstance(x, (bool,)):
        return x
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _fmt(x: float, digits: int = 4) -> str:
    return "nan" if not math.isfinite(x) else f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "nan"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _note(df: Any) -> str:
    r = df.iloc[0]
    alt = r["alternative"]
    kind = (
        f"non-inferiority, margin {r['margin']:g}"
        if r["margin"] > 0
        else ("two-sided" if alt == "two-sided" else f"one-sided ({alt})")
    )
    fams = sorted(set(df["family"]))
    return (
        f"test: {r['test_detail']} ({kind}); correction: {r['correction']} over "
        f"{'; '.join(fams)}; alpha {r['alpha']:g}; {r['n_queries']} queries "
        f"({r['query_policy']}); CI: {r['ci_method']} {100 * (1 - r['alpha']):g}%"
    )


def render_csv(df: Any) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    return buf.getvalue()


def render_jsonl(df: Any) -> str:
    lines = []
    for rec in df.loc[:, list(JSONL_FIELDS)].to_dict(orient="records"):
        lines.append(json.dumps({k: _num(v) for k, v in rec.items()}, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _display_rows(df: Any) -> list[list[str]]:
    rows = []
    for r in df.itertuples(index=False):
        marker = "*" if r.significant else ""
        rows.append(
            [
                r.run,
                r.baseline,
                r.measure,
                _fmt(r.mean),
                _fmt(r.baseline_mean),
                f"{r.delta:+.4f}",
                f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
                _fmt_p(r.p_value),
                _fmt_p(r.p_adjusted) + marker,
                f"{r.wins}/{r.ties}/{r.losses}",
            ]
        )
    return rows


HEADERS = ["run", "baseline", "measure", "mean", "base", "delta", "CI", "p", "p adj", "W/T/L"]


def render_markdown(df: Any) -> str:
    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in _display_rows(df):
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |")
    out.append("")
    out.append(f"`*` significant at the corrected level. {_note(df)}")
    return "\n".join(out) + "\n"


def _tex(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("%", r"\%"),
        ("&", r"\&"),
        ("#", r"\#"),
        ("$", r"\$"),
    ):
        s = s.replace(a, b)
    return s


def render_latex(df: Any) -> str:
    """Paper-ready table: systems x measures means; superscript letters mark the systems a
    value is significantly better than (corrected), best value per measure in bold."""
    measures = list(dict.fromkeys(df["measure"]))
    systems = list(dict.fromkeys(list(df["baseline"]) + list(df["run"])))
    letters = {s: chr(ord("a") + i) if i < 26 else str(i) for i, s in enumerate(systems)}
    mean: dict[tuple[str, str], float] = {}
    for r in df.itertuples(index=False):
        mean[(r.run, r.measure)] = r.mean
        mean[(r.baseline, r.measure)] = r.baseline_mean
    better: dict[tuple[str, str], list[str]] = {}
    for r in df.itertuples(index=False):
        if not r.significant:
            continue
        if r.delta > 0 or r.margin > 0:
            better.setdefault((r.run, r.measure), []).append(letters[r.baseline])
        elif r.delta < 0:
            better.setdefault((r.baseline, r.measure), []).append(letters[r.run])
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "r" * len(measures) + "}",
        r"\toprule",
        "System & " + " & ".join(_tex(m) for m in measures) + r" \\",
        r"\midrule",
    ]
    best = {m: max(mean.get((s, m), -math.inf) for s in systems) for m in measures}
    for s in systems:
        cells = []
        for m in measures:
            v = mean.get((s, m), math.nan)
            cell = f"{v:.4f}"
            if v == best[m]:
                cell = r"\textbf{" + cell + "}"
            sup = "".join(sorted(better.get((s, m), [])))
            if sup:
                cell += r"$^{" + sup + "}$"
            cells.append(cell)
        lines.append(f"({letters[s]}) {_tex(s)} & " + " & ".join(cells) + r" \\")
    r0 = df.iloc[0]
    lines += [
        r"\bottomrule",
        r"\end{tabular}",
        r"\caption{Superscripts: significantly better than the system with that letter ("
        + _tex(str(r0["test"]))
        + f", {_tex(str(r0['correction']))} correction, $\\alpha={r0['alpha']:g}$, "
        + f"{r0['n_queries']} queries). Best per column in bold.}}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def print_table(df: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for h in HEADERS:
        table.add_column(h, justify="left" if h in ("run", "baseline", "measure") else "right")
    for row in _display_rows(df):
        table.add_row(*row)
    console = Console(highlight=False)
    if not console.is_terminal:  # pipes and files: never truncate numbers to 80 columns
        console.width = max(console.width, 160)
    console.print(table)
    console.print(f"[dim]* significant at the corrected level. {_note(df)}[/]", soft_wrap=True)


def _guard_query_sets(table: Any) -> None:
    """Refuse runs scored on different query sets (the test would silently drop queries)."""
    from irbench.errors import ComparabilityError

    per_run = table[table["query_id"] != "all"].groupby("run", sort=False)["query_id"]
    sets = {run: set(q) for run, q in per_run}
    union = set().union(*sets.values()) if sets else set()
    for run, qs in sets.items():
        if qs != union:
            lacking = sorted(union - qs)
            raise ComparabilityError(
                f"runs are scored on different query sets: {run!r} lacks {len(lacking)} "
                f"queries others have ({', '.join(lacking[:5])}{' ...' if len(lacking) > 5 else ''}); "
                "use -c to score missing queries 0, or --force to test on the shared queries only"
            )


def compare_command(
    qrels: Annotated[str, typer.Argument(help="Qrels: TREC file (.gz ok), Parquet, JSONL.")],
    runs: Annotated[
        list[str],
        typer.Argument(help="Two or more runs (TREC file, .gz, ...); NAME=PATH names a run."),
    ],
    measure: Annotated[
        list[str],
        typer.Option("--measure", "-m", help="Measure (nDCG@10, AP, ndcg_cut.10, ...). Repeat."),
    ],
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", "-b", help="Compare every run to this one (name or path)."),
    ] = None,
    test: TestOption = "t",
    correction: CorrectionOption = "holm",
    alpha: AlphaOption = 0.05,
    permutations: PermutationsOption = 10_000,
    seed: SeedOption = 0,
    margin: Annotated[
        float,
        typer.Option(
            "--margin",
            help="Non-inferiority margin: test 'no worse than baseline by more than this'.",
        ),
    ] = 0.0,
    ci: CiOption = "t",
    family: FamilyOption = "all",
    complete: CompleteOption = False,
    rel_level: RelLevelOption = 1,
    judged_only: JudgedOnlyOption = False,
    max_results: MaxResultsOption = None,
    fmt: Annotated[
        CompareFormat, typer.Option("--format", "-f", help="Output format.")
    ] = CompareFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Compare runs scored on different query sets anyway."),
    ] = False,
    compat: CompatOption = Compat.v9,
    ignore_identical_ids: IgnoreIdenticalIdsOption = False,
    engine: EngineOption = EngineName.local,
    scheduler: SchedulerOption = None,
    workers: WorkersOption = None,
    shard_size: ShardSizeOption = None,
) -> None:
    """Paired significance tests between runs for every measure, with corrected p-values."""
    from irbench.engine.naming import split_run_args
    from irbench.errors import StatsError
    from irbench.stats.compare import compare_per_query, evaluate_per_query

    with user_errors():
        if len(runs) < 2:
            raise StatsError("compare needs at least two runs")
        runs, given = split_run_args(runs)
        table = evaluate_per_query(
            qrels,
            runs,
            measure,
            names=given,
            complete=complete,
            rel_level=rel_level,
            judged_only=judged_only,
            max_results=max_results,
            ignore_identical_ids=ignore_identical_ids,
            engine=open_engine(engine, scheduler, workers, shard_size),
            compat=compat.value,
        )
        names = list(dict.fromkeys(table["run"]))
        if not complete and not force:
            _guard_query_sets(table)
        base = baseline
        if base is not None and base not in names:
            if base in runs:
                base = names[runs.index(base)]
            else:
                raise StatsError(f"baseline {baseline!r} is not one of the runs {names}")
        df = compare_per_query(
            table,
            baseline=base,
            test=test,
            correction=correction,
            alpha=alpha,
            permutations=permutations,
            seed=seed,
            margin=margin,
            queries="zeros" if complete else "intersection",
            family="all" if family == "all" else "measure",
            ci=ci,
        )
        if fmt is CompareFormat.table and output is None:
            print_table(df)
            print(semantics_note(compat.value))
            return
        render = {
            CompareFormat.table: render_markdown,
            CompareFormat.csv: render_csv,
            CompareFormat.jsonl: render_jsonl,
            CompareFormat.markdown: render_markdown,
            CompareFormat.latex: render_latex,
        }[fmt]
        text = render(df)
        if output is not None:
            from irbench.io.atomic import atomic_text_writer

            with atomic_text_writer(output) as handle:  # never a truncated table
                handle.write(text)
        else:
            sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to the ``irbench`` app."""
    app.command("compare", epilog=EXAMPLES, no_args_is_help=True)(compare_command)

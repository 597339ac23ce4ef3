"""`irbench repro`: reproducibility measures (KTU, RBO, RMSE, ER, DeltaRI) between original
and reproduced runs, and the agreement of two qrels on the ordering of systems."""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import user_errors

RUNS_EXAMPLES = """
[bold]Examples[/] (shipped data: irbench/data/demo/dl19-passage)

  irbench repro runs qrels.txt.gz runs/tas-b.run.gz runs/repllama.run.gz
  irbench repro runs qrels.txt.gz ORIG_ADV REPRO_ADV --baseline-original ORIG_BASE \\
      --baseline-reproduced REPRO_BASE -m nDCG@10 -m AP --cutoff 10 --cutoff 1000 -f csv

KTU@k and RBO@k (p = --rbo-p) compare the document orderings per query (mean over queries);
RMSE compares per-query values of each measure; with both baseline runs, ER (effect ratio:
reproduced improvement / original improvement, 1 is perfect) and DeltaRI (original relative
improvement - reproduced one, 0 is perfect). Definitions as repro_eval (Breuer et al., SIGIR
2020). CSV/JSON columns: statistic, run, measure, original, reproduced, value, n_queries;
--per-query adds one row per query (run, measure, query_id, value).
"""

QRELS_EXAMPLES = """
[bold]Examples[/]

  irbench repro qrels human.qrels llm.qrels runs/*.run -m nDCG@10
  irbench repro qrels qrels.dl19.txt umbrela.qrels runs/*.run -f json

Each run is scored under both qrels; the systems' means are correlated: Kendall's tau-b
(scipy) and tau-AP (Yilmaz, Aslam & Robertson 2008; top-weighted). QRELS_A is the reference:
tau-AP(B vs A) judges B's order against A's; the symmetric variant averages both directions.
"""


class ReproFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from irbench.io.atomic import atomic_text_writer

    with atomic_text_writer(output) as fh:
        fh.write(text)


def _num(x: Any) -> str:
    if isinstance(x, float):
        return "" if math.isnan(x) else f"{x:.4f}"
    return str(x)


def _rich(title: str, df: Any, output: Path | None, note: str = "") -> None:
    """A rich table of *df* (and a note under it) on stdout, or as plain text into *output*."""
    import io

    from pandas.api.types import is_numeric_dtype
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col), justify="right" if is_numeric_dtype(df[col]) else "left")
    for row in df.itertuples(index=False):
        table.add_row(*(_num(v) for v in row))
    if output is None:
        console = Console()
        console.print(table)
        if note:
            console.print(note, highlight=False)
        return
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(table)
    _emit(console.export_text() + (note + "\n" if note else ""), output)


def _clean(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def runs_command(
    qrels: Annotated[str, typer.Argument(help="Qrels (file or dataset id).")],
    original: Annotated[str, typer.Argument(help="The original (advanced) run.")],
    reproduced: Annotated[str, typer.Argument(help="Its reproduction.")],
    baseline_original: Annotated[
        str | None, typer.Option("--baseline-original", help="The original baseline run.")
    ] = None,
    baseline_reproduced: Annotated[
        str | None, typer.Option("--baseline-reproduced", help="The reproduced baseline run.")
    ] = None,
    measure: Annotated[
        list[str] | None, typer.Option("--measure", "-m", help="Measure for RMSE/ER/DeltaRI.")
    ] = None,
    cutoff: Annotated[
        list[int] | None,
        typer.Option("--cutoff", "-k", min=1, help="KTU/RBO depth; repeat (10, 100, 1000)."),
    ] = None,
    rbo_p: Annotated[float, typer.Option("--rbo-p", help="RBO persistence p.")] = 0.95,
    complete: Annotated[
        bool, typer.Option("--complete", "-c", help="Score missing queries 0 (trec_eval -c).")
    ] = False,
    per_query: Annotated[
        bool, typer.Option("--per-query", help="Also output every query's KTU, RBO, delta.")
    ] = False,
    fmt: Annotated[ReproFormat, typer.Option("--format", "-f")] = ReproFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """Reproducibility of a run: KTU, RBO, RMSE, and ER / DeltaRI against a baseline pair."""
    from irbench.report.repro import reproduce

    with user_errors():
        res = reproduce(
            qrels,
            original,
            reproduced,
            baseline_original=baseline_original,
            baseline_reproduced=baseline_reproduced,
            measures=measure or ["nDCG@10"],
            cutoffs=cutoff or [10, 100, 1000],
            rbo_p=rbo_p,
            complete=complete,
        )
        if fmt is ReproFormat.json:
            data = res.to_json()
            if not per_query:
                data.pop("per_query")
            _emit(json.dumps(data, indent=2) + "\n", output)
        elif fmt is ReproFormat.csv:
            text = res.summary.to_csv(index=False, lineterminator="\n")
            if per_query:
                text += "\n" + res.per_query.to_csv(index=False, lineterminator="\n")
            _emit(text, output)
        else:
            _rich("reproducibility (repro_eval definitions)", res.summary, output)
            if per_query:
                _rich("per query", res.per_query, None)


def qrels_command(
    qrels_a: Annotated[str, typer.Argument(help="Reference qrels (e.g. human).")],
    qrels_b: Annotated[str, typer.Argument(help="Qrels to judge (e.g. LLM).")],
    runs: Annotated[list[str], typer.Argument(help="Two or more runs.")],
    measure: Annotated[str, typer.Option("--measure", "-m", help="Measure.")] = "nDCG@10",
    complete: Annotated[
        bool, typer.Option("--complete", "-c", help="Score missing queries 0 (trec_eval -c).")
    ] = False,
    fmt: Annotated[ReproFormat, typer.Option("--format", "-f")] = ReproFormat.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
) -> None:
    """Do two qrels order the systems alike? Kendall's tau and tau-AP of the runs' means."""
    from irbench.report.repro import qrels_agreement

    with user_errors():
        ag = qrels_agreement(qrels_a, qrels_b, runs, measure, complete=complete)
        if fmt is ReproFormat.json:
            data = {k: _clean(v) for k, v in ag.as_dict().items()}
            data["ranking"] = ag.systems.to_dict(orient="records")
            _emit(json.dumps(data, indent=2, default=str) + "\n", output)
        elif fmt is ReproFormat.csv:
            text = ag.systems.to_csv(index=False, lineterminator="\n") + "\n"
            stats = {k: v for k, v in ag.as_dict().items() if k not in ("measure", "systems")}
            text += "statistic,value\n" + "".join(f"{k},{v!r}\n" for k, v in stats.items())
            _emit(text, output)
        else:
            d = ag.as_dict()
            note = (
                f"Kendall tau-b {d['kendall_tau']:.4f} (p {d['kendall_p']:.4g}); tau-AP B vs A "
                f"{d['tau_ap_b_vs_a']:.4f}, A vs B {d['tau_ap_a_vs_b']:.4f}, symmetric "
                f"{d['tau_ap_symmetric']:.4f}"
            )
            _rich(f"systems by {ag.measure} under A and B", ag.systems, output, note)


def register(app: typer.Typer) -> None:
    """Add the ``repro`` command group to the ``irbench`` app."""
    group = typer.Typer(
        name="repro",
        help="Reproducibility: compare a reproduced run with the original (KTU, RBO, RMSE, ER, "
        "DeltaRI), or two qrels' orderings of systems (Kendall's tau, tau-AP).",
        no_args_is_help=True,
        rich_markup_mode="rich",
    )
    group.command("runs", epilog=RUNS_EXAMPLES, no_args_is_help=True)(runs_command)
    group.command("qrels", epilog=QRELS_EXAMPLES, no_args_is_help=True)(qrels_command)
    app.add_typer(group, name="repro")

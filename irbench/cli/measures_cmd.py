"""`irbench measures`: what each measure means, its parameters and its trec_eval name."""

from __future__ import annotations

from typing import Annotated

import typer


def measures_command(
    name: Annotated[
        str | None, typer.Argument(help="Show one measure (e.g. nDCG or nDCG@10).")
    ] = None,
) -> None:
    """List the measures irbench computes, with their definitions."""
    from rich.console import Console
    from rich.table import Table

    from irbench.cli.common import user_errors
    from irbench.measures import CATALOG
    from irbench.measures.spec import family_name

    console = Console()
    families = list(CATALOG.values())
    if name:
        with user_errors():
            families = [CATALOG[family_name(name)]]
    table = Table(show_lines=True, header_style="bold")
    table.add_column("measure", style="cyan", no_wrap=True)
    table.add_column("definition")
    table.add_column("parameters")
    table.add_column("trec_eval", no_wrap=True)
    for fam in families:
        spelled = fam.name + (
            "@k" if fam.cutoff == "int" else "@r" if fam.cutoff == "float" else ""
        )
        if fam.cutoff and not fam.cutoff_required:
            spelled = f"{fam.name}, {spelled}"
        params = "\n".join(
            f"{k} (default {spec.default!r}): {spec.doc}" for k, spec in fam.params.items()
        )
        trec = ", ".join(
            x for x in (fam.trec_name, f"{fam.trec_cut_name}.k" if fam.trec_cut_name else None) if x
        )
        agg = {"sum": " Aggregate: sum.", "gmean": " Aggregate: geometric mean."}.get(
            fam.aggregate, ""
        )
        table.add_row(
            spelled,
            f"[bold]{fam.title}[/]. {fam.definition}{agg}\n[dim]{fam.source}[/]",
            params or "-",
            trec or "-",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("measures")(measures_command)

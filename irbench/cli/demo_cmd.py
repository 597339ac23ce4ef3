"""`irbench demo`: the main job on data shipped inside the package, offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

DEMO_MEASURES = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10", "R(rel=2)@100", "P(rel=2)@10"]


def demo_dir() -> Path:
    """Folder of the packaged TREC DL 2019 passage demo (qrels and six runs)."""
    return Path(str(resources.files("irbench") / "data" / "demo" / "dl19-passage"))


def demo_command() -> None:
    """Evaluate six real TREC DL 2019 passage runs shipped with irbench (no network needed)."""
    from rich.console import Console

    from irbench.cli.common import user_errors
    from irbench.cli.eval_cmd import _print_table
    from irbench.engine import Evaluator

    console = Console()
    root = demo_dir()
    runs = sorted((root / "runs").glob("*.run.gz"))
    console.print(
        f"[bold]TREC DL 2019 passage[/]: {len(runs)} runs, qrels {root / 'qrels.txt.gz'}\n"
        "[dim]MAP, RR and R use grade >= 2 as relevant, as the track does; nDCG uses the grades.[/]"
    )
    names = [path.name.removesuffix(".run.gz") for path in runs]
    with user_errors():
        ev = Evaluator(root / "qrels.txt.gz", DEMO_MEASURES)
        scores = [ev.score(path, name=name) for path, name in zip(runs, names, strict=True)]
        _print_table(scores, ev.measures, per_query=False)

        from irbench.cli.compare_cmd import print_table
        from irbench.stats import compare

        console.print(
            "\n[bold]Against BM25[/]: paired t-test per query, Holm correction over all "
            "comparisons, 95% intervals"
        )
        result = compare(
            root / "qrels.txt.gz",
            runs,
            DEMO_MEASURES[:2],
            names=names,
            baseline="bm25",
            test="t",
            correction="holm",
        )
        print_table(result)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)

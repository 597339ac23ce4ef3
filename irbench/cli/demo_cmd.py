"""`irbench demo`: the main job on data shipped inside the package, offline."""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer

DEMO_MEASURES = ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10", "R(rel=2)@100", "P(rel=2)@10"]


def demo_dir() -> Path:
    """Folder of the packaged TREC DL 2019 passage demo (qrels and six runs)."""
    return Path(str(resources.files("irbench") / "data" / "demo" / "dl19-passage"))


VASWANI_MEASURES = ["nDCG@10", "AP", "P@10", "R@1000"]


def demo_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for the runs and the leaderboard.")
    ] = Path("runs"),
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Cache folder for indexes.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace runs in the folder that were made another way."),
    ] = False,
) -> None:
    """The main job, offline: index the shipped Vaswani collection with BM25 and a static dense
    encoder, fuse them, evaluate, test and write a leaderboard; then score six real TREC DL
    2019 runs."""
    from rich.console import Console

    from irbench.cli.common import user_errors

    console = Console()
    with user_errors():
        _vaswani(console, output, cache_dir, force)
        _dl19(console)


def _vaswani(console: Any, output: Path, cache_dir: Path | None, force: bool = False) -> None:
    from irbench.cli.compare_cmd import print_table
    from irbench.cli.eval_output import print_scores_table
    from irbench.cli.run_cmd import fused_output, rich_progress
    from irbench.io import read_run
    from irbench.io.atomic import atomic_text_writer
    from irbench.rankers.runner import fuse_runs, run_ranker
    from irbench.report import render
    from irbench.report.leaderboard import DatasetSpec, build_leaderboard

    console.print(
        "[bold]Vaswani[/] (11,429 physics abstracts, 93 queries, shipped with irbench): "
        "BM25, a static dense encoder distilled from MiniLM, and their reciprocal rank fusion"
    )
    started = time.perf_counter()
    paths: dict[str, Path] = {}
    with rich_progress() as progress:
        for ranker in ("bm25", "dense"):
            run_ranker(
                ranker,
                dataset="vaswani",
                k=1000,
                output=output / f"vaswani-{ranker}.run",
                cache_dir=cache_dir,
                progress=progress,
                force=force,
            )
            paths[ranker] = output / f"vaswani-{ranker}.run"
    # the names `irbench run` gives: the demo rewrites its own runs, never other runs there
    fused = output / fused_output("rrf", [paths["bm25"], paths["dense"]]).name
    fuse_runs([paths["bm25"], paths["dense"]], "rrf", output=fused, force=force)
    paths["rrf"] = fused
    console.print(
        f"[dim]runs written to {output}/ with .meta.json sidecars "
        f"({time.perf_counter() - started:.1f} s)[/]"
    )
    names = list(paths)
    runs = [read_run(paths[n]) for n in names]
    # The leaderboard scores each run once; the table and the tests below reuse those scores.
    board = build_leaderboard(
        [DatasetSpec("vaswani", "vaswani", list(runs), names)],
        VASWANI_MEASURES,
        baseline="bm25",
    )
    scores = [run.scores for run in board.datasets[0].runs]
    print_scores_table(scores, board.datasets[0].measures, per_query=False)
    console.print("\n[bold]Against BM25[/]: paired t-test, Holm correction, 95% intervals")
    print_table(_compare(scores, board.datasets[0].measures[:2]))
    target = output / "leaderboard-vaswani.csv"
    with atomic_text_writer(target) as fh:
        fh.write(render.leaderboard_csv(board))
    console.print(f"[dim]leaderboard written to {target}[/]\n")


def _compare(scores: list[Any], measures: list[Any]) -> Any:
    """Paired t-tests of every run against ``bm25`` with Holm's correction, from the per-query
    values already computed."""
    import pyarrow as pa

    from irbench.engine.scores import results_table
    from irbench.stats import compare_per_query

    per_query = pa.concat_tables([results_table(s, per_query=True) for s in scores])
    return compare_per_query(
        per_query,
        baseline="bm25",
        measures=[str(m) for m in measures],
        test="t",
        correction="holm",
    )


def demo_runs(root: Path) -> list[Path]:
    """The demo's run files, the baseline (``bm25``) first, then the others by name (a plain
    sort of the file names would put ``bm25-rm3.run.gz`` before ``bm25.run.gz``)."""
    runs = sorted((root / "runs").glob("*.run.gz"), key=lambda p: p.name.removesuffix(".run.gz"))
    return sorted(runs, key=lambda p: p.name != "bm25.run.gz")


def _dl19(console: Any) -> None:
    from irbench.cli.compare_cmd import print_table
    from irbench.cli.eval_output import print_scores_table
    from irbench.engine import Evaluator
    from irbench.engine.naming import name_runs
    from irbench.io import read_run

    root = demo_dir()
    runs = demo_runs(root)
    console.print(
        f"[bold]TREC DL 2019 passage[/]: {len(runs)} runs, qrels {root / 'qrels.txt.gz'}\n"
        "[dim]MAP, RR and R use grade >= 2 as relevant, as the track does; nDCG uses the grades.[/]"
    )
    names = name_runs(runs)  # the names `irbench eval` gives these files
    tables = [read_run(path) for path in runs]  # parsed once for the table and the tests
    ev = Evaluator(root / "qrels.txt.gz", DEMO_MEASURES)
    scores = [ev.score_table(run, name=name) for run, name in zip(tables, names, strict=True)]
    print_scores_table(scores, ev.measures, per_query=False)
    console.print(
        "\n[bold]Against BM25[/]: paired t-test per query, Holm correction over all "
        "comparisons, 95% intervals"
    )
    print_table(_compare(scores, ev.measures[:2]))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)

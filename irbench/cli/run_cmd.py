"""`irbench run`: make a run file with a ranker (BM25, dense), a re-ranker or a fusion."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import err_console, user_errors

FUSION = ("rrf", "combsum", "combmnz")

EXAMPLES = """
[bold]Examples[/]

  irbench run bm25 --dataset vaswani                          [dim]# -> runs/vaswani-bm25.run[/]
  irbench run bm25 --dataset vaswani -p k1=1.2 -p b=0.75 -k 100
  irbench run dense --dataset vaswani                         [dim]# static encoder, shipped[/]
  irbench run dense --dataset vaswani -p encoder=minilm       [dim]# needs irbench-eval\\[minilm][/]
  irbench run dense --dataset vaswani --rerank runs/vaswani-bm25.run --depth 100
  irbench run rrf --input runs/vaswani-bm25.run --input runs/vaswani-dense.run
  irbench run combmnz -i a.run -i b.run -p norm=zscore -p weights=0.7,0.3
  irbench run --list                                          [dim]# rankers and their parameters[/]

Rankers index the dataset's corpus once; the index is cached under
qrels_cache/indexes/ (or --cache-dir) and rebuilt only when the corpus or an index
parameter changes. Each run file gets a sidecar RUN.meta.json recording the ranker, its
parameters, the dataset, input fingerprints, the irbench version and the wall time.
Fusion (rrf, combsum, combmnz) takes two or more --input runs; parameters: rrf_k (60),
norm (minmax|zscore|sum|none), weights (comma-separated), depth (use each run's top n).
"""


class RichProgress:
    """:class:`irbench.rankers.base.Progress` on a rich progress bar (stderr)."""

    def __init__(self, progress: Any) -> None:
        self._progress = progress

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Any]:
        task_id = self._progress.add_task(description, total=total)
        progress = self._progress

        class _Task:
            def advance(self, n: int = 1) -> None:
                progress.advance(task_id, n)

        try:
            yield _Task()
        finally:
            if total is not None:
                progress.update(task_id, completed=total)
            progress.stop_task(task_id)


@contextmanager
def rich_progress(enabled: bool = True) -> Iterator[Any]:
    from irbench.rankers.base import NULL_PROGRESS

    if not enabled:
        yield NULL_PROGRESS
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=False,
    ) as bar:
        yield RichProgress(bar)


def _parse_params(items: list[str]) -> dict[str, str]:
    from irbench.errors import RankerError

    params: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RankerError(f"--param expects KEY=VALUE, got {item!r} (for example -p k1=0.9)")
        params[key.strip()] = value.strip()
    return params


def _default_output(ranker: str, dataset: str | None) -> Path:
    stem = ranker if dataset is None else f"{dataset.replace('/', '-')}-{ranker}"
    return Path("runs") / f"{stem}.run"


def _print_list() -> None:
    from rich.table import Table

    from irbench.rankers.registry import describe_params, list_rankers, ranker_class

    table = Table(title="rankers (irbench run NAME)")
    table.add_column("name")
    table.add_column("what")
    table.add_column("parameters (-p KEY=VALUE)")
    for name, doc in list_rankers().items():
        try:
            params = describe_params(ranker_class(name))
        except Exception as err:  # a broken plugin is listed, not fatal
            params = str(err)
        table.add_row(name, doc, params)
    table.add_row("rrf", "Reciprocal rank fusion of --input runs", "rrf_k=60, weights, depth")
    table.add_row("combsum", "CombSUM of normalised scores", "norm=minmax, weights, depth")
    table.add_row("combmnz", "CombMNZ: CombSUM x number of runs", "norm=minmax, weights, depth")
    from rich.console import Console

    Console().print(table)


def run_command(
    ranker: Annotated[
        str | None,
        typer.Argument(help="bm25, dense, rrf, combsum, combmnz or a plugin (see --list)."),
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", "-d", help="Dataset id whose corpus and queries to use."),
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(
            "--queries", help="Queries file (qid<TAB>text, JSONL or Parquet) to use instead."
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Ranker parameter KEY=VALUE (repeat)."),
    ] = None,
    k: Annotated[int, typer.Option("-k", help="Documents per query.")] = 1000,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Run file ('-' for stdout). Default runs/DATASET-RANKER.run."
        ),
    ] = None,
    rerank: Annotated[
        Path | None,
        typer.Option("--rerank", help="Re-score the top --depth documents of this run instead."),
    ] = None,
    depth: Annotated[int, typer.Option("--depth", help="Re-ranking depth.")] = 100,
    inputs: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help="A run to fuse (rrf, combsum, combmnz); repeat."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run tag (6th column). Default: the ranker.")
    ] = None,
    cache_dir: Annotated[
        Path | None, typer.Option("--cache-dir", help="Cache folder for datasets and indexes.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Never download (IRBENCH_OFFLINE=1).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    list_: Annotated[bool, typer.Option("--list", help="List rankers and parameters.")] = False,
) -> None:
    """Make a run file: retrieve with a ranker, re-rank a run, or fuse runs.

    The run is written atomically in TREC format with a .meta.json sidecar saying how it was
    made.
    """
    from irbench.errors import RankerError

    if list_:
        with user_errors():
            _print_list()
        return
    console = err_console()
    with user_errors():
        if not ranker:
            raise RankerError("name a ranker (irbench run --list shows them)")
        params = _parse_params(param or [])
        if ranker in FUSION:
            result = _fuse(ranker, params, inputs or [], k, output, name)
        else:
            if inputs:
                raise RankerError(
                    f"--input is for fusion (rrf, combsum, combmnz); to re-rank with {ranker} "
                    "use --rerank RUN"
                )
            from irbench.rankers.registry import get_ranker
            from irbench.rankers.runner import run_ranker

            model = get_ranker(ranker, **params)
            target = output if output is not None else str(_default_output(ranker, dataset))
            with rich_progress(not quiet) as progress:
                result = run_ranker(
                    model,
                    dataset=dataset,
                    queries=queries,
                    k=k,
                    rerank=rerank,
                    depth=depth,
                    output=target,
                    name=name,
                    cache_dir=cache_dir,
                    offline=True if offline else None,
                    progress=progress,
                )
        meta = result.metadata
        for event in result.events:
            console.print(f"[dim]{event}[/]", soft_wrap=True)
        where = str(result.path) if result.path is not None else "stdout"
        console.print(
            f"wrote {where}: {meta['queries']:,} queries, {meta['rows']:,} rows "
            f"({meta['ranker']}, {meta['wall_time_s']:.2f} s)",
            soft_wrap=True,
        )


def _fuse(
    method: str,
    params: dict[str, str],
    inputs: list[Path],
    k: int,
    output: str | None,
    name: str | None,
) -> Any:
    from irbench.errors import RankerError
    from irbench.rankers.registry import coerce
    from irbench.rankers.runner import fuse_runs

    allowed = {"rrf_k", "weights", "depth"} | ({"norm"} if method != "rrf" else set())
    unknown = set(params) - allowed
    if unknown:
        raise RankerError(
            f"{method} has no parameter {', '.join(sorted(unknown))} "
            f"(its parameters: {', '.join(sorted(allowed))})"
        )
    weights = None
    if "weights" in params:
        weights = [coerce(w, float, f"{method} weight") for w in params["weights"].split(",")]
    depth = coerce(params["depth"], int, f"{method} depth") if "depth" in params else None
    return fuse_runs(
        inputs,
        method,
        norm=params.get("norm", "minmax"),
        rrf_k=coerce(params.get("rrf_k", "60"), float, "rrf_k"),
        weights=weights,
        depth=depth,
        k=k,
        output=output if output is not None else str(_default_output(method, None)),
        name=name,
    )


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to the ``irbench`` app."""
    app.command("run", epilog=EXAMPLES)(run_command)

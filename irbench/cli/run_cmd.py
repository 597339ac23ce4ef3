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
      [dim]# -> runs/vaswani-dense-rerank-bm25-d100.run[/]
  irbench run rrf --input runs/vaswani-bm25.run --input runs/vaswani-dense.run
      [dim]# -> runs/vaswani-rrf-bm25+dense.run[/]
  irbench run bm25 --dataset vaswani -p k1=1.2 -o runs/vaswani-bm25-k1.2.run
  irbench run combmnz -i a.run -i b.run -p norm=zscore -p weights=0.7,0.3
  irbench run --list                                          [dim]# rankers and their parameters[/]
  irbench run bm25 -d vaswani --engine dask --workers 4       [dim]# query shards, local cluster[/]
  irbench run dense -d vaswani --engine dask --scheduler tcp://host:8786 --shard corpus

Rankers index the dataset's corpus once; the index is cached under
qrels_cache/indexes/ (or --cache-dir) and rebuilt only when the corpus or an index
parameter changes. Each run file gets a sidecar RUN.meta.json recording the ranker, its
parameters, the dataset, input fingerprints, the irbench version and the wall time.
Runs are results: an existing run file made by another ranker, other parameters or other
inputs (as its sidecar says) is never replaced unless --force; give -o another file instead.
Rewriting a run made the same way is fine.
Per-query latency goes to RUN.latency.csv (query_id, seconds, candidates when re-ranking;
summary in the sidecar's "latency" section): each call of the ranker on --latency-batch
queries is timed and its time divided by its queries (default: 1 query per call when
re-ranking, one call for all when retrieving). irbench leaderboard --latency shows it.
Fusion (rrf, combsum, combmnz) takes two or more --input runs; parameters: rrf_k (60),
norm (minmax|zscore|sum|none), weights (comma-separated), depth (use each run's top n).

[bold]Dask engine[/] (pip install 'irbench-eval\\[dask]'): --engine dask retrieves on a Dask
cluster, an existing one (--scheduler ADDRESS or a scheduler .json file) or a local one of
--workers processes, and writes the same run file as the local engine, byte for byte.
--shard queries (default) splits the queries: the cached index is loaded once per worker,
so its folder (--cache-dir) must be on a filesystem the workers share. --shard corpus
(bm25, dense with index_type=flat) splits the corpus: each worker indexes its document
range from the cached corpus (again a shared folder), every query is searched on every
shard and the shards' top k are merged exactly. --shards N sets the number of shards
(default one per worker). A failed shard fails the command, naming the shard; no run file
is written. The .meta.json sidecar records the engine and the shard layout.
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
            else:  # an unknown total is known at the end: a full bar, "n/n"
                done = progress.tasks[progress.task_ids.index(task_id)].completed
                progress.update(task_id, total=done, completed=done)
            progress.stop_task(task_id)


@contextmanager
def rich_progress(enabled: bool = True) -> Iterator[Any]:
    from irbench.rankers.base import NULL_PROGRESS

    if not enabled:
        yield NULL_PROGRESS
        return
    from rich.progress import (
        BarColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class CountColumn(ProgressColumn):
        """``done/total``, or ``done`` alone while the total is unknown (never ``n/?``)."""

        def render(self, task: Any) -> Text:
            done = int(task.completed)
            text = f"{done:,}" if task.total is None else f"{done:,}/{int(task.total):,}"
            return Text(text, style="progress.download")

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),  # pulses while the total is unknown
        CountColumn(),
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


def default_output(
    ranker: str, dataset: str | None, *, rerank: Path | None = None, depth: int = 100
) -> Path:
    """``runs/DATASET-RANKER.run``; a re-ranking says what it re-ranked and how deep
    (``runs/vaswani-dense-rerank-bm25-d100.run``)."""
    prefix = "" if dataset is None else f"{dataset.replace('/', '-')}-"
    stem = f"{prefix}{ranker}"
    if rerank is not None:
        first = _run_label(rerank)
        if prefix and first.startswith(prefix) and len(first) > len(prefix):
            first = first[len(prefix) :]
        stem += f"-rerank-{first}-d{depth}"
    return Path("runs") / f"{stem}.run"


def fused_output(method: str, inputs: list[Path]) -> Path:
    """``runs/METHOD-A+B.run``, after the dash-separated prefix the inputs share
    (``runs/vaswani-bm25.run`` + ``runs/vaswani-dense.run`` -> ``runs/vaswani-rrf-bm25+dense.run``)."""
    labels = [_run_label(path).split("-") for path in inputs]
    shared = 0
    while all(len(parts) > shared + 1 for parts in labels) and (
        len({parts[shared] for parts in labels}) == 1
    ):
        shared += 1
    prefix = "".join(f"{part}-" for part in labels[0][:shared]) if labels else ""
    rest = "+".join("-".join(parts[shared:]) for parts in labels)
    return Path("runs") / f"{prefix}{method}-{rest}.run"


def _run_label(path: Path) -> str:
    """A run file's name without folder and suffixes (``runs/bm25.run.gz`` -> ``bm25``)."""
    from irbench.io import stem_of

    return stem_of(path)


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
            "--output",
            "-o",
            help="Run file ('-' for stdout). Default runs/DATASET-RANKER.run; re-ranking: "
            "runs/DATASET-RANKER-rerank-INPUT-dDEPTH.run; fusion: runs/METHOD-RUN1+RUN2.run "
            "(with the runs' common prefix first: runs/vaswani-rrf-bm25+dense.run).",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the output run even if it was made another way."),
    ] = False,
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
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="local (this process, default) or dask (a Dask cluster; see below)."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address (tcp://host:8786) or scheduler file (.json); "
            "default: start a local cluster.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Worker processes of the local cluster (default: cores)."),
    ] = None,
    shard: Annotated[
        str,
        typer.Option(
            "--shard",
            help="What to split across workers: queries (each loads the whole index) or "
            "corpus (each indexes a document range; bm25 and flat dense).",
        ),
    ] = "queries",
    shards: Annotated[
        int | None,
        typer.Option("--shards", help="Number of shards (default: one per worker)."),
    ] = None,
    latency_batch: Annotated[
        int | None,
        typer.Option(
            "--latency-batch",
            min=0,
            help="Queries per timed ranker call for RUN.latency.csv (per-query time = batch "
            "time / batch size). Default: 1 when re-ranking, all queries in one call when "
            "retrieving; 0: one call.",
        ),
    ] = None,
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
        dask = _dask_options(engine, scheduler, workers, shard, shards)
        if ranker in FUSION:
            if dask is not None:
                raise RankerError(f"{ranker} fuses run files locally: leave out --engine dask")
            result = _fuse(ranker, params, inputs or [], k, output, name, force)
        else:
            if inputs:
                raise RankerError(
                    f"--input is for fusion (rrf, combsum, combmnz); to re-rank with {ranker} "
                    "use --rerank RUN"
                )
            from irbench.rankers.registry import get_ranker
            from irbench.rankers.runner import run_ranker

            model = get_ranker(ranker, **params)
            target = output
            if target is None:
                target = str(default_output(ranker, dataset, rerank=rerank, depth=depth))
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
                    dask=dask,
                    force=force,
                    latency_batch=latency_batch,
                )
        meta = result.metadata
        for event in result.events:
            console.print(f"[dim]{event}[/]", soft_wrap=True)
        where = str(result.path) if result.path is not None else "stdout"
        layout = meta.get("layout")
        on = f", {layout['shards']} {layout['shard']} shards on dask" if layout else ""
        console.print(
            f"wrote {where}: {meta['queries']:,} queries, {meta['rows']:,} rows "
            f"({meta['ranker']}{on}, {meta['wall_time_s']:.2f} s)",
            soft_wrap=True,
        )


def _dask_options(
    engine: str, scheduler: str | None, workers: int | None, shard: str, shards: int | None
) -> Any:
    """A :class:`~irbench.distributed.retrieval.DaskRetrieval` for ``--engine dask``, else None."""
    from irbench.errors import RankerError

    if engine == "local":
        given = [
            name
            for name, value in (
                ("--scheduler", scheduler),
                ("--workers", workers),
                ("--shards", shards),
                ("--shard", None if shard == "queries" else shard),
            )
            if value is not None
        ]
        if given:
            raise RankerError(f"{', '.join(given)} need --engine dask (the engine is local)")
        return None
    if engine != "dask":
        raise RankerError(f"--engine must be local or dask, got {engine!r}")
    from irbench.distributed.cluster import require_distributed
    from irbench.distributed.retrieval import DaskRetrieval

    require_distributed()
    return DaskRetrieval(scheduler=scheduler, workers=workers, shard=shard, shards=shards)


def _fuse(
    method: str,
    params: dict[str, str],
    inputs: list[Path],
    k: int,
    output: str | None,
    name: str | None,
    force: bool,
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
        output=output if output is not None else str(fused_output(method, inputs)),
        name=name,
        force=force,
    )


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to the ``irbench`` app."""
    app.command("run", epilog=EXAMPLES)(run_command)

"""`irbench datasets list|info|export|import`: registered datasets as cached Arrow tables."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from irbench.cli.common import err_console, user_errors

EXAMPLES = """
[bold]Examples[/]

  irbench datasets list --family beir
  irbench datasets import msmarco-passage/trec-dl-2019/judged qrels.dl19-passage.txt topics.dl19-passage.txt
  irbench datasets import beir/scifact/test scifact.zip
  irbench datasets info beir/scifact/test --format json
  irbench datasets export vaswani -o vaswani/ --format trec
  irbench eval msmarco-passage/trec-dl-2019/judged run.txt -m nDCG@10   [dim]# ids work as qrels[/]

Files live where ir_datasets expects them ($IR_DATASETS_HOME, default ~/.ir_datasets); tables are
cached as Parquet in --cache-dir, $IRBENCH_CACHE or ./qrels_cache. Set IRBENCH_OFFLINE=1 (or
--offline) to never download: a missing file is then reported with the path to put it at.
"""

app = typer.Typer(
    name="datasets",
    help="Dataset adapters: MS MARCO, TREC DL, BEIR, classic collections.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    epilog=EXAMPLES,
)

CacheDir = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Cache folder (default: $IRBENCH_CACHE or ./qrels_cache)."),
]
Offline = Annotated[
    bool,
    typer.Option(
        "--offline", help="Never download; report missing files (also IRBENCH_OFFLINE=1)."
    ),
]


class InfoFormat(str, Enum):
    table = "table"
    json = "json"


class ExportFormat(str, Enum):
    parquet = "parquet"
    trec = "trec"


def _report(events: list[str]) -> None:
    console = err_console()
    for event in events:
        console.print(f"[dim]{event}[/]", soft_wrap=True, markup=True)


@app.command("list")
def list_command(
    family: Annotated[
        str | None, typer.Option("--family", help="Only msmarco, trec-dl, beir or classic.")
    ] = None,
    fmt: Annotated[InfoFormat, typer.Option("--format", "-f")] = InfoFormat.table,
) -> None:
    """List every dataset id irbench knows (tab-separated plain text when piped)."""
    from irbench.datasets import list_specs

    specs = list_specs(family)
    if fmt is InfoFormat.json:
        rows = [
            {
                "id": s.id,
                "family": s.family,
                "backend": s.backend,
                "title": s.title,
                "parts": list(s.parts),
            }
            for s in specs
        ]
        typer.echo(json.dumps(rows, indent=1))
        return
    listing = [(s.id, s.family, _SOURCES[s.backend], s.title) for s in specs]
    if not sys.stdout.isatty():  # a pipe or a file: plain text, one dataset a line
        for row in listing:
            typer.echo("\t".join(row))
        return
    from rich.console import Console

    Console().print(_list_table(listing))


_SOURCES = {"irds": "ir_datasets", "native": "irbench", "embedded": "built in"}


def _list_table(rows: list[tuple[str, str, str, str]]) -> Any:
    """The terminal listing: ids, families and sources never cut; descriptions wrap."""
    from rich.table import Table

    table = Table(box=None)
    widest = max((len(r[0]) for r in rows), default=2)
    table.add_column("id", no_wrap=True, min_width=widest)
    table.add_column("family", no_wrap=True)
    table.add_column("source", no_wrap=True)
    table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


@app.command("info")
def info_command(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id (see `irbench datasets list`).")],
    fmt: Annotated[InfoFormat, typer.Option("--format", "-f")] = InfoFormat.table,
    docs: Annotated[
        bool, typer.Option("--docs/--no-docs", help="Count the corpus (builds its cache once).")
    ] = True,
    cache_dir: CacheDir = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Accepted for symmetry: info never downloads.")
    ] = True,
) -> None:
    """Counts of queries, qrels and docs, the cache path, and where the source files are.

    Never downloads: a part whose files are not on disk (nor in the cache) is listed as
    missing, with the path to put each file at. Counts come from the cache, or from the files
    on disk (building the cache once).
    """
    from irbench.datasets import load_dataset
    from irbench.errors import DatasetFilesMissingError

    with user_errors():
        ds = load_dataset(dataset_id, cache_dir=cache_dir, offline=True)
        info: dict[str, Any] = {"id": ds.id, "title": ds.spec.title, "backend": ds.spec.backend}
        missing: dict[str, list[dict[str, str]]] = {}
        for part in ("queries", "qrels", "docs"):
            info[part] = None
            if not ds.has(part) or (part == "docs" and not docs):
                continue
            try:
                info[part] = ds.count(part)
            except DatasetFilesMissingError as exc:
                missing[part] = [{"path": p, "what": w} for p, w in exc.missing]
        info["cache"] = str(ds.cache_path())
        info["files"] = {
            part: [str(f.path) for f in ds.source_files(part)]
            for part in ("queries", "qrels", "docs")
        }
        if missing:
            info["missing"] = missing
        info["events"] = ds.events
    if fmt is InfoFormat.json:
        typer.echo(json.dumps(info, indent=1))
        return
    _report(ds.events)
    for key in ("id", "title", "queries", "qrels", "docs", "cache"):
        value = info[key]
        shown = "-" if value is None else (f"{value:,}" if isinstance(value, int) else value)
        typer.echo(f"{key:8} {shown}")
    for part, files in info["files"].items():
        for f in files:
            typer.echo(f"{'file':8} {part}: {f}")
    for part, files in missing.items():
        for m in files:
            typer.echo(f"{'missing':8} {part}: {m['path']} ({m['what']})")


@app.command("export")
def export_command(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write into.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.parquet,
    part: Annotated[
        list[str] | None,
        typer.Option(
            "--part", "-p", help="queries, qrels or docs; repeat; default: all there are."
        ),
    ] = None,
    cache_dir: CacheDir = None,
    offline: Offline = False,
) -> None:
    """Write queries, qrels and docs as Parquet, or as TREC files (qrels, TSV topics, JSONL docs)."""
    from irbench.datasets import load_dataset

    with user_errors():
        ds = load_dataset(dataset_id, cache_dir=cache_dir, offline=offline or None)
        parts = part or [p for p in ("queries", "qrels", "docs") if ds.has(p)]
        for p in parts:
            if p not in ("queries", "qrels", "docs"):
                raise typer.BadParameter(f"unknown part {p!r}: use queries, qrels or docs")
        written = [_export(ds, p, output, fmt) for p in parts]
    _report(ds.events)
    for path in written:
        typer.echo(str(path))


def _export(ds: Any, part: str, output: Path, fmt: ExportFormat) -> Path:
    from irbench.io.atomic import atomic_text_writer

    slug = ds.id.replace("/", "__")
    if fmt is ExportFormat.parquet:
        import pyarrow.parquet as pq

        from irbench.io.atomic import atomic_output

        path = output / f"{slug}.{part}.parquet"
        with atomic_output(path) as handle:
            if part == "docs":
                from irbench.datasets.formats import DOCS_SCHEMA

                with pq.ParquetWriter(handle, DOCS_SCHEMA, compression="zstd") as writer:
                    for batch in ds.docs_batches():
                        writer.write_batch(batch)
            else:
                pq.write_table(getattr(ds, part)(), handle, compression="zstd")
        return path
    suffix = {"qrels": "qrels.txt", "queries": "queries.tsv", "docs": "docs.jsonl"}[part]
    path = output / f"{slug}.{suffix}"
    with atomic_text_writer(path) as out:
        if part == "qrels":
            for q, d, r in _rows(ds.qrels(), ("query_id", "doc_id", "relevance")):
                out.write(f"{q} 0 {d} {r}\n")
        elif part == "queries":
            for q, t in _rows(ds.queries(), ("query_id", "text")):
                out.write(f"{q}\t{' '.join(str(t).split())}\n")
        else:
            for batch in ds.docs_batches():
                for row in batch.to_pylist():
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _rows(table: Any, columns: tuple[str, ...]) -> Any:
    return zip(*(table.column(c).to_pylist() for c in columns), strict=True)


@app.command("import")
def import_command(
    dataset_id: Annotated[str, typer.Argument(help="Dataset id.")],
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files (role from name/content, or qrels=PATH, queries=PATH, docs=PATH), "
            "a BEIR zip or a BEIR folder."
        ),
    ],
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Destination root (default: $IR_DATASETS_HOME or ~/.ir_datasets)."
        ),
    ] = None,
) -> None:
    """Put files you already have where irbench and ir_datasets will find them (no network)."""
    from irbench.datasets import import_files

    with user_errors():
        placed = import_files(dataset_id, paths, home=str(home) if home else None)
    for role, path in placed:
        typer.echo(f"{role:8} {path}")
    print(f"imported {len(placed)} file(s) for {dataset_id}", file=sys.stderr)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="datasets")

"""Run a ranker end to end: index (cached), retrieve or re-rank or fuse, write the run and its
metadata sidecar.

Indexes live in ``<cache>/indexes/<dataset>/<ranker>-<key>/`` (``<cache>`` as for datasets:
``--cache-dir``, ``$IRBENCH_CACHE`` or ``./qrels_cache``). The key hashes the ranker's
index parameters, the corpus fingerprint and the index format, so a changed corpus or
parameter never reuses a stale index. An index is built in a temporary folder beside its
final place and renamed into place when complete: an interrupted build leaves nothing behind.

Every run file written here gets a sidecar ``<run file>.meta.json`` that says how it was
made (ranker, parameters, dataset, fingerprints of the inputs, irbench version, wall time), and
both are written atomically. Runs are results: a run file is never replaced by a run made
another way (:func:`check_overwrite` compares the sidecars) unless ``force`` is given.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from irbench._arrow import read_parquet
from irbench._version import __version__
from irbench.errors import RankerError, RunExistsError
from irbench.io.latency import METADATA_SUFFIX, latency_path, write_latency
from irbench.rankers.base import NULL_PROGRESS, Progress, file_sha256
from irbench.rankers.timing import QueryTimes, timed_rerank, timed_retrieve

__all__ = [
    "METADATA_SUFFIX",
    "RunResult",
    "check_overwrite",
    "ensure_index",
    "fuse_runs",
    "metadata_path",
    "read_queries",
    "run_identity",
    "run_ranker",
    "write_run_with_metadata",
]

_INDEX_FORMAT = "1"


@dataclass
class RunResult:
    """A run made by :func:`run_ranker` or :func:`fuse_runs`."""

    table: pa.Table
    metadata: dict[str, Any]
    path: Path | None = None
    index: Path | None = None
    events: list[str] = field(default_factory=list)


def metadata_path(run_path: str | os.PathLike[str]) -> Path:
    """Where the metadata sidecar of *run_path* lives (``<run file>.meta.json``)."""
    return Path(os.fspath(run_path) + METADATA_SUFFIX)


def table_sha256(table: pa.Table) -> str:
    """A digest of a table's content (Arrow IPC bytes of its columns)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema.remove_metadata()) as writer:
        writer.write_table(table.replace_schema_metadata(None))
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def read_queries(path: str | os.PathLike[str]) -> pa.Table:
    """Queries from a file: TSV ``qid<TAB>text``, BEIR/JSONL, or Parquet with ``query_id``/``text``."""
    from irbench.datasets.formats import QUERIES_SCHEMA

    source = Path(os.fspath(path))
    if not source.exists():
        from irbench.errors import MissingFileError

        raise MissingFileError(f"{source}: no such queries file")
    if source.suffix == ".parquet":
        table = read_parquet(source)
        missing = {"query_id", "text"} - set(table.column_names)
        if missing:
            raise RankerError(
                f"{source}: a queries table needs columns query_id and text "
                f"(missing {', '.join(sorted(missing))})"
            )
        return table.select(["query_id", "text"]).cast(QUERIES_SCHEMA)
    from irbench.datasets.importer import read_query_rows

    rows = list(read_query_rows(source))
    return pa.table(
        {"query_id": [q for q, _ in rows], "text": [t for _, t in rows]}, schema=QUERIES_SCHEMA
    )


def _index_dir(root: Path, dataset_id: str, ranker: Any, corpus_fp: str) -> Path:
    key = json.dumps(
        [_INDEX_FORMAT, ranker.name, ranker.index_params(), corpus_fp], sort_keys=True, default=str
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return root / "indexes" / dataset_id.replace("/", "__") / f"{ranker.name}-{digest}"


def ensure_index(
    ranker: Any, dataset: Any, *, progress: Progress = NULL_PROGRESS
) -> tuple[Path, bool]:
    """Load *ranker*'s index of *dataset*'s corpus, building it first if needed.

    Returns ``(folder, built)``. The build goes to a temporary folder that is renamed into
    place only when :meth:`~irbench.rankers.base.Ranker.index` returns.
    """
    from irbench.datasets.cache import fingerprint

    if not dataset.has("docs"):
        raise RankerError(
            f"{dataset.id} has no documents to index (it has {', '.join(dataset.spec.parts)})"
        )
    corpus_fp = fingerprint(dataset.id, "docs", [f.path for f in dataset.source_files("docs")])
    final = _index_dir(dataset.cache_root, dataset.id, ranker, corpus_fp)
    if final.is_dir():
        ranker.load(final)
        return final, False
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        ranker.index(dataset.docs_batches(), temp, progress)
        (temp / "irbench-index.json").write_text(
            json.dumps(
                {
                    "ranker": ranker.name,
                    "index_params": ranker.index_params(),
                    "dataset": dataset.id,
                    "corpus_fingerprint": corpus_fp,
                    "format": _INDEX_FORMAT,
                    "created": _now(),
                },
                indent=2,
                default=str,
            )
        )
        try:
            os.replace(temp, final)
        except OSError:
            if not final.is_dir():  # not a concurrent build that finished first
                raise
            shutil.rmtree(temp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    ranker.load(final)
    return final, True


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def run_ranker(
    ranker: Any,
    *,
    dataset: Any = None,
    queries: pa.Table | str | os.PathLike[str] | None = None,
    k: int = 1000,
    rerank: str | os.PathLike[str] | pa.Table | None = None,
    depth: int = 100,
    output: str | os.PathLike[str] | None = None,
    name: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    offline: bool | None = None,
    progress: Progress = NULL_PROGRESS,
    dask: Any = None,
    force: bool = False,
    latency_batch: int | None = None,
) -> RunResult:
    """Index (if needed) and retrieve the top *k* per query, or re-rank a run's top *depth*.

    Parameters
    ----------
    ranker:
        A ranker name (built-in or plugin) or a ranker object.
    dataset:
        An ir_datasets-style id (``vaswani``, ``beir/scifact/test``) or a
        :class:`~irbench.datasets.Dataset`; its corpus is indexed and its queries are used.
    queries:
        Queries to use instead of the dataset's (a table or a file, see :func:`read_queries`).
    rerank:
        A run (file or table) whose top *depth* documents per query are re-scored instead of
        retrieving from the whole corpus.
    output:
        Where to write the TREC run (and its ``.meta.json`` sidecar); ``None`` writes nothing.
    name:
        The run tag; default the ranker's name.
    dask:
        A :class:`irbench.distributed.retrieval.DaskRetrieval` to retrieve on a Dask cluster
        (query shards against the cached index, or corpus shards indexed on the workers);
        ``None`` retrieves in this process. The run is the same either way.
    force:
        Replace *output* even when its sidecar says it was made another way (by default that
        raises :class:`~irbench.errors.RunExistsError` before any work; see
        :func:`check_overwrite`).
    latency_batch:
        Queries per timed call of the ranker (see :mod:`irbench.rankers.timing`): the
        per-query times go to ``RUN.latency.csv`` and the sidecar's ``latency`` section.
        ``None``: one query per call when re-ranking, one call for all queries when
        retrieving; ``0``: one call for all. Not recorded on the Dask engine.
    """
    from irbench.rankers.registry import get_ranker

    started = time.perf_counter()
    if isinstance(ranker, str):
        ranker = get_ranker(ranker)
    ds = _dataset(dataset, cache_dir, offline)
    inputs: dict[str, Any] = {}
    if queries is None:
        if ds is None:
            raise RankerError("give a dataset (--dataset ID) or a queries file (--queries FILE)")
        query_table = ds.queries()
        inputs["queries"] = {"dataset": ds.id, "sha256": table_sha256(query_table)}
    elif isinstance(queries, pa.Table):
        query_table = queries
        inputs["queries"] = {"table": True, "sha256": table_sha256(query_table)}
    else:
        query_table = read_queries(queries)
        inputs["queries"] = {"path": str(queries), "sha256": file_sha256(queries)}

    index_path = None
    times: QueryTimes | None = None
    events: list[str] = []
    corpus_shards = dask is not None and dask.shard == "corpus"
    if dask is not None and getattr(ranker, "search_kernel", None) == "blas":
        # shards must score each (query, document) pair to the same bits as one search does
        ranker = dataclasses.replace(ranker, search_kernel="pairwise")
        events.append("dense search with search_kernel=pairwise (shard-independent scores)")
    if dask is not None and rerank is not None:
        raise RankerError("--rerank runs on the local engine only: leave out --engine dask")
    first = None
    if rerank is not None:
        from irbench.io import read_run

        first = rerank if isinstance(rerank, pa.Table) else read_run(rerank)
        if isinstance(rerank, pa.Table):
            inputs["rerank"] = {"table": True, "sha256": table_sha256(first), "depth": depth}
        else:
            inputs["rerank"] = {"path": str(rerank), "sha256": file_sha256(rerank), "depth": depth}
    params = ranker.params() if hasattr(ranker, "params") else {}
    planned = {
        "ranker": ranker.name,
        "params": params,
        "dataset": ds.id if ds is not None else None,
        "k": None if rerank is not None else k,
        "tag": name or ranker.name,
        "inputs": inputs,
    }
    replaced = check_overwrite(output, planned, force=force)
    if replaced:
        events.append(replaced)
    if corpus_shards:
        if not ranker.needs_index or ds is None:
            raise RankerError(
                f"--shard corpus splits a dataset's corpus for {ranker.name}'s index: give "
                "--dataset ID, or use --shard queries"
            )
        events.append("indexed the corpus in shards on the Dask workers (not cached)")
        inputs["docs"] = {"dataset": ds.id, "index": None}
    elif ranker.needs_index:
        if ds is None:
            raise RankerError(f"{ranker.name} needs a corpus to index: give --dataset ID")
        index_path, built = ensure_index(ranker, ds, progress=progress)
        events.append(f"{'built' if built else 'loaded'} index {index_path}")
        inputs["docs"] = {"dataset": ds.id, "index": str(index_path)}

    if first is not None:
        table, times = timed_rerank(
            ranker,
            query_table,
            first,
            depth,
            1 if latency_batch is None else latency_batch,
            progress,
        )
    elif dask is not None:
        from irbench.distributed.retrieval import retrieve_on_dask

        table, layout = retrieve_on_dask(
            ranker, query_table, k, dask, dataset=ds, index=index_path, progress=progress
        )
    else:
        table, times = timed_retrieve(ranker, query_table, k, latency_batch, progress)
    metadata = {
        "irbench_version": __version__,
        "ranker": ranker.name,
        "params": params,
        "dataset": ds.id if ds is not None else None,
        "k": None if rerank is not None else k,
        "engine": "dask" if dask is not None else "local",
        **({"layout": layout} if dask is not None else {}),
        "inputs": inputs,
        "rows": table.num_rows,
        "queries": len(table.column("query_id").unique()) if table.num_rows else 0,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "created": _now(),
    }
    from irbench.io import is_stdin

    if times is not None:
        written = output is not None and not is_stdin(output)
        where = latency_path(output).name if output is not None and written else None
        metadata["latency"] = times.metadata(where)
    result = RunResult(table, metadata, index=index_path, events=events)
    if output is not None:
        result.path = write_run_with_metadata(table, output, metadata, name or ranker.name)
    if times is not None and result.path is not None:
        write_latency(latency_path(result.path), times.query_ids, times.seconds, times.candidates)
    return result


def fuse_runs(
    runs: Sequence[str | os.PathLike[str]],
    method: str = "rrf",
    *,
    norm: str = "minmax",
    rrf_k: float = 60.0,
    weights: Sequence[float] | None = None,
    depth: int | None = None,
    k: int = 1000,
    output: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
) -> RunResult:
    """Fuse run files (see :func:`irbench.rankers.fusion.fuse`) and write the result (``force``:
    as for :func:`run_ranker`)."""
    from irbench.io import read_run
    from irbench.rankers.fusion import fuse

    started = time.perf_counter()
    params: dict[str, Any] = {"method": method, "rrf_k": rrf_k, "depth": depth}
    if method != "rrf":
        params = {"method": method, "norm": norm, "depth": depth}
    params["weights"] = list(weights) if weights is not None else None
    inputs = {"runs": [{"path": str(p), "sha256": file_sha256(p)} for p in runs]}
    planned = {"ranker": method, "params": params, "dataset": None, "k": k}
    replaced = check_overwrite(output, {**planned, "tag": name or method, "inputs": inputs}, force)
    tables = [read_run(path) for path in runs]
    table = fuse(tables, method, norm=norm, rrf_k=rrf_k, weights=weights, depth=depth, k=k)
    metadata = {
        "irbench_version": __version__,
        **planned,
        "inputs": inputs,
        "rows": table.num_rows,
        "queries": len(table.column("query_id").unique()) if table.num_rows else 0,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "created": _now(),
    }
    result = RunResult(table, metadata, events=[replaced] if replaced else [])
    if output is not None:
        result.path = write_run_with_metadata(table, output, metadata, name or method)
    return result


def run_identity(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """What decides a run file's content, from its metadata (a sidecar, or the metadata of a
    run about to be made): ranker, parameters, dataset, ``k``, tag, and the SHA-256 of the
    queries and input runs (with the re-ranking depth). Paths, times, versions, the engine and
    the index folder are left out: they do not change the run."""
    inputs = metadata.get("inputs") or {}
    used: dict[str, Any] = {}
    if inputs.get("queries"):
        used["queries"] = inputs["queries"].get("sha256")
    if inputs.get("rerank"):
        used["rerank"] = {k: inputs["rerank"].get(k) for k in ("sha256", "depth")}
    if inputs.get("runs"):
        used["runs"] = [r.get("sha256") for r in inputs["runs"]]
    identity = {key: metadata.get(key) for key in ("ranker", "params", "dataset", "k", "tag")}
    identity["inputs"] = used
    return dict(json.loads(json.dumps(identity, default=str)))  # as a sidecar holds it


def check_overwrite(
    output: str | os.PathLike[str] | None, planned: Mapping[str, Any], force: bool = False
) -> str | None:
    """Refuse to replace a run file made another way; called before any work is done.

    *planned* is the metadata of the run about to be written (see :func:`run_identity`).
    Returns ``None`` when *output* is new (or stdout, or ``None``), else a note saying it will
    be replaced: by a run made the same way, or because *force* is set.

    Raises
    ------
    RunExistsError
        *output* exists and its sidecar records another ranker, other parameters, dataset,
        ``k``, tag or inputs (each difference is named), or it has no readable sidecar.
    """
    from irbench.io import is_stdin

    if output is None or is_stdin(output):
        return None
    path = Path(os.fspath(output))
    if not path.exists():
        return None
    if force:
        return f"replaced {path} (--force)"
    fix = "pass --force (force=True in Python) to replace it, or write the new run elsewhere (-o)"
    sidecar = metadata_path(path)
    try:
        existing = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunExistsError(
            f"{path} exists and has no {sidecar.name} saying how it was made, so irbench will "
            f"not replace it: {fix}"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunExistsError(
            f"{path} exists and its sidecar {sidecar} cannot be read ({exc}): {fix}"
        ) from None
    if not isinstance(existing, dict):
        raise RunExistsError(f"{path} exists and its sidecar {sidecar} is not a JSON object: {fix}")
    differences = _differences(run_identity(existing), run_identity(planned))
    if differences:
        raise RunExistsError(
            f"{path} holds a run made another way ({'; '.join(differences)}); runs are "
            f"results, so it is not replaced: {fix}"
        )
    return f"rewrote {path} (made with the same ranker, parameters and inputs)"


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """``key: old -> new`` for every (dotted) key whose value differs."""
    a, b = dict(_flatten(old)), dict(_flatten(new))
    return [
        f"{key}: {_shown(a.get(key))} there, {_shown(b.get(key))} now"
        for key in dict.fromkeys([*a, *b])
        if a.get(key) != b.get(key)
    ]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), value


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:  # a SHA-256: its first 12 digits do
        return f"sha256 {value[:12]}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return "none" if value is None else json.dumps(value)


def write_run_with_metadata(
    table: pa.Table, output: str | os.PathLike[str], metadata: dict[str, Any], name: str
) -> Path | None:
    """Write the TREC run atomically, then its sidecar (``-`` writes the run to stdout only)."""
    from irbench.io import is_stdin, write_run
    from irbench.io.atomic import atomic_text_writer

    write_run(table, output, name=name)
    if is_stdin(output):
        return None
    path = Path(os.fspath(output))
    with atomic_text_writer(metadata_path(path)) as handle:
        json.dump({"run": path.name, "tag": name, **metadata}, handle, indent=2, default=str)
        handle.write("\n")
    return path


def _dataset(dataset: Any, cache_dir: Any, offline: bool | None) -> Any:
    if dataset is None or not isinstance(dataset, str):
        return dataset
    from irbench.datasets import load_dataset

    return load_dataset(dataset, cache_dir=cache_dir, offline=offline)

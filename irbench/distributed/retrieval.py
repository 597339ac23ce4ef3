"""Retrieval on a Dask cluster (``irbench run --engine dask``): query shards or corpus shards.

Two layouts, both giving the run file the local engine writes, byte for byte:

- ``queries`` (default; the index fits on a worker): the index is built or loaded through the
  cache as for a local run (:func:`irbench.rankers.runner.ensure_index`), every worker opens it
  once from its folder (which must be on a filesystem the workers share) and keeps it for
  later tasks (:func:`worker_ranker`), the queries are split into contiguous shards, each
  shard is retrieved on a worker, and the shards' run tables are concatenated in query order.
  A query's result does not depend on the other queries it is searched with.
- ``corpus`` (the index does not fit, or building it should be spread): the corpus is split
  into contiguous document ranges; each worker indexes its range (:mod:`.corpus`), every query
  is sent to every shard, each shard returns its top *k* per query, and the client keeps the
  best *k* of their union in the order (score descending, document position ascending). The
  local rankers cut ties in that same order (:func:`irbench.rankers.base.top_k`,
  :func:`irbench.rankers.dense.flat_search`), so the merge is exact.

Failures: tasks are submitted with ``retries`` (a lost worker's tasks are rescheduled by Dask
itself); a shard that still fails cancels the others and raises
:class:`~irbench.errors.DistributedError` naming the shard and its range. No partial run is
ever returned. Submitting, gathering and cancelling are :mod:`.tasks`' (shared with scoring);
shard ranges and labels are :func:`~.tasks.shard_bounds` and :func:`~.tasks.shard_label`,
the exact merge :func:`~.corpus.merge_topk` (re-exported here).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from irbench.distributed.corpus import corpus_shards, merge_topk
from irbench.distributed.tasks import gather_shards, shard_bounds, shard_label, submit_all
from irbench.errors import DistributedError, RankerError
from irbench.rankers.base import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DaskRetrieval",
    "merge_topk",
    "retrieve_on_dask",
    "shard_bounds",
    "shard_label",
    "worker_ranker",
]

Layout = Literal["queries", "corpus"]
LAYOUTS: tuple[str, ...] = ("queries", "corpus")

#: Loaded rankers kept per worker process (keyed by index folder, class and parameters).
_CACHE_SIZE = 4
_LOADED: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
_LOADED_LOCK = threading.Lock()


@dataclass(frozen=True)
class DaskRetrieval:
    """How ``irbench run --engine dask`` spreads retrieval.

    ``shard`` is the layout (``queries`` or ``corpus``); ``shards`` the number of shards
    (default: one per worker); ``retries`` how often Dask re-runs a failed shard task before
    the command fails. ``scheduler`` and ``workers`` are :func:`~.cluster.dask_client`'s.
    """

    scheduler: str | None = None
    workers: int | None = None
    shard: str = "queries"
    shards: int | None = None
    retries: int = 1

    def __post_init__(self) -> None:
        if self.shard not in LAYOUTS:
            raise DistributedError(
                f"--shard must be one of {', '.join(LAYOUTS)}, got {self.shard!r} (queries: "
                "every worker loads the whole index; corpus: each worker indexes a part)"
            )
        if self.shards is not None and self.shards < 1:
            raise DistributedError(f"--shards must be >= 1 (got {self.shards})")
        if self.retries < 0:
            raise DistributedError(f"retries must be >= 0 (got {self.retries})")


# ---------------------------------------------------------------------------- query shards


def _ranker_spec(ranker: Any) -> tuple[type, dict[str, Any]]:
    params = getattr(ranker, "params", None)
    if not callable(params):
        raise DistributedError(
            f"ranker {ranker.name!r} cannot run on --engine dask: it has no params() to rebuild "
            "it on the workers (derive it from irbench.rankers.base.RankerBase)"
        )
    return type(ranker), params()


def worker_ranker(cls: type, params: dict[str, Any], index: str | None) -> Any:
    """The ranker ``cls(**params)`` with the index folder *index* loaded, once per process.

    Later tasks on the same worker reuse it (the last few rankers are kept, keyed by index
    folder, class and parameters), so a worker opens an index once, not once per shard.
    """
    key = (index or "", f"{cls.__module__}.{cls.__qualname__}", json.dumps(params, default=str))
    with _LOADED_LOCK:
        ranker = _LOADED.get(key)
        if ranker is None:
            ranker = cls(**params)
            if index is not None:
                ranker.load(Path(index))
            _LOADED[key] = ranker
            while len(_LOADED) > _CACHE_SIZE:
                _LOADED.popitem(last=False)
        _LOADED.move_to_end(key)
    return ranker


def _retrieve_query_shard(
    cls: type, params: dict[str, Any], index: str | None, queries: pa.Table, k: int
) -> pa.Table:
    return worker_ranker(cls, params, index).retrieve(queries, k)


def _query_shards(
    client: Client,
    ranker: Any,
    index: Path | None,
    queries: pa.Table,
    k: int,
    shards: int,
    retries: int,
    progress: Progress,
) -> tuple[pa.Table, dict[str, Any]]:
    if getattr(ranker, "index_type", None) == "hnsw":
        ranker.search_index(progress)  # build the graph file once here, not on every worker
    cls, params = _ranker_spec(ranker)
    bounds = shard_bounds(queries.num_rows, shards)
    labels = [shard_label("query", i, len(bounds), lo, hi) for i, (lo, hi) in enumerate(bounds)]
    folder = None if index is None else str(index)
    futures = submit_all(
        client,
        _retrieve_query_shard,
        [(cls, params, folder, queries.slice(lo, hi - lo), k) for lo, hi in bounds],
        "query-shard",
        retries,
    )
    tables = gather_shards(client, futures, labels, progress, "dask: query shards")
    from irbench.io.schema import RUN_SCHEMA

    table = pa.concat_tables(tables) if tables else RUN_SCHEMA.empty_table()
    return table, {"shard": "queries", "shards": len(bounds), "ranges": bounds}


# ---------------------------------------------------------------------------- entry point


def retrieve_on_dask(
    ranker: Any,
    queries: pa.Table,
    k: int,
    options: DaskRetrieval,
    *,
    dataset: Any = None,
    index: Path | None = None,
    progress: Progress = NULL_PROGRESS,
    client: Client | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Retrieve the top *k* of every query on a Dask cluster: ``(run table, layout)``.

    *layout* records what ran where (for the run's metadata sidecar). For ``queries``,
    *index* is the folder :func:`~irbench.rankers.runner.ensure_index` returned; for
    ``corpus``, *dataset* is the :class:`~irbench.datasets.Dataset` whose corpus is split.
    """
    from irbench.distributed.cluster import dask_client

    if client is None:
        with dask_client(options.scheduler, options.workers) as own:
            return retrieve_on_dask(
                ranker, queries, k, options, dataset=dataset, index=index, progress=progress,
                client=own,
            )  # fmt: skip
    n_workers = len(client.scheduler_info().get("workers", {})) or 1
    shards = options.shards or n_workers
    layout: dict[str, Any]
    if options.shard == "queries":
        table, layout = _query_shards(
            client, ranker, index, queries, k, shards, options.retries, progress
        )
    else:
        if dataset is None:
            raise RankerError("--shard corpus needs --dataset ID: it splits the dataset's corpus")
        table, layout = corpus_shards(
            client, ranker, dataset, queries, k, shards, options.retries, progress
        )
    address = getattr(client.scheduler, "address", None) if client.scheduler else None
    layout = {**layout, "workers": n_workers, "scheduler": address}
    return table, layout

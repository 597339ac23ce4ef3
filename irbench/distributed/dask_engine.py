"""The Dask engine: runs scored in parallel on a cluster's workers, huge runs in query shards.

* The :class:`~irbench.engine.Evaluator` (qrels bound, measures parsed) is scattered once to
  every worker (``broadcast=True``); tasks take its future, so each worker deserialises it once
  and its lazily built qrels caches persist across the worker's tasks.
* A run file is sent as its path and read on a worker (paths must be readable there: a shared
  filesystem on a multi-machine cluster). In-memory runs (tables, DataFrames, stdin) are
  scattered as data.
* A run bigger than ``shard_size`` bytes is read on the client, split by query with
  :func:`~irbench.engine.shards.iter_query_shards` and each shard scored on a worker; the parts
  are merged in shard order on the client and finished there (means, ``-c``, warnings), so the
  numbers are bit-identical to the local engine's.
* Faults: the scheduler reruns the tasks of a worker that dies (``distributed.scheduler.
  allowed-failures`` times); a task raising an unexpected exception is retried ``retries``
  times; irbench's own input errors are not retried (they would fail again). Any failure
  cancels the outstanding tasks and raises :class:`~irbench.errors.DistributedError` naming the
  run and shard; no partial result is ever returned.
"""

from __future__ import annotations

import os
import re
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from irbench.distributed.cluster import dask_client
from irbench.engine.engines import DEFAULT_SHARD_SIZE, RunTask, _names
from irbench.engine.shards import iter_query_shards, shard_count
from irbench.errors import DistributedError, IrbenchError

if TYPE_CHECKING:
    from distributed import Client, Future

    from irbench.engine.evaluator import Evaluator, PartialScores, RunScores

__all__ = ["DaskEngine"]

T = TypeVar("T")


@dataclass
class _Outcome:
    """What a task sends back: its value, or the irbench error it raised, and its warnings."""

    value: Any = None
    error: IrbenchError | None = None
    warnings: list[Warning | str] = field(default_factory=list)


def _attempt(fn: Callable[..., Any], *args: Any) -> _Outcome:
    """Run ``fn(*args)`` on a worker. irbench errors come back as data (retrying a bad input is
    pointless); anything else raises, so Dask retries it. Warnings are recorded for the client."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(*args)
        except IrbenchError as exc:
            return _Outcome(error=exc, warnings=[w.message for w in caught])
    return _Outcome(value=value, warnings=[w.message for w in caught])


def _score_whole(ev: Evaluator, run: Any, name: str | None) -> tuple[PartialScores, str]:
    # one parsing thread: a Dask worker thread stands for one core, and the cluster already
    # runs as many tasks at once as it has threads
    return ev.score_whole_part(run, name, read_workers=1)


def _score_shard(ev: Evaluator, table: Any, source: str, run: Any) -> PartialScores:
    return ev.score_shard(table, source=source, run=run)


@dataclass
class _Job:
    label: str
    future: Future


def _slug(text: str) -> str:
    base = os.path.basename(text.rstrip("/")) or text
    return re.sub(r"[^A-Za-z0-9_.]+", "_", base)[:60] or "run"


def _is_path(run: Any) -> bool:
    return (isinstance(run, str) and run != "-") or isinstance(run, os.PathLike)


def _display(run: Any, name: str | None, i: int) -> str:
    if name:
        return repr(name)
    if _is_path(run):
        return repr(os.fspath(run))
    if isinstance(run, str):
        return "'-' (stdin)"
    return f"#{i + 1} ({type(run).__name__})"


def _scatter(client: Client, data: Any, *, broadcast: bool = False) -> Future:
    """One object to the workers as one piece of data (a dict run is not split into values)."""
    return client.scatter([data], broadcast=broadcast, hash=False)[0]


def _failure(label: str, exc: BaseException) -> DistributedError:
    """The error the user sees for a failed task: the run/shard, then the original message."""
    if isinstance(exc, IrbenchError):
        err = DistributedError(f"{label} failed: {exc}")
        err.exit_code = exc.exit_code
        return err
    kind = type(exc).__name__
    hint = ""
    if kind == "KilledWorker":
        hint = (
            " (workers died while running it, more often than the scheduler allows: see the "
            "worker logs; a worker out of memory is the usual cause, so use smaller shards "
            "(--shard-size) or give workers more memory (dask worker --memory-limit))"
        )
    return DistributedError(f"{label} failed on the cluster: {kind}: {exc}{hint}")


class DaskEngine:
    """Score runs on a Dask cluster (see the module docstring).

    Parameters
    ----------
    client:
        A connected ``distributed.Client`` to use (not closed by the engine). Without it the
        engine connects to ``scheduler``, or starts a local cluster of ``workers`` processes,
        for the duration of a ``with`` block (or of each call, outside one).
    scheduler:
        Address of a running scheduler (``tcp://host:8786``) or a scheduler file (``.json``).
    workers:
        Size of the local cluster (default: one worker per core).
    shard_size:
        A run bigger than this many bytes (file size, or in-memory table size) is split by query
        into shards of about this size.
    retries:
        How often a task that raised an unexpected exception is rerun.
    """

    remote = True

    def __init__(
        self,
        client: Client | None = None,
        *,
        scheduler: str | None = None,
        workers: int | None = None,
        shard_size: int = DEFAULT_SHARD_SIZE,
        retries: int = 2,
    ) -> None:
        if shard_size < 1:
            raise DistributedError(f"shard_size must be >= 1 byte (got {shard_size})")
        if retries < 0:
            raise DistributedError(f"retries must be >= 0 (got {retries})")
        self.client = client
        self.scheduler = scheduler
        self.workers = workers
        self.shard_size = shard_size
        self.retries = retries
        self._stack: ExitStack | None = None
        self._depth = 0

    def __repr__(self) -> str:
        where = self.scheduler or (
            repr(self.client)
            if self.client is not None
            else f"local cluster of {self.workers or 'cpu_count'} workers"
        )
        return f"DaskEngine({where}, shard_size={self.shard_size}, retries={self.retries})"

    def __enter__(self) -> DaskEngine:
        """Connect (or start the local cluster) unless already connected; re-entrant."""
        if self.client is None:
            self._stack = ExitStack()
            self.client = self._stack.enter_context(dask_client(self.scheduler, self.workers))
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._stack is not None:
            stack, self._stack, self.client = self._stack, None, None
            stack.close()

    @contextmanager
    def _session(self) -> Iterator[Client]:
        if self.client is not None:
            yield self.client
        else:
            with self:
                assert self.client is not None  # set by __enter__
                yield self.client

    # -- public API -----------------------------------------------------------------------

    def score_runs(
        self, evaluator: Evaluator, runs: Sequence[Any], names: Sequence[str | None] | None = None
    ) -> list[RunScores]:
        """One :class:`RunScores` per run, in order, bit-identical to the local engine's."""
        run_names = _names(runs, names)
        with self._session() as client:
            token = uuid.uuid4().hex[:8]
            ev_future = _scatter(client, evaluator, broadcast=True)
            plans: list[tuple[list[_Job], str | None]] = []  # (jobs, client-side run name)
            all_jobs: list[_Job] = []
            try:
                for i, (run, name) in enumerate(zip(runs, run_names, strict=True)):
                    jobs, run_name = self._submit_run(client, ev_future, run, name, i, token)
                    plans.append((jobs, run_name))
                    all_jobs += jobs
                values = self._collect(client, all_jobs)
            finally:
                client.cancel([ev_future])
        out: list[RunScores] = []
        pos = 0
        for jobs, run_name in plans:
            parts = values[pos : pos + len(jobs)]
            pos += len(jobs)
            if run_name is None:  # one whole-run task: (part, name from the worker)
                part, whole_name = parts[0]
                out.append(evaluator.finish(part, whole_name))
                continue
            merged = parts[0]
            for p in parts[1:]:  # fixed (shard) order: deterministic
                merged = merged.merge(p, what="shard")
            out.append(evaluator.finish(merged, run_name))
        return out

    def map_runs(
        self,
        evaluator: Evaluator,
        runs: Sequence[Any],
        task: RunTask[T],
        names: Sequence[str | None] | None = None,
    ) -> list[T]:
        """``task(evaluator, run, name)`` for every run on the workers (no sharding), in order."""
        run_names = _names(runs, names)
        with self._session() as client:
            token = uuid.uuid4().hex[:8]
            ev_future = _scatter(client, evaluator, broadcast=True)
            jobs = []
            try:
                for i, (run, name) in enumerate(zip(runs, run_names, strict=True)):
                    arg = self._run_argument(client, run, name)
                    key = f"run-{_slug(name or (os.fspath(run) if _is_path(run) else 'data'))}"
                    fut = self._submit(
                        client,
                        f"{key}-{i}-{token}",
                        task,
                        ev_future,
                        arg,
                        name,
                    )
                    jobs.append(_Job(f"run {_display(run, name, i)}", fut))
                values: list[T] = self._collect(client, jobs)
            finally:
                client.cancel([ev_future])
        return values

    # -- internals ------------------------------------------------------------------------

    def _submit(self, client: Client, key: str, fn: Callable[..., Any], *args: Any) -> Future:
        """``fn(*args)`` on a worker as an :class:`_Outcome`, retried ``self.retries`` times."""
        return client.submit(_attempt, fn, *args, key=key, retries=self.retries, pure=False)

    def _run_argument(self, client: Client, run: Any, name: str | None) -> Any:
        """A path as a string (read on the worker); anything else scattered as data."""
        if _is_path(run):
            return os.fspath(run)
        if isinstance(run, str):  # "-": only the client can read its stdin
            from irbench.io import read_run

            run = read_run(run, name=name)
        return _scatter(client, run)

    def _submit_run(
        self, client: Client, ev_future: Future, run: Any, name: str | None, i: int, token: str
    ) -> tuple[list[_Job], str | None]:
        """Submit one run: a single whole-run task (run name ``None``: the worker names it), or
        one task per query shard (the run name, read on the client)."""
        from irbench.engine.evaluator import _run_name
        from irbench.io import read_run

        label = f"run {_display(run, name, i)}"
        slug = _slug(name or (os.fspath(run) if _is_path(run) else f"data{i}"))
        table = None
        if _is_path(run):
            try:
                nbytes = os.path.getsize(run)
            except OSError:  # not visible here: the worker reads it (or reports it missing)
                nbytes = 0
        else:
            table = read_run(run, name=name)
            nbytes = table.nbytes
        if nbytes > self.shard_size:
            source = os.fspath(run) if table is None else "run"
            if table is None:
                table = read_run(run, name=name)
            locate = source if _is_path(run) else None
            jobs = []
            for shard in iter_query_shards(table, shard_count(nbytes, self.shard_size)):
                fut = self._submit(
                    client,
                    f"score-{slug}-shard{shard.index}of{shard.total}-{i}-{token}",
                    _score_shard,
                    ev_future,
                    _scatter(client, shard.table),
                    source,
                    locate,
                )
                jobs.append(_Job(f"{shard.label} of {label}", fut))
            if jobs:
                return jobs, name or _run_name(table, source)
            # an empty run: nothing to shard, score it whole
        arg = os.fspath(run) if table is None else _scatter(client, table)
        fut = self._submit(client, f"score-{slug}-{i}-{token}", _score_whole, ev_future, arg, name)
        return [_Job(label, fut)], None

    def _collect(self, client: Client, jobs: list[_Job]) -> list[Any]:
        """Every job's value in job order; on the first failure cancel the rest and raise."""
        from distributed import as_completed

        index = {job.future.key: k for k, job in enumerate(jobs)}
        outcomes: list[_Outcome | None] = [None] * len(jobs)
        futures = [job.future for job in jobs]
        try:
            for fut in as_completed(futures):
                job = jobs[index[fut.key]]
                try:
                    outcome = fut.result()
                except Exception as exc:
                    raise _failure(job.label, exc) from exc
                if outcome.error is not None:
                    raise _failure(job.label, outcome.error) from outcome.error
                outcomes[index[fut.key]] = outcome
        except BaseException:
            client.cancel(futures)
            raise
        values = []
        for outcome in outcomes:
            assert outcome is not None  # every future completed without error above
            for w in outcome.warnings:
                warnings.warn(w, stacklevel=4)
            values.append(outcome.value)
        return values

"""Submit, gather, cancel: the one way irbench's work goes to a Dask cluster and comes back.

Both users take this path: distributed scoring (:mod:`irbench.distributed.dask_engine`, runs and
run shards) and distributed retrieval (:mod:`.retrieval` query shards, :mod:`.corpus` corpus
shards).

* **Submit**: every task gets a unique key (a random token per call) and Dask's ``retries``:
  a task that raised is rerun; the scheduler reruns the tasks of a worker that died.
* **Gather** (:func:`gather`): results come back in submission order, collected as tasks
  finish. The first task that fails for good cancels every outstanding task (and the
  *upstream* tasks it depends on) and raises :class:`~irbench.errors.DistributedError` naming
  the task's label (run, shard, document or query lines). No partial result is ever returned.
* How a task's result is read differs in one respect. Retrieval tasks run as they are
  (:func:`gather_shards`). Scoring tasks run through :func:`attempt`, which returns irbench's
  own errors as data (a bad input would fail again: not retried) and records the task's
  warnings, replayed on the client (:func:`gather_outcomes`).

``distributed`` is imported only inside the functions that need it.
"""

from __future__ import annotations

import itertools
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from irbench.errors import DistributedError, IrbenchError
from irbench.rankers.base import NULL_PROGRESS, Progress

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = [
    "Outcome",
    "attempt",
    "gather",
    "gather_outcomes",
    "gather_shards",
    "new_token",
    "scatter",
    "shard_bounds",
    "shard_label",
    "submit_all",
    "submit_attempt",
    "task_failure",
]


# ---------------------------------------------------------------------------- shards and labels


def shard_bounds(n: int, shards: int) -> list[tuple[int, int]]:
    """``shards`` contiguous ``[start, stop)`` ranges covering ``range(n)``, sizes within one
    (empty shards are dropped, so fewer ranges come back when ``n < shards``)."""
    cuts = [i * n // shards for i in range(shards + 1)]
    return [(lo, hi) for lo, hi in itertools.pairwise(cuts) if hi > lo]


def shard_label(kind: str, number: int, count: int, lo: int, hi: int) -> str:
    """``"corpus shard 2 of 4 (docs 2,858-5,714)"``: 1-based shard and inclusive row range."""
    unit = "docs" if kind == "corpus" else "queries"
    return f"{kind} shard {number + 1} of {count} ({unit} {lo + 1:,}-{hi:,})"


# ---------------------------------------------------------------------------- submit


def new_token() -> str:
    """A short random token that keeps one call's task keys apart from another's."""
    return uuid.uuid4().hex[:8]


def scatter(client: Client, data: Any, *, broadcast: bool = False) -> Future:
    """One object to the workers as one piece of data (a dict run is not split into values)."""
    return client.scatter([data], broadcast=broadcast, hash=False)[0]


def submit_all(
    client: Client,
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    name: str,
    retries: int,
) -> list[Future]:
    """One task per argument tuple, with unique keys ``irbench-<name>-<i>-<token>``."""
    token = new_token()
    return [
        client.submit(fn, *a, key=f"irbench-{name}-{i}-{token}", retries=retries, pure=False)
        for i, a in enumerate(args)
    ]


@dataclass
class Outcome:
    """What an :func:`attempt` sends back: its value, or the irbench error it raised, and its
    warnings."""

    value: Any = None
    error: IrbenchError | None = None
    warnings: list[Warning | str] = field(default_factory=list)


def attempt(fn: Callable[..., Any], *args: Any) -> Outcome:
    """Run ``fn(*args)`` on a worker. irbench errors come back as data (retrying a bad input is
    pointless); anything else raises, so Dask retries it. Warnings are recorded for the client."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn(*args)
        except IrbenchError as exc:
            return Outcome(error=exc, warnings=[w.message for w in caught])
    return Outcome(value=value, warnings=[w.message for w in caught])


def submit_attempt(
    client: Client, key: str, fn: Callable[..., Any], *args: Any, retries: int
) -> Future:
    """``fn(*args)`` on a worker as an :class:`Outcome` (:func:`attempt`), retried *retries*
    times."""
    return client.submit(attempt, fn, *args, key=key, retries=retries, pure=False)


# ---------------------------------------------------------------------------- gather, cancel


def gather(
    client: Client,
    futures: Sequence[Future],
    labels: Sequence[str],
    read: Callable[[Future, str], Any],
    *,
    progress: Progress = NULL_PROGRESS,
    description: str = "dask: tasks",
    upstream: Sequence[Future] = (),
) -> list[Any]:
    """``read(future, label)`` of every future, in their order, each completion reported to
    *progress*. *read* raises for a failed task; the first failure (or an interrupt) cancels
    *futures* and *upstream* and propagates."""
    from distributed import as_completed

    position = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        with progress.task(description, total=len(futures)) as task:
            for future in as_completed(futures):
                i = position[future.key]
                results[i] = read(future, labels[i])
                task.advance(1)
    except BaseException:
        client.cancel([*futures, *upstream])
        raise
    return results


def shard_result(future: Future, label: str) -> Any:
    """A finished retrieval task's result; a cancelled or failed one raises
    :class:`DistributedError` with *label* (the run file is never written)."""
    if future.status == "cancelled":
        raise DistributedError(
            f"{label} was cancelled on the cluster (scheduler restarted or "
            "the client lost its connection?); the run was not written"
        )
    if future.status != "finished":
        exc = future.exception()
        raise DistributedError(
            f"{label} failed: {type(exc).__name__}: {exc} (the run was not "
            "written; fix the cause and run again, or run with --engine local)"
        ) from exc
    return future.result()


def gather_shards(
    client: Client,
    futures: Sequence[Future],
    labels: Sequence[str],
    progress: Progress = NULL_PROGRESS,
    description: str = "dask: shards",
    upstream: Sequence[Future] = (),
) -> list[Any]:
    """The results of retrieval *futures* in their order, reporting each completion to
    *progress*.

    The first shard that fails (after Dask's retries; a failed *upstream* task, such as the
    shard's index build, fails its dependants) cancels the rest and the *upstream* tasks and
    raises :class:`DistributedError` with that shard's label and the worker's error.
    """
    return gather(
        client, futures, labels, shard_result,
        progress=progress, description=description, upstream=upstream,
    )  # fmt: skip


def task_failure(label: str, exc: BaseException) -> DistributedError:
    """The error the user sees for a failed scoring task: the run/shard, then the original
    message (an irbench error keeps its exit code)."""
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


def outcome_of(future: Future, label: str) -> Outcome:
    """A scoring task's :class:`Outcome`; a task that failed, or returned an irbench error,
    raises :func:`task_failure`."""
    try:
        outcome: Outcome = future.result()
    except Exception as exc:
        raise task_failure(label, exc) from exc
    if outcome.error is not None:
        raise task_failure(label, outcome.error) from outcome.error
    return outcome


def gather_outcomes(client: Client, futures: Sequence[Future], labels: Sequence[str]) -> list[Any]:
    """The values of :func:`submit_attempt` tasks in their order; on the first failure cancel
    the rest and raise. The tasks' warnings are re-issued once all succeeded (``stacklevel=4``:
    past this function and the engine method that called it, to the engine's caller's caller)."""
    outcomes: list[Outcome] = gather(client, futures, labels, outcome_of)
    for outcome in outcomes:
        for w in outcome.warnings:
            warnings.warn(w, stacklevel=4)
    return [outcome.value for outcome in outcomes]

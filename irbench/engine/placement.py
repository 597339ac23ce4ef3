"""Where runs are scored (the command line's ``--engine``): in this process (``local``, the
default) or on a Dask cluster (``dask``).

An *engine* turns an evaluator and a list of runs into one :class:`~irbench.engine.RunScores`
per run, in order, each run read by :func:`irbench.engine.runs.score_run_part`. Engines differ
only in where the work happens; the numbers are bit-identical (a query's values depend on its
own rows only, and means are computed on the client from the per-query values). The Dask
engine lives in :mod:`irbench.distributed.dask_engine`; :func:`irbench.engine.api.make_engine`
imports it only when asked for, so ``import irbench`` and the local engine never import Dask.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from irbench.engine.naming import name_runs
from irbench.engine.runs import DEFAULT_READ, ReadPolicy, score_run
from irbench.engine.scores import RunScorer, RunScores
from irbench.errors import IrbenchError

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "ENGINES",
    "Engine",
    "LocalEngine",
    "RunTask",
    "parse_size",
]

T = TypeVar("T")

#: Engine names accepted by ``--engine`` and ``engine=``.
ENGINES = ("local", "dask")

#: A run file (or in-memory table) bigger than this is split by query into shards (bytes).
DEFAULT_SHARD_SIZE = 256 * 1024**2

#: A task run on one run: ``task(evaluator, run, name)``; must be a picklable module-level
#: function (or a ``functools.partial`` of one) for the Dask engine.
RunTask = Callable[[RunScorer, Any, "str | None"], T]


@runtime_checkable
class Engine(Protocol):
    """Scores runs with an evaluator; a context manager that holds its resources (a cluster)."""

    #: True when tasks run in other processes (results must travel, tables are not kept).
    remote: bool

    def score_runs(
        self,
        evaluator: RunScorer,
        runs: Sequence[Any],
        names: Sequence[str | None] | None = None,
        read: ReadPolicy = DEFAULT_READ,
    ) -> list[RunScores]:
        """``[score_run(evaluator, run, name, read) for run, name in zip(runs, names)]``,
        wherever (:func:`irbench.engine.runs.score_run`)."""
        ...

    def map_runs(
        self,
        evaluator: RunScorer,
        runs: Sequence[Any],
        task: RunTask[T],
        names: Sequence[str | None] | None = None,
    ) -> list[T]:
        """``[task(evaluator, run, name) ...]`` in run order, wherever (one task per run)."""
        ...

    def __enter__(self) -> Engine: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class LocalEngine:
    """Score runs one after the other in this process (irbench's default)."""

    remote = False

    def score_runs(
        self,
        evaluator: RunScorer,
        runs: Sequence[Any],
        names: Sequence[str | None] | None = None,
        read: ReadPolicy = DEFAULT_READ,
    ) -> list[RunScores]:
        final = name_runs(runs, names)
        return [score_run(evaluator, r, n, read) for r, n in zip(runs, final, strict=True)]

    def map_runs(
        self,
        evaluator: RunScorer,
        runs: Sequence[Any],
        task: RunTask[T],
        names: Sequence[str | None] | None = None,
    ) -> list[T]:
        return [task(evaluator, r, n) for r, n in zip(runs, name_runs(runs, names), strict=True)]

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return "LocalEngine()"


_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_size(size: int | str) -> int:
    """Bytes in ``size``: an integer, or a number with a unit (``256MB``, ``1.5GiB``, ``64k``;
    ``KB``/``MB``/``GB`` are powers of 1000, ``KiB``/``MiB``/``GiB`` powers of 1024)."""
    if isinstance(size, int):
        value = size
    else:
        m = _SIZE.match(size)
        if m is None:
            raise IrbenchError(
                f"cannot read the size {size!r} (write for example 256MB, 1GiB or 1000000)"
            )
        unit = m.group(2).lower()
        base = 1024 ** "bkmgt".index(unit or "b") if m.group(3) else _UNITS[unit]
        value = int(float(m.group(1)) * base)
    if value < 1:
        raise IrbenchError(f"a size must be at least 1 byte (got {size!r})")
    return value

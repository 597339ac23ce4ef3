"""Where runs are scored: in this process (``local``, the default) or on a Dask cluster (``dask``).

An *engine* turns an :class:`~irbench.engine.Evaluator` and a list of runs into one
:class:`~irbench.engine.RunScores` per run, in order. Engines differ only in where the work
happens; the numbers are bit-identical (a query's values depend on its own rows only, and means
are computed on the client from the per-query values). The Dask engine lives in
:mod:`irbench.distributed.scoring` and is imported only when asked for, so ``import irbench`` and
the local engine never import Dask.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from irbench.errors import IrbenchError

if TYPE_CHECKING:
    from irbench.engine.evaluator import Evaluator, RunScores

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "ENGINES",
    "Engine",
    "LocalEngine",
    "make_engine",
    "parse_size",
    "resolve_engine",
]

T = TypeVar("T")

#: Engine names accepted by ``--engine`` and ``engine=``.
ENGINES = ("local", "dask")

#: A run file (or in-memory table) bigger than this is split by query into shards (bytes).
DEFAULT_SHARD_SIZE = 256 * 1024**2

#: A task run on one run: ``task(evaluator, run, name)``; must be a picklable module-level
#: function (or a ``functools.partial`` of one) for the Dask engine.
RunTask = Callable[["Evaluator", Any, "str | None"], T]


@runtime_checkable
class Engine(Protocol):
    """Scores runs with an evaluator; a context manager that holds its resources (a cluster)."""

    #: True when tasks run in other processes (results must travel, tables are not kept).
    remote: bool

    def score_runs(
        self, evaluator: Evaluator, runs: Sequence[Any], names: Sequence[str | None] | None = None
    ) -> list[RunScores]:
        """``[evaluator.score(run, name) for run, name in zip(runs, names)]``, wherever."""
        ...

    def map_runs(
        self,
        evaluator: Evaluator,
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


def _names(runs: Sequence[Any], names: Sequence[str | None] | None) -> list[str | None]:
    """Every run's name, decided before scoring: ``names`` where given, the rest by
    :func:`irbench.engine.naming.name_runs` (so warnings and results agree)."""
    from irbench.engine.naming import name_runs

    return list(name_runs(runs, names))


class LocalEngine:
    """Score runs one after the other in this process (irbench's default)."""

    remote = False

    def score_runs(
        self, evaluator: Evaluator, runs: Sequence[Any], names: Sequence[str | None] | None = None
    ) -> list[RunScores]:
        return [evaluator.score(r, name=n) for r, n in zip(runs, _names(runs, names), strict=True)]

    def map_runs(
        self,
        evaluator: Evaluator,
        runs: Sequence[Any],
        task: RunTask[T],
        names: Sequence[str | None] | None = None,
    ) -> list[T]:
        return [task(evaluator, r, n) for r, n in zip(runs, _names(runs, names), strict=True)]

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return "LocalEngine()"


def make_engine(
    name: str = "local",
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    shard_size: int | str | None = None,
    retries: int | None = None,
) -> Engine:
    """The engine called ``name`` (``local`` or ``dask``) with the CLI's options.

    ``scheduler``, ``workers``, ``shard_size`` and ``retries`` configure the Dask engine (see
    :class:`irbench.distributed.scoring.DaskEngine`); giving them with ``local`` is an error
    rather than silently ignored.
    """
    if name == "local":
        given = [
            opt
            for opt, value in (
                ("--scheduler", scheduler),
                ("--workers", workers),
                ("--shard-size", shard_size),
                ("--retries", retries),
            )
            if value is not None
        ]
        if given:
            raise IrbenchError(
                f"{', '.join(given)} only apply to the Dask engine (add --engine dask)"
            )
        return LocalEngine()
    if name == "dask":
        if scheduler is not None and workers is not None:
            raise IrbenchError(
                "--workers sizes the local cluster; with --scheduler the cluster's size is set "
                "by the `dask worker` processes you started"
            )
        from irbench.distributed.cluster import require_distributed

        require_distributed()
        from irbench.distributed.scoring import DaskEngine

        return DaskEngine(
            scheduler=scheduler,
            workers=workers,
            shard_size=parse_size(shard_size) if shard_size is not None else DEFAULT_SHARD_SIZE,
            retries=2 if retries is None else retries,
        )
    raise IrbenchError(f"unknown engine {name!r} (choose one of: {', '.join(ENGINES)})")


def resolve_engine(engine: Engine | str | None) -> Engine:
    """``None`` or ``"local"`` -> :class:`LocalEngine`; ``"dask"`` -> a Dask engine on a local
    cluster; an :class:`Engine` object as is."""
    if engine is None:
        return LocalEngine()
    if isinstance(engine, str):
        return make_engine(engine)
    if not isinstance(engine, Engine):
        raise IrbenchError(
            f"engine must be 'local', 'dask' or an engine object, got {type(engine).__name__}"
        )
    return engine


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

"""Connecting to a Dask cluster: an existing scheduler, or a local cluster for one command."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from irbench.errors import DistributedError

if TYPE_CHECKING:
    from distributed import Client

INSTALL_HINT = "install the Dask engine with: pip install 'irbench-eval[dask]'"

#: Seconds to wait for a remote scheduler before giving up with a clear error.
CONNECT_TIMEOUT = 30


def require_distributed() -> None:
    """Raise :class:`DistributedError` with the install command if Dask is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DistributedError(f"--engine dask needs dask.distributed ({INSTALL_HINT})") from exc


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator[Client]:
    """A :class:`distributed.Client` for the duration of a command.

    ``scheduler`` is the address of a running scheduler (``tcp://host:8786``, or a scheduler
    file path ending in ``.json``); without it a :class:`distributed.LocalCluster` of
    ``n_workers`` single-threaded worker processes (default: one per core) is started and shut
    down again on exit. Processes, not threads: irbench's numpy work holds the GIL in places.
    """
    require_distributed()
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            if scheduler.endswith(".json"):
                client = Client(scheduler_file=scheduler, timeout=CONNECT_TIMEOUT)
            else:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise DistributedError(
                f"cannot reach the Dask scheduler at {scheduler!r}: {exc} (start one with "
                "`dask scheduler` and workers with `dask worker ADDRESS`, or leave out "
                "--scheduler to run a local cluster)"
            ) from exc
        with client:
            yield client
        return
    workers = n_workers or os.cpu_count() or 1
    if workers < 1:
        raise DistributedError(f"the number of workers must be >= 1 (got {workers})")
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client

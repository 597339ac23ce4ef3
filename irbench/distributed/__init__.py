"""Running irbench on a Dask cluster: the optional engine behind ``--engine dask``.

Needs the extra ``irbench-eval[dask]`` (``dask[distributed]``); nothing here is imported by
``import irbench`` or by the local engine.
"""

from __future__ import annotations

from irbench.distributed.cluster import dask_client

__all__ = ["dask_client"]

"""irbench.distributed.tasks without a cluster: order, cancel-on-first-failure, messages, warnings.

The futures and client are stand-ins (``distributed.as_completed`` yields them in a given
completion order), so these run in milliseconds; tests/test_dask_engine.py and
tests/test_dask_run.py run the same path on real LocalClusters."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

from irbench.distributed import tasks  # noqa: E402
from irbench.errors import DistributedError, InputFormatError  # noqa: E402


@dataclass
class FakeFuture:
    key: str
    value: Any = None
    status: str = "finished"
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    def exception(self) -> BaseException | None:
        return self.error


@dataclass
class FakeClient:
    cancelled: list[str] = field(default_factory=list)

    def cancel(self, futures: Sequence[FakeFuture]) -> None:
        self.cancelled += [f.key for f in futures]


@pytest.fixture
def completion(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The order in which futures complete (indexes); default: reversed."""
    order: list[int] = []

    def as_completed(futures: Sequence[FakeFuture]) -> Iterator[FakeFuture]:
        yield from (futures[i] for i in (order or range(len(futures) - 1, -1, -1)))

    monkeypatch.setattr(distributed, "as_completed", as_completed)
    return order


def test_shard_results_come_back_in_submission_order(completion: list[int]) -> None:
    futures = [FakeFuture(f"k{i}", value=i * 10) for i in range(4)]
    got = tasks.gather_shards(FakeClient(), futures, ["a", "b", "c", "d"])
    assert got == [0, 10, 20, 30]


def test_first_failed_shard_cancels_everything_and_names_itself(completion: list[int]) -> None:
    client = FakeClient()
    futures = [FakeFuture("k0", 1), FakeFuture("k1", status="error", error=OSError("disk"))]
    upstream = [FakeFuture("build0"), FakeFuture("build1")]
    with pytest.raises(DistributedError, match=r"^shard 2 failed: OSError: disk \(the run was"):
        tasks.gather_shards(client, futures, ["shard 1", "shard 2"], upstream=upstream)
    assert client.cancelled == ["k0", "k1", "build0", "build1"]


def test_cancelled_shard_says_so(completion: list[int]) -> None:
    with pytest.raises(DistributedError, match="shard 1 was cancelled on the cluster"):
        tasks.gather_shards(FakeClient(), [FakeFuture("k", status="cancelled")], ["shard 1"])


def test_outcomes_replay_warnings_and_keep_irbench_exit_codes(completion: list[int]) -> None:
    def warns(x: int) -> int:
        warnings.warn(f"careful {x}", UserWarning, stacklevel=1)
        return x + 1

    futures = [FakeFuture(f"k{i}", tasks.attempt(warns, i)) for i in range(2)]
    with pytest.warns(UserWarning) as caught:
        assert tasks.gather_outcomes(FakeClient(), futures, ["r1", "r2"]) == [1, 2]
    assert [str(w.message) for w in caught] == ["careful 0", "careful 1"]  # job order

    def bad() -> None:
        raise InputFormatError("line 3 is broken", path="run.txt")

    client = FakeClient()
    failing = [FakeFuture("ok", tasks.attempt(warns, 5)), FakeFuture("bad", tasks.attempt(bad))]
    with pytest.raises(DistributedError, match=r"^run 'x' failed: run\.txt: line 3") as info:
        tasks.gather_outcomes(client, failing, ["run 'ok'", "run 'x'"])
    assert info.value.exit_code == InputFormatError("x").exit_code
    assert client.cancelled == ["ok", "bad"]


def test_killed_worker_gets_the_memory_hint(completion: list[int]) -> None:
    class KilledWorker(Exception):
        pass

    future = FakeFuture("k", error=KilledWorker("gone"))
    with pytest.raises(DistributedError, match=r"failed on the cluster: KilledWorker: gone \(work"):
        tasks.gather_outcomes(FakeClient(), [future], ["run 'a'"])


def test_keys_are_unique_per_call() -> None:
    @dataclass
    class Recorder:
        keys: list[str] = field(default_factory=list)

        def submit(self, fn: Any, *args: Any, key: str, retries: int, pure: bool) -> str:
            assert retries == 3 and pure is False
            self.keys.append(key)
            return key

    client = Recorder()
    tasks.submit_all(client, print, [(1,), (2,)], "x", 3)
    tasks.submit_all(client, print, [(1,)], "x", 3)
    assert client.keys[0].startswith("irbench-x-0-") and client.keys[1].startswith("irbench-x-1-")
    assert len(set(client.keys)) == 3

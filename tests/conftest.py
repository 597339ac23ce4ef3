"""Shared fixtures: the read-only real data in ../shared/data (beside the repository).

Without ../shared/data (a fresh clone), every test that asks for the ``shared_data`` fixture is
skipped by one ``pytest.skip`` call, so ``-ra`` folds them into ONE line with their count; the
rest of the suite runs on data the repository ships (``dl19_data``: the TREC DL 2019 qrels and
six runs in irbench/data/demo, byte for byte the files of shared/data). Under CI (``CI`` set to
true) the data must be there: pytest stops at start-up instead of skipping anything.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Wall-clock deadlines make property tests flaky on shared, loaded machines: correctness, not
# speed, is what they test (speed is shown by bench/).
settings.register_profile(
    "irbench", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("irbench")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


SHARED_MISSING = (
    "needs ../shared/data (the real data), which is not beside the repo: put shared/ there "
    "to run these tests (CI does)"
)
# The shipped demo files (irbench/data/demo/dl19-passage) and their names in shared/data.
DEMO_DL19 = REPO / "irbench" / "data" / "demo" / "dl19-passage"
DEMO_SYSTEMS = {
    "bm25": "BM25",
    "bm25-rm3": "BM25_RM3",
    "tas-b": "D_BERT_KD_TASB",
    "openai-ada2": "OPEN_AI_ADA2",
    "repllama": "REP_LLAMA",
    "splade-pp-ed": "SPLADE_P_P_ENSEMBLE_DISTIL",
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config: pytest.Config) -> None:
    if _in_ci() and not SHARED_DATA.is_dir():
        raise pytest.UsageError(
            f"CI is set but the real test data is missing at {SHARED_DATA}: CI must lay "
            "shared/ beside the repo (under CI no test may skip for want of it)"
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_MISSING)
    return SHARED_DATA


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Report every skip for want of shared/ at one place, so ``-ra`` folds them into one line
    (pytest would name each test's own line)."""
    outcome = yield
    report = outcome.get_result()
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and SHARED_MISSING in str(longrepr[2]):
        report.longrepr = (__file__, _SKIP_LINE, longrepr[2])


# the line of the pytest.skip call above, where -ra then points
_SKIP_LINE = next(
    i
    for i, line in enumerate(Path(__file__).read_text().splitlines(), 1)
    if "skip(SHARED_MISSING" in line
)


@pytest.fixture(scope="session")
def dl19_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as shared/data for TREC DL 2019 passage: ``trec-dl/qrels.dl19-passage.txt``
    and ``runs-rank_llm/<SYSTEM>/trec_results_dl19.txt`` (REP_LLAMA's ``.txt.gz``). It is
    ../shared/data when present, else the same files unpacked from the shipped demo."""
    if SHARED_DATA.is_dir():
        return SHARED_DATA
    return unpack_demo_dl19(tmp_path_factory.mktemp("dl19-shipped"))


def unpack_demo_dl19(root: Path) -> Path:
    """Lay the shipped DL19 demo files out under *root* with shared/data's names."""
    (root / "trec-dl").mkdir(parents=True)
    _gunzip(DEMO_DL19 / "qrels.txt.gz", root / "trec-dl" / "qrels.dl19-passage.txt")
    for name, system in DEMO_SYSTEMS.items():
        folder = root / "runs-rank_llm" / system
        folder.mkdir(parents=True)
        source = DEMO_DL19 / "runs" / f"{name}.run.gz"
        if system == "REP_LLAMA":  # gzipped in shared/data too
            shutil.copyfile(source, folder / "trec_results_dl19.txt.gz")
        else:
            _gunzip(source, folder / "trec_results_dl19.txt")
    return root


def _gunzip(source: Path, target: Path) -> None:
    with gzip.open(source, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst)


@pytest.fixture(scope="session")
def trec_eval_tests(shared_data: Path) -> Path:
    return shared_data / "trec_eval-tests"

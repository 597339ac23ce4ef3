"""Shared fixtures: the read-only real data in ../shared/data (beside the repository)."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        raise RuntimeError(
            f"real test data not found at {SHARED_DATA}: CI lays shared/ beside the repo"
        )
    return SHARED_DATA


@pytest.fixture(scope="session")
def trec_eval_tests(shared_data: Path) -> Path:
    return shared_data / "trec_eval-tests"

"""`irbench demo` lists the DL19 runs baseline first, then by name."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from irbench.cli.demo_cmd import _dl19, demo_dir, demo_runs

EXPECTED = ["bm25", "bm25-rm3", "openai-ada2", "repllama", "splade-pp-ed", "tas-b"]


def test_demo_runs_baseline_first_then_by_name() -> None:
    assert [p.name.removesuffix(".run.gz") for p in demo_runs(demo_dir())] == EXPECTED


def test_demo_table_prints_that_order(capsys: pytest.CaptureFixture[str]) -> None:
    _dl19(Console(width=160))
    out = capsys.readouterr().out
    table = out.split("Against BM25")[0]
    found = [n for n in re.findall(r"^\s*([a-z0-9-]+)\s", table, re.M) if n in EXPECTED]
    assert found == EXPECTED

"""`irbench eval`'s table without rich (a cold-start shortcut for pipes and files) is the text
rich prints, byte for byte, and rich still draws it wherever it would draw it differently."""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irbench.cli import eval_output
from irbench.engine import Evaluator
from irbench.measures import parse_measure

DEMO = Path(__file__).resolve().parents[1] / "irbench" / "data" / "demo" / "dl19-passage"
RICH_ENV = ("FORCE_COLOR", "TTY_COMPATIBLE", "JUPYTER_COLUMNS", "JPY_PARENT_PID", "VSCODE_PID")


@dataclass
class FakeScores:
    run: str
    query_ids: pa.Array
    values: dict[Any, np.ndarray]
    aggregates: dict[Any, float] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in RICH_ENV:
        monkeypatch.delenv(key, raising=False)


def _printed(scores: list[Any], measures: list[Any], per_query: bool, *, rich: bool) -> str:
    out = io.StringIO()
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(out))
        if rich:
            mp = stack.enter_context(pytest.MonkeyPatch.context())
            mp.setattr(eval_output, "_plain_table", lambda *args: None)
        eval_output.print_scores_table(scores, measures, per_query)
    return out.getvalue()


def _same_as_rich(scores: list[Any], measures: list[Any], per_query: bool) -> bool:
    """True when the shortcut drew the table (it then must equal rich's); False when it left
    it to rich."""
    with contextlib.redirect_stdout(io.StringIO()):
        plain = eval_output._plain_table(scores, measures, per_query)
    if plain is None:
        return False
    assert plain == _printed(scores, measures, per_query, rich=True)
    assert _printed(scores, measures, per_query, rich=False) == plain
    return True


@pytest.fixture(scope="module")
def demo_scores() -> tuple[list[Any], list[Any]]:
    ev = Evaluator(DEMO / "qrels.txt.gz", ["nDCG@10", "AP(rel=2)", "RR(rel=2)@10", "NumRet"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = sorted((DEMO / "runs").glob("*.run.gz"))
        return [ev.score(r, name=r.name.removesuffix(".run.gz")) for r in runs], ev.measures


def test_demo_tables_are_rich_s_text(demo_scores: tuple[list[Any], list[Any]]) -> None:
    scores, measures = demo_scores
    for per_query in (False, True):
        assert _same_as_rich(scores, measures, per_query)  # all six runs
        for s in scores:
            assert _same_as_rich([s], measures[:2], per_query)


def test_rich_draws_what_the_shortcut_cannot(
    demo_scores: tuple[list[Any], list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    scores, measures = demo_scores
    gains = [parse_measure("nDCG(gains={0:0,1:1,2:3})")]  # ':' could be an emoji code
    fake = FakeScores("x", pa.array(["1"]), {gains[0]: np.array([0.5])}, {gains[0]: 0.5})
    assert not _same_as_rich([fake], gains, True)
    with contextlib.redirect_stdout(io.StringIO()):
        monkeypatch.setenv("FORCE_COLOR", "1")
        assert eval_output._plain_table(scores[:1], measures, False) is None
        monkeypatch.delenv("FORCE_COLOR")
        assert eval_output._plain_table(scores[:1], measures, False) is not None

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with contextlib.redirect_stdout(Terminal()):
        assert eval_output._plain_table(scores[:1], measures, False) is None
    latin1 = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    with contextlib.redirect_stdout(latin1):
        assert eval_output._plain_table(scores[:1], measures, False) is None


names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40)
values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6),
    st.just(math.nan),
    st.integers(0, 10**6).map(float),
)


@settings(max_examples=150, deadline=None)
@given(
    runs=st.lists(names, min_size=1, max_size=4),
    qids=st.lists(names, min_size=1, max_size=4),
    measure_names=st.lists(
        st.sampled_from(["AP", "nDCG@10", "P(rel=2)@5", "RR@10", "NumQ", "R@1000"]),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    per_query=st.booleans(),
    data=st.data(),
)
def test_any_table_is_rich_s_text_or_left_to_rich(
    runs: list[str], qids: list[str], measure_names: list[str], per_query: bool, data: Any
) -> None:
    measures = [parse_measure(m) for m in measure_names]
    scores = []
    for run in runs:
        vals = {m: np.array([data.draw(values) for _ in qids]) for m in measures}
        aggs = {m: data.draw(values) for m in measures}
        scores.append(FakeScores(run, pa.array(qids), vals, aggs))
    drawn = _same_as_rich(scores, measures, per_query)
    printable = all(not set(t) & set("[]\\:") for t in [*runs, *qids])
    if printable and len(runs) == 1 and all(len(t) < 20 for t in [*runs, *qids]):
        assert drawn  # the common case takes the shortcut
    assert all(math.isfinite(a) or math.isnan(a) for s in scores for a in s.aggregates.values())


@pytest.mark.parametrize(
    ("length", "drawn"), [(100, True), (129, True), (130, False), (300, False)]
)
def test_wide_tables_are_left_to_rich(length: int, drawn: bool) -> None:
    """rich prints to a pipe 160 columns wide and squeezes a wider table; the shortcut draws
    only tables narrower than that."""
    measures = [parse_measure(m) for m in ("AP", "nDCG@10", "RR@10")]
    run = FakeScores("r" * length, pa.array(["q1"]), {m: np.array([0.5]) for m in measures})
    run.aggregates = {m: 0.25 for m in measures}
    assert _same_as_rich([run], measures, False) is drawn

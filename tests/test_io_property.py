"""Property tests: TREC text with random whitespace/CRLF/comment noise reads back identically."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irbench.io import _trec, read_qrels, read_run, write_run

ID_CHARS = st.characters(
    codec="utf-8",
    exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
    exclude_characters="#\x85\xa0\u1680\u180e\u2028\u2029\ufeff",
)
IDS = st.text(ID_CHARS, min_size=1, max_size=8).filter(lambda s: not s.startswith("#"))
SCORES = st.floats(allow_nan=False, width=64)
SEPARATORS = st.sampled_from([" ", "  ", "\t", " \t ", "\x0b", "\x0c", "\t\t"])
EDGES = st.sampled_from(["", " ", "\t", "  ", "\r"])
NOISE_LINES = st.sampled_from(["", "   ", "\t", "# comment", "  # indented comment 1 2 3 4 5"])


@st.composite
def noisy_file(draw: st.DrawFn, records: list[list[str]]) -> bytes:
    """Render *records* as TREC text with random separators, edges, blank/comment lines."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    out = []
    for fields in records:
        for _ in range(draw(st.integers(0, 1))):
            out.append(draw(NOISE_LINES))
        text = draw(EDGES)
        for i, field in enumerate(fields):
            text += field + (draw(SEPARATORS) if i < len(fields) - 1 else "")
        out.append(text + draw(EDGES))
    body = newline.join(out)
    if draw(st.booleans()):
        body += newline
    return body.encode("utf-8")


RUN_ROWS = st.lists(st.tuples(IDS, IDS, SCORES), min_size=1, max_size=30)
QRELS_ROWS = st.lists(
    st.tuples(IDS, IDS, st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=30
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(data=st.data(), rows=RUN_ROWS, extra=st.booleans())
def test_noisy_run_reads_back(
    data: st.DataObject, rows: list[tuple[str, str, float]], extra: bool
) -> None:
    records = [
        [q, "Q0", d, str(i), repr(s), "tag"] + (["junk"] if extra else [])
        for i, (q, d, s) in enumerate(rows)
    ]
    raw = data.draw(noisy_file(records))
    table = _trec.parse_trec(raw, _trec.RUN_FORMAT, "prop")
    got = [(r["query_id"], r["doc_id"], r["score"]) for r in table.to_pylist()]
    assert got == rows
    assert table.equals(_trec._slow_parse(raw, _trec.RUN_FORMAT, "prop"))


@SETTINGS
@given(data=st.data(), rows=QRELS_ROWS)
def test_noisy_qrels_reads_back(data: st.DataObject, rows: list[tuple[str, str, int]]) -> None:
    unique = list({(q, d): (q, d, g) for q, d, g in rows}.values())
    raw = data.draw(noisy_file([[q, "0", d, str(g)] for q, d, g in unique]))
    table = _trec.parse_trec(raw, _trec.QRELS_FORMAT, "prop")
    got = [(r["query_id"], r["doc_id"], r["relevance"]) for r in table.to_pylist()]
    assert got == unique


@SETTINGS
@given(rows=RUN_ROWS)
def test_write_then_read_run(tmp_path: Path, rows: list[tuple[str, str, float]]) -> None:
    unique = {(q, d): s for q, d, s in rows}
    source = [(q, d, s) for (q, d), s in unique.items()]
    path = tmp_path / "out.run"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_run(source, path, name="prop")
    back = read_run(path)
    got = {(r["query_id"], r["doc_id"]): r["score"] for r in back.to_pylist()}
    assert got.keys() == unique.keys()
    if not any("float32" in str(w.message) for w in caught):  # written exactly
        for key, score in unique.items():
            assert got[key] == score and math.copysign(1, got[key]) == math.copysign(1, score)
        return
    # scores equal in float32 were written apart (io.writers.float32_distinct): per query, the
    # float32 values read back order the documents as the doubles did, ties kept
    for q in {q for q, _ in unique}:
        keys = [k for k in unique if k[0] == q]
        for a in keys:
            for b in keys:
                if unique[a] > unique[b]:
                    assert np.float32(got[a]) > np.float32(got[b]), (a, b, unique[a], unique[b])
                elif unique[a] == unique[b]:
                    assert got[a] == got[b]


@SETTINGS
@given(rows=QRELS_ROWS)
def test_qrels_file_round_trip(tmp_path: Path, rows: list[tuple[str, str, int]]) -> None:
    unique = list({(q, d): (q, d, g) for q, d, g in rows}.values())
    path = tmp_path / "q.txt"
    path.write_text("".join(f"{q} 0 {d} {g}\n" for q, d, g in unique), encoding="utf-8")
    back = read_qrels(path)
    assert [(r["query_id"], r["doc_id"], r["relevance"]) for r in back.to_pylist()] == unique

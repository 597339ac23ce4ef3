"""Differential tests: irbench against pytrec_eval (trec_eval 9.0.x) on adversarial random
cases, and every read path against every other on the same cases (tests/_differential.py).

The budget is fixed and seeded in `make test` (``IRBENCH_FUZZ_EXAMPLES`` examples per test,
the same cases every run); `make fuzz` draws many more, new ones each time. The mutation tests
break the engine on purpose, as earlier bugs did, and require the generators and the
comparison to catch it.
"""

from __future__ import annotations

import gzip
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from _differential import BUDGET, FLAG_SETS, RANDOM, Case, cases, mismatches
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import irbench
from irbench.engine import Evaluator, RunScores
from irbench.engine.runs import ReadPolicy, score_partitions_part, score_run
from irbench.engine.scores import PartialScores
from irbench.io import write_parquet

pytest.importorskip("pytrec_eval")  # a declared dev dependency: present in CI

FUZZ = settings(
    max_examples=BUDGET,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: A mix of measure families for the read-path comparison (every kernel kind at least once).
PATH_MEASURES = [
    "AP", "nDCG@10", "nDCG", "RR", "P@5", "R@10", "Rprec", "Bpref", "infAP", "IPrec@0.2",
    "IPrecAvg", "SetF", "NumRet", "NumRel", "NumRet(rel=1)", "Judged@5", "GMAP", "ERR@10",
    "RBP(p=0.5)", "AP@10", "Success@3",
]  # fmt: skip


@pytest.mark.parametrize("flags", list(FLAG_SETS), ids=list(FLAG_SETS))
def test_agrees_with_pytrec_eval(flags: str) -> None:
    @FUZZ
    @given(cases())
    def check(case: Case) -> None:
        problems = mismatches(case, FLAG_SETS[flags])
        assert not problems, "\n".join(problems + case.notes)

    check()


# ------------------------------------------------------------------------- mutation checks


def _old_string_hashes(arr: Any) -> np.ndarray:
    """The fingerprint as it was before the fix: one mixing round per 8-byte word of the
    *longest* string of the array, so an id's fingerprint depended on its neighbours."""
    from irbench.engine import fingerprint as fp

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets, data = fp._offsets_and_data(arr)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    h = lengths.astype(np.uint64) * fp._M1
    if len(arr) == 0:
        return h
    words = fp._words_at_every_byte(np.concatenate([data, np.zeros(8, dtype=np.uint8)]))
    for w in range(0, max(int(lengths.max()), 1), 8):
        word = words[np.minimum(starts + w, words.size - 1)]
        word &= fp._TAIL_MASK[np.clip(lengths - w, 0, 8)]
        fp._mix(h, word)
    return h


def _double_order(scores: np.ndarray, compat: str = "9") -> np.ndarray:
    """trec_eval 10.0's order whatever ``compat`` says (the float32 rule removed)."""
    return scores.astype(np.float64)


@pytest.mark.parametrize(
    ("mutation", "flags"),
    [("fingerprint", "none"), ("float64-order", "none"), ("float64-order", "M5")],
)
def test_the_differential_test_catches_mutations(
    monkeypatch: pytest.MonkeyPatch, mutation: str, flags: str
) -> None:
    """Break the engine as the bugs of issue 14 did: the comparison must find a case."""
    import irbench.engine.qrels as qrels_mod
    import irbench.engine.ranking as ranking_mod

    if mutation == "fingerprint":
        monkeypatch.setattr(ranking_mod, "string_hashes", _old_string_hashes)
        monkeypatch.setattr(qrels_mod, "string_hashes", _old_string_hashes)
    else:
        monkeypatch.setattr(ranking_mod, "sort_scores", _double_order)
    found = find(
        cases(),
        lambda case: bool(mismatches(case, FLAG_SETS[flags])),
        # the first failing case is proof enough: no shrinking (minutes of pytrec_eval calls)
        settings=settings(
            max_examples=2000,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate],
        ),
    )
    assert mismatches(found, FLAG_SETS[flags])


# ------------------------------------------------------------------------------ read paths


def _quiet(fn: Any, *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _by_query(scores: RunScores) -> dict[str, dict[str, float]]:
    qids = scores.query_ids.to_pylist()
    out = {str(m): dict(zip(qids, v.tolist(), strict=True)) for m, v in scores.values.items()}
    for m, v in scores.aggregates.items():
        out[str(m)]["all"] = v
    return out


def _from_results(table: pa.Table) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for m, q, v in zip(
        table.column("measure").to_pylist(),
        table.column("query_id").to_pylist(),
        table.column("value").to_pylist(),
        strict=True,
    ):
        out.setdefault(m, {})[q] = v
    return out


def _same(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]) -> bool:
    """Equal to the last bit (NaN equal to NaN)."""
    if a.keys() != b.keys():
        return False
    for m in a:
        if a[m].keys() != b[m].keys():
            return False
        x = np.array([a[m][q] for q in a[m]], dtype=np.float64)
        y = np.array([b[m][q] for q in a[m]], dtype=np.float64)
        if not np.array_equal(x, y, equal_nan=True):
            return False
    return True


def _write_files(case: Case, tmp: Path) -> dict[str, Path]:
    files = {
        "qrels": tmp / "qrels.txt",
        "grouped": tmp / "grouped.run",
        "interleaved": tmp / "interleaved.run",
        "gz": tmp / "grouped.run.gz",
        "parquet": tmp / "run.parquet",
        "jsonl": tmp / "run.jsonl",
    }
    files["qrels"].write_text(case.qrels_text(), encoding="utf-8")
    grouped = case.run_text(grouped=True)
    files["grouped"].write_text(grouped, encoding="utf-8")
    files["interleaved"].write_text(case.run_text(), encoding="utf-8")
    files["gz"].write_bytes(gzip.compress(grouped.encode()))
    write_parquet(case.run_table(), files["parquet"])
    files["jsonl"].write_text(
        "".join(
            json.dumps({"query_id": q, "doc_id": d, "score": s}) + "\n" for q, d, s, _ in case.run
        ),
        encoding="utf-8",
    )
    return files


def _chunked(table: pa.Table, pieces: int) -> pa.Table:
    """The same rows in ``pieces`` record batches (chunked columns)."""
    step = max(1, table.num_rows // pieces)
    return pa.concat_tables([table.slice(i, step) for i in range(0, table.num_rows, step)])


def _by_query_shards(ev: Evaluator, table: pa.Table) -> RunScores:
    """Split by query into parts, score each, merge (what shards and chunks do)."""
    qids = table.column("query_id").to_pylist()
    parts: list[PartialScores] = []
    for q in dict.fromkeys(qids):
        rows = pa.array([i for i, x in enumerate(qids) if x == q])
        parts.append(ev.score_part(table.take(rows)))
    merged = parts[0]
    for p in parts[1:]:
        merged = merged.merge(p)
    return ev.finish(merged, "r")


def _stdin(case: Case, files: dict[str, Path], flags: dict[str, Any]) -> dict[str, Any]:
    """`irbench eval QRELS -` with the run on standard input, JSON Lines out."""
    from irbench.cli.app import app

    args = ["eval", str(files["qrels"]), "r=-", "-q", "--format", "jsonl"]
    for m in PATH_MEASURES:
        args += ["-m", m]
    for flag, value in flags.items():
        args += {
            "complete": ["-c"],
            "judged_only": ["-J"],
            "rel_level": ["-l", str(value)],
            "max_results": ["-M", str(value)],
        }[flag]
    result = CliRunner().invoke(app, args, input=case.run_text(grouped=True))
    assert result.exit_code == 0, result.output
    out: dict[str, dict[str, float]] = {}
    for line in result.stdout.splitlines():
        row = json.loads(line)
        out.setdefault(row["measure"], {})[row["query_id"]] = row["value"]
    return out


@FUZZ
@given(cases(), st.sampled_from(list(FLAG_SETS)), st.sampled_from([16, 97, 400]))
def test_every_read_path_gives_the_same_numbers(case: Case, flag_set: str, chunk: int) -> None:
    """Whole table, chunked columns, query shards, run files grouped or interleaved (chunked
    and partitioned readers, with chunks small enough to split queries), --stream, .gz,
    Parquet, JSONL, pandas, dict, the Python API and stdin through the CLI: identical bits."""
    import tempfile

    flags = FLAG_SETS[flag_set]
    ev = Evaluator(case.qrels_table(), PATH_MEASURES, **flags)
    table = case.run_table()
    want = _by_query(_quiet(ev.score_table, table, name="r"))
    with tempfile.TemporaryDirectory() as tmp:
        files = _write_files(case, Path(tmp))
        got: dict[str, dict[str, dict[str, float]]] = {
            "chunked columns": _by_query(_quiet(ev.score_table, _chunked(table, 3), name="r")),
            "query shards": _by_query(_quiet(_by_query_shards, ev, table)),
            "grouped file": _by_query(_quiet(ev.score, str(files["grouped"]))),
            "interleaved file": _by_query(_quiet(ev.score, str(files["interleaved"]))),
            "stream, small chunks": _by_query(
                _quiet(score_run, ev, str(files["grouped"]), None, ReadPolicy(True, chunk))
            ),
            "partitions, small chunks": _by_query(
                ev.finish(
                    *_quiet(score_partitions_part, ev, str(files["interleaved"]), chunk_bytes=chunk)
                )
            ),
            "gzip": _by_query(_quiet(ev.score, str(files["gz"]))),
            "parquet": _by_query(_quiet(ev.score, str(files["parquet"]))),
            "jsonl": _by_query(_quiet(ev.score, str(files["jsonl"]))),
            "pandas": _by_query(_quiet(ev.score, table.to_pandas())),
            "dict": _by_query(_quiet(ev.score, case.run_dict())),
            "evaluate()": _from_results(
                _quiet(irbench.evaluate, case.qrels_table(), table, PATH_MEASURES, **flags)
            ),
            "stdin (CLI)": _stdin(case, files, flags),
        }
    for path, values in got.items():
        assert _same(values, want), (path, flag_set, case.notes)


def test_read_path_comparison_can_fail() -> None:
    """`_same` is not vacuous: one changed bit in one value is a difference."""
    a = {"AP": {"q": 0.5, "all": 0.5}}
    b = {"AP": {"q": np.nextafter(0.5, 1.0), "all": 0.5}}
    assert _same(a, a) and not _same(a, b)

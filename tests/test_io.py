"""Tests of irbench.io: TREC parsing rules, errors with physical lines, sources, writers."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from irbench.errors import DuplicateEntryError, InputFormatError, IrbenchWarning, MissingFileError
from irbench.io import (
    QRELS_SCHEMA,
    RUN_NAME_KEY,
    RUN_SCHEMA,
    _trec,
    locate_lines,
    read_qrels,
    read_run,
    write_parquet,
    write_run,
)

RUN_TEXT = (
    "1 Q0 d1 1 3.5 tagA\n1 Q0 d2 2 2.25 tagA\n2 Q0 007 1 -1e-3 tagA\n10 Q0 d9 1 140998.0 tagB\n"
)
RUN_ROWS = [
    ("1", "d1", 3.5),
    ("1", "d2", 2.25),
    ("2", "007", -0.001),
    ("10", "d9", 140998.0),
]
QRELS_TEXT = "1 0 d1 1\n1 0 d2 0\n2 0 007 2\n10 0 d9 -1\n"
QRELS_ROWS = [("1", "d1", 1), ("1", "d2", 0), ("2", "007", 2), ("10", "d9", -1)]


def rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in table.to_pylist()]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def run_error(tmp_path: Path, content: str | bytes, name: str = "bad.run") -> InputFormatError:
    path = write(tmp_path, name, content)
    with pytest.raises(InputFormatError) as info:
        read_run(path)
    assert name in str(info.value)
    return info.value


def qrels_error(tmp_path: Path, content: str | bytes, name: str = "bad.qrels") -> InputFormatError:
    path = write(tmp_path, name, content)
    with pytest.raises(InputFormatError) as info:
        read_qrels(path)
    assert name in str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------
# accepted TREC text
# ---------------------------------------------------------------------------------------------


def test_clean_run_and_schema(tmp_path: Path) -> None:
    table = read_run(write(tmp_path, "r.txt", RUN_TEXT))
    assert table.schema.equals(RUN_SCHEMA)
    assert rows(table) == RUN_ROWS
    assert table.schema.metadata[RUN_NAME_KEY] == b"tagB"  # tag of the last line


def test_clean_qrels(tmp_path: Path) -> None:
    table = read_qrels(write(tmp_path, "q.txt", QRELS_TEXT))
    assert table.schema.equals(QRELS_SCHEMA)
    assert rows(table) == QRELS_ROWS


NOISY_RUNS = {
    "crlf": RUN_TEXT.replace("\n", "\r\n"),
    "tabs": RUN_TEXT.replace(" ", "\t"),
    "spaces": "  " + RUN_TEXT.replace(" ", "   ").replace("\n", "  \n"),
    "vt_ff": RUN_TEXT.replace(" ", " \x0b\x0c"),
    "no_final_newline": RUN_TEXT.rstrip("\n"),
    "blank_lines": "\n\n" + RUN_TEXT.replace("\n", "\n \n\t\n") + "\n",
    "comments": "# header\n" + RUN_TEXT.replace("2 Q0 007", "  # note\n2 Q0 007") + "#end",
    "extra_columns": RUN_TEXT.replace("tagA", "tagA junk more").replace("tagB", "tagB x"),
    "extra_columns_everywhere": RUN_TEXT.replace("\n", " x 1.5\n"),
    "mixed": "# c\r\n\t" + RUN_TEXT.replace("\n", " \r\n").replace("Q0 ", "Q0\t\t"),
}


@pytest.mark.parametrize("variant", sorted(NOISY_RUNS))
def test_noisy_run_equals_clean(tmp_path: Path, variant: str) -> None:
    table = read_run(write(tmp_path, f"{variant}.run", NOISY_RUNS[variant]))
    assert rows(table) == RUN_ROWS
    assert table.schema.metadata[RUN_NAME_KEY] in (b"tagB", b"tagB")


def test_extra_run_columns_on_every_line_stay_on_the_fast_path() -> None:
    """The same extra columns on every line are parsed by pyarrow (no line-by-line pass); lines
    with different numbers of columns go to the precise path, which also accepts them."""
    from irbench.io import _trec

    uniform = NOISY_RUNS["extra_columns_everywhere"].encode()
    fast = _trec._fast_parse(uniform, _trec.RUN_FORMAT)
    assert fast is not None and rows(fast) == RUN_ROWS
    assert _trec._fast_parse(NOISY_RUNS["extra_columns"].encode(), _trec.RUN_FORMAT) is None


@pytest.mark.parametrize(
    "content",
    [
        QRELS_TEXT.replace("\n", "\r\n"),
        QRELS_TEXT.replace(" ", "\t"),
        " " + QRELS_TEXT.replace(" ", "  ").replace("\n", " \n"),
        "# judged by NIST\n" + QRELS_TEXT.replace("2 0 007", "\n# x y z\n2 0 007"),
        QRELS_TEXT.rstrip("\n"),
        QRELS_TEXT.replace("0 d1 1", "0 d1 +1"),
    ],
)
def test_noisy_qrels_equals_clean(tmp_path: Path, content: str) -> None:
    assert rows(read_qrels(write(tmp_path, "q.txt", content))) == QRELS_ROWS


def test_ids_are_strings_kept_verbatim(tmp_path: Path) -> None:
    table = read_run(write(tmp_path, "r", "007 Q0 0042 1 1 t\n1e3 Q0 Doc 2 inf t\n"))
    assert rows(table) == [("007", "0042", 1.0), ("1e3", "Doc", float("inf"))]


def test_utf8_ids(tmp_path: Path) -> None:
    table = read_run(write(tmp_path, "r", "q\u00e9 Q0 d\u4e2d 1 1.5 t\n"))
    assert rows(table) == [("q\u00e9", "d\u4e2d", 1.5)]


def test_run_name_priority(tmp_path: Path) -> None:
    path = write(tmp_path, "my.run.txt", RUN_TEXT)
    assert read_run(path, name="given").schema.metadata[RUN_NAME_KEY] == b"given"
    table = read_run(write(tmp_path, "x.jsonl", '{"qid": "1", "docno": "d", "score": 1}\n'))
    assert table.schema.metadata[RUN_NAME_KEY] == b"x"


def test_gzip_detected_by_magic_bytes(tmp_path: Path) -> None:
    packed = gzip.compress(RUN_TEXT.encode())
    assert rows(read_run(write(tmp_path, "r.txt.gz", packed))) == RUN_ROWS
    assert rows(read_run(write(tmp_path, "no_suffix.txt", packed))) == RUN_ROWS
    # a plain file with a .gz suffix is read as plain text
    assert rows(read_run(write(tmp_path, "plain.gz", RUN_TEXT))) == RUN_ROWS
    qrels = gzip.compress(QRELS_TEXT.encode())
    assert rows(read_qrels(write(tmp_path, "q.gz", qrels))) == QRELS_ROWS


def test_corrupt_gzip(tmp_path: Path) -> None:
    packed = gzip.compress(RUN_TEXT.encode())[:-12]
    error = run_error(tmp_path, packed, name="cut.gz")
    assert "gzip" in str(error)


class _FakeStdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(RUN_TEXT.encode())))
    assert rows(read_run("-")) == RUN_ROWS
    monkeypatch.setattr(sys, "stdin", _FakeStdin(gzip.compress(QRELS_TEXT.encode())))
    assert rows(read_qrels("-")) == QRELS_ROWS


def test_stdin_error_names_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"1 Q0 d 1 x t\n")))
    with pytest.raises(InputFormatError, match=r"<stdin>:1: "):
        read_run("-")


# ---------------------------------------------------------------------------------------------
# errors: file name, physical line, hint
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MissingFileError, match=r"nope\.txt"):
        read_run(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError):
        read_qrels(str(tmp_path / "nope.txt"))


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="directory"):
        read_run(tmp_path)


def test_too_few_run_fields_physical_line(tmp_path: Path) -> None:
    content = "# comment\n\n1 Q0 d1 1 1.0 t\n   \n# other\n1 Q0 d2 2 0.5\n1 Q0 d3 3 0.1 t\n"
    error = run_error(tmp_path, content)
    assert error.line == 6
    assert "bad.run:6:" in str(error)
    assert "found 5" in str(error)
    assert error.hint


def test_crlf_error_line(tmp_path: Path) -> None:
    content = "1 Q0 a 1 1 t\r\n\r\n1 Q0 b 1\r\n"
    assert run_error(tmp_path, content).line == 3


@pytest.mark.parametrize("score", ["abc", "1,5", "0x1p3", "nan", "NaN", "-nan", "1_0", "1.5.2"])
def test_bad_score(tmp_path: Path, score: str) -> None:
    error = run_error(tmp_path, f"1 Q0 a 1 1.0 t\n\n1 Q0 b 2 {score} t\n")
    assert error.line == 3
    assert "score" in str(error)
    assert error.hint


@pytest.mark.parametrize("grade", ["1.9", "x", "2e1", "1.0", "0x1", "99999999999999999999"])
def test_bad_grade(tmp_path: Path, grade: str) -> None:
    error = qrels_error(tmp_path, f"# c\n1 0 a 1\n1 0 b {grade}\n")
    assert error.line == 3
    assert "integer" in str(error)
    assert error.hint


@pytest.mark.parametrize("content,line", [("1 0 a\n", 1), ("1 0 a 1\n1 0 b 1 extra\n", 2)])
def test_qrels_wrong_field_count(tmp_path: Path, content: str, line: int) -> None:
    error = qrels_error(tmp_path, content)
    assert error.line == line
    assert "exactly 4" in str(error)


def test_run_line_with_five_fields_and_double_space(tmp_path: Path) -> None:
    # "1  a 1 2.0 t" would look like 6 fields to a naive single-space splitter
    error = run_error(tmp_path, "1 Q0 a 1 2.0 t\n1  b 2 1.0 t\n")
    assert error.line == 2


def test_bom(tmp_path: Path) -> None:
    error = run_error(tmp_path, b"\xef\xbb\xbf" + RUN_TEXT.encode())
    assert error.line == 1
    assert "BOM" in str(error)
    assert "sed" in (error.hint or "")
    error = qrels_error(tmp_path, b"\xef\xbb\xbf" + QRELS_TEXT.encode())
    assert "byte-order mark" in str(error)


def test_nul_bytes(tmp_path: Path) -> None:
    error = run_error(tmp_path, b"1 Q0 a 1 1 t\n1 Q0 b 2 1\x00 t\n")
    assert error.line == 2
    assert "NUL" in str(error)
    assert "binary" in str(error)


def test_invalid_utf8(tmp_path: Path) -> None:
    error = run_error(tmp_path, b"1 Q0 a 1 1 t\n1 Q0 b\xff 2 1 t\n")
    assert error.line == 2
    assert "UTF-8" in str(error)


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n", "  \r\n# x\n"])
def test_empty_or_no_records(tmp_path: Path, content: str) -> None:
    assert "empty" in str(run_error(tmp_path, content)) or "no run records" in str(
        run_error(tmp_path, content)
    )
    message = str(qrels_error(tmp_path, content))
    assert "empty" in message or "no qrels records" in message


def test_qrels_duplicate_names_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.qrels", "1 0 a 1\n# c\n1 0 b 0\n\n1 0 a 0\n")
    with pytest.raises(DuplicateEntryError) as info:
        read_qrels(path)
    error = info.value
    assert error.line == 5
    assert "lines 1 and 5" in str(error)
    assert "dup.qrels" in str(error)


def test_duplicate_across_iterations_is_still_duplicate(tmp_path: Path) -> None:
    with pytest.raises(DuplicateEntryError):
        read_qrels(write(tmp_path, "q", "1 0 a 1\n1 1 a 1\n"))


def test_run_duplicates_pass_reader_and_locate_lines(tmp_path: Path) -> None:
    content = "# c\n1 Q0 a 1 1 t\n1 Q0 b 2 1 t\n\n1\tQ0\ta\t3\t0.5\tt\r\n2 Q0 a 1 1 t\n"
    path = write(tmp_path, "dup.run", content)
    assert read_run(path).num_rows == 4
    assert locate_lines(path, "1", "a") == [2, 5]
    assert locate_lines(path, "2", "a") == [6]
    assert locate_lines(path, "3", "a") == []
    gz = write(tmp_path, "dup.run.gz", gzip.compress(content.encode()))
    assert locate_lines(gz, "1", "a") == [2, 5]


def test_fast_and_slow_paths_agree(tmp_path: Path) -> None:
    for text in [RUN_TEXT, *NOISY_RUNS.values()]:
        data = text.encode()
        fast = _trec.parse_trec(data, _trec.RUN_FORMAT, "x")
        slow = _trec._slow_parse(data, _trec.RUN_FORMAT, "x")
        assert fast.equals(slow)


def test_slow_path_not_used_for_clean_input(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object) -> None:
        raise AssertionError("slow path used")

    monkeypatch.setattr(_trec, "_slow_parse", boom)
    for text in [RUN_TEXT, NOISY_RUNS["crlf"], NOISY_RUNS["spaces"], NOISY_RUNS["comments"]]:
        _trec.parse_trec(text.encode(), _trec.RUN_FORMAT, "x")
    _trec.parse_trec(QRELS_TEXT.encode(), _trec.QRELS_FORMAT, "x")


# ---------------------------------------------------------------------------------------------
# other sources
# ---------------------------------------------------------------------------------------------


def test_parquet_round_trip(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "r.txt", RUN_TEXT))
    write_parquet(run, tmp_path / "r.parquet")
    back = read_run(tmp_path / "r.parquet")
    assert back.equals(run)
    assert back.schema.metadata[RUN_NAME_KEY] == b"tagB"
    qrels = read_qrels(write(tmp_path, "q.txt", QRELS_TEXT))
    write_parquet(qrels, tmp_path / "q.data")  # detected by magic bytes, not suffix
    assert read_qrels(tmp_path / "q.data").equals(qrels)


def test_parquet_numeric_ids(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    table = pa.table({"qid": [1, 2], "docid": [7.0, 42.0], "rel": pa.array([1, 0], pa.int8())})
    pq.write_table(table, tmp_path / "n.parquet")
    assert rows(read_qrels(tmp_path / "n.parquet")) == [("1", "7", 1), ("2", "42", 0)]


def test_jsonl_and_gz(tmp_path: Path) -> None:
    lines = '{"qid": 1, "docno": "d1", "score": 3.5}\n{"qid": 1, "docno": "d2", "score": 2}\n\n'
    expected = [("1", "d1", 3.5), ("1", "d2", 2.0)]
    assert rows(read_run(write(tmp_path, "r.jsonl", lines))) == expected
    packed = gzip.compress(lines.encode())
    assert rows(read_run(write(tmp_path, "r.jsonl.gz", packed))) == expected
    qrels = '{"qid": "007", "docid": "a", "relevance": 2}\n'
    assert rows(read_qrels(write(tmp_path, "q.jsonl", qrels))) == [("007", "a", 2)]


def test_jsonl_error_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"qid": "1", "docno": "a", "score": 1}\n{"qid": \n')
    with pytest.raises(InputFormatError, match=r"bad.jsonl:2:"):
        read_run(path)


def test_table_sources() -> None:
    table = pa.table({"QID": ["1"], "docno": ["a"], "sim": [2]})
    out = read_run(table, name="n")
    assert rows(out) == [("1", "a", 2.0)]
    assert out.schema.metadata[RUN_NAME_KEY] == b"n"
    assert read_run(table).schema.metadata[RUN_NAME_KEY] == b"run"
    batch = pa.RecordBatch.from_pydict({"query_id": ["1"], "doc_id": ["a"], "label": [1]})
    assert rows(read_qrels(batch)) == [("1", "a", 1)]


def test_table_errors() -> None:
    with pytest.raises(InputFormatError, match="score"):
        read_run(pa.table({"qid": ["1"], "docno": ["a"]}))
    with pytest.raises(InputFormatError, match="NaN"):
        read_run(pa.table({"qid": ["1"], "docno": ["a"], "score": [float("nan")]}))
    with pytest.raises(InputFormatError, match="missing"):
        read_run(pa.table({"qid": ["1", None], "docno": ["a", "b"], "score": [1.0, 2.0]}))
    with pytest.raises(InputFormatError, match="whole number"):
        read_qrels(pa.table({"qid": ["1"], "docno": ["a"], "rel": [1.5]}))


def test_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"qid": [1, 2], "docid": [5, 6], "docno": ["a", "007"], "score": [1, 2.5], "x": [0, 0]}
    )
    assert rows(read_run(frame)) == [("1", "a", 1.0), ("2", "007", 2.5)]
    mixed = pd.DataFrame({"query_id": [1, "b"], "doc_id": ["a", 3], "relevance": [1, 0]})
    assert rows(read_qrels(mixed)) == [("1", "a", 1), ("b", "3", 0)]
    with pytest.raises(InputFormatError, match="DataFrame"):
        read_run(pd.DataFrame({"qid": ["1"], "docno": ["a"], "score": [float("nan")]}))


def test_dict_of_dicts() -> None:
    run = read_run({"1": {"a": 1.5, "b": 2}, 2: {"c": -1.0}})
    assert rows(run) == [("1", "a", 1.5), ("1", "b", 2.0), ("2", "c", -1.0)]
    assert rows(read_qrels({"1": {"a": 1, "b": 0}})) == [("1", "a", 1), ("1", "b", 0)]
    with pytest.raises(InputFormatError, match="not an integer"):
        read_qrels({"1": {"a": 1.5}})
    with pytest.raises(InputFormatError, match="NaN"):
        read_run({"1": {"a": float("nan")}})
    with pytest.raises(InputFormatError, match="empty"):
        read_run({})


def test_ir_measures_records() -> None:
    ir_measures = pytest.importorskip("ir_measures")
    run = read_run(iter([ir_measures.ScoredDoc("1", "a", 0.5), ir_measures.ScoredDoc(2, "b", 1)]))
    assert rows(run) == [("1", "a", 0.5), ("2", "b", 1.0)]
    qrels = read_qrels([ir_measures.Qrel("1", "a", 2), ir_measures.Qrel("1", "b", 0, "Q0")])
    assert rows(qrels) == [("1", "a", 2), ("1", "b", 0)]
    assert rows(read_run([("1", "a", 1.0)])) == [("1", "a", 1.0)]
    with pytest.raises(InputFormatError, match="record 0"):
        read_run([object()])


def test_importing_io_does_not_import_pandas() -> None:
    code = "import sys, irbench.io; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------


def test_write_run_order_ranks_and_round_trip(tmp_path: Path) -> None:
    table = read_run(
        {"2": {"x": 1.0}, "1": {"a": 0.5, "b": 0.5, "c": 0.1 + 0.2, "d": 1e-300, "e": -0.0}}
    )
    path = tmp_path / "out.txt"
    with pytest.warns(IrbenchWarning, match="1 score"):
        write_run(table, path, name="mine")
    lines = path.read_text().splitlines()
    assert lines[:4] == [
        "1 Q0 b 1 0.5 mine",  # tie on 0.5: doc_id descending first
        "1 Q0 a 2 0.5 mine",
        "1 Q0 c 3 0.30000000000000004 mine",
        "1 Q0 d 4 1e-300 mine",
    ]
    # 1e-300 and -0.0 are both 0 as float32: trec_eval 9.0.x would tie them and rank e (the
    # larger id) first, so e is written as the next float32 below 0
    assert lines[4] == "1 Q0 e 5 -1e-45 mine"
    assert lines[5] == "2 Q0 x 1 1 mine"
    back = read_run(path)
    assert back.schema.metadata[RUN_NAME_KEY] == b"mine"
    expected = [(q, d, -1e-45 if d == "e" else s) for q, d, s in rows(table)]
    assert sorted(rows(back)) == sorted(expected)


def test_write_run_gzip_and_default_tag(tmp_path: Path) -> None:
    run = read_run(write(tmp_path, "r.txt", RUN_TEXT))
    write_run(run, tmp_path / "r.out.gz")
    raw = (tmp_path / "r.out.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b"
    text = gzip.decompress(raw).decode()
    assert text.splitlines()[0].endswith(" tagB")
    assert sorted(rows(read_run(tmp_path / "r.out.gz"))) == sorted(RUN_ROWS)


def test_write_run_stdout(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    write_run({"1": {"a": 2.0}}, "-", name="t")
    assert capfdbinary.readouterr().out == b"1 Q0 a 1 2 t\n"


def test_write_run_refuses_unwritable_ids(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="whitespace"):
        write_run({"1": {"a b": 1.0}}, tmp_path / "x.txt")
    with pytest.raises(InputFormatError, match="run tag"):
        write_run({"1": {"a": 1.0}}, tmp_path / "x.txt", name="my run")
    assert not list(tmp_path.iterdir())


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    path = tmp_path / "keep.parquet"
    path.write_bytes(b"old content")

    with pytest.raises(Exception):  # noqa: B017 - any error from the writer
        write_parquet("not a table", path)  # type: ignore[arg-type]
    assert path.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.parquet"]


def test_atomic_output_failure_midway(tmp_path: Path) -> None:
    from irbench.io.atomic import atomic_output

    path = tmp_path / "run.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_output(path) as handle:
        handle.write(b"half written")
        raise RuntimeError("disk on fire")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["run.txt"]
    with atomic_output(path) as handle:
        handle.write(b"new\n")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["run.txt"]


def test_atomic_text_writer(tmp_path: Path) -> None:
    from irbench.io.atomic import atomic_text_writer

    path = tmp_path / "res.tsv"
    with atomic_text_writer(path) as handle:
        handle.write("a\tb\u00e9\n")
    assert path.read_bytes() == "a\tb\u00e9\n".encode()
    with pytest.raises(ValueError), atomic_text_writer(path) as handle:
        handle.write("partial")
        raise ValueError("stop")
    assert path.read_bytes() == "a\tb\u00e9\n".encode()
    assert os.listdir(tmp_path) == ["res.tsv"]


def test_atomic_binary_writer_gzip_and_parents(tmp_path: Path) -> None:
    from irbench.io.atomic import atomic_binary_writer

    path = tmp_path / "new" / "sub" / "x.txt.gz"
    with atomic_binary_writer(path) as handle:
        handle.write(b"hello\n")
    assert gzip.decompress(path.read_bytes()) == b"hello\n"
    assert os.listdir(path.parent) == ["x.txt.gz"]


def test_write_run_in_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from irbench.io import writers

    run = read_run(write(tmp_path, "r.txt", RUN_TEXT))
    whole = writers.format_run(run, "t")
    monkeypatch.setattr(writers, "_SLICE_ROWS", 3)
    assert writers.format_run(run, "t") == whole
    assert whole.decode().splitlines()[2] == "10 Q0 d9 1 140998 t"


def test_large_file_is_memory_mapped_and_parsed(tmp_path: Path) -> None:
    from irbench.io import _source

    body = "".join(f"q{i % 7} Q0 d{i} {i} {i / 3!r} tag\n" for i in range(40000))
    path = write(tmp_path, "big.run", body)
    assert path.stat().st_size > _source._MMAP_MIN_BYTES
    table = read_run(path)
    assert table.num_rows == 40000
    assert table.column("score")[3].as_py() == 1.0
    bad = write(tmp_path, "big_bad.run", body + "q1 Q0 dx 1 nan tag\n" + body)
    with pytest.raises(InputFormatError, match=r"big_bad\.run:40001:"):
        read_run(bad)
    nul = write(tmp_path, "big_nul.run", body + "\x00")
    with pytest.raises(InputFormatError, match=r"big_nul\.run:40001:"):
        read_run(nul)
    assert locate_lines(bad, "q1", "dx") == [40001]

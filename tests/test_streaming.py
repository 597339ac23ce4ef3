"""Streaming evaluation (irbench.engine.runs, ReadPolicy(stream=True)): chunks of whole queries, bit-identical scores,
whole-file line numbers in errors, bounded chunk sizes, and the `eval --stream` command."""

from __future__ import annotations

import gzip
import itertools
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from irbench.cli.app import app
from irbench.engine import Evaluator, RunScores
from irbench.engine.placement import parse_size
from irbench.engine.runs import ReadPolicy, score_run
from irbench.errors import DuplicateEntryError, InputFormatError, RunNotGroupedError
from irbench.io import read_run, write_parquet
from irbench.io.chunks import iter_query_chunks

MEASURES = ["AP", "nDCG@10", "RR", "P@10", "R@100", "Bpref", "NumQ", "NumRet", "ERR@20", "GMAP"]
runner = CliRunner()


@pytest.fixture(scope="module")
def dl19(dl19_data: Path) -> tuple[Path, Path]:
    return (
        dl19_data / "trec-dl" / "qrels.dl19-passage.txt",
        dl19_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt",
    )


def _quiet_score(ev: Evaluator, run: object, **kwargs: object) -> RunScores:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kwargs.pop("stream", False):
            name = kwargs.pop("name", None)
            read = ReadPolicy(stream=True, **kwargs)  # type: ignore[arg-type]
            return score_run(ev, run, name, read)  # type: ignore[arg-type]
        return ev.score_table(read_run(run), origin=run)  # the whole file at once


def _assert_same(a: RunScores, b: RunScores) -> None:
    assert a.run == b.run
    assert a.query_ids.equals(b.query_ids)
    assert a.num_qrels_queries_missing == b.num_qrels_queries_missing
    assert a.num_run_queries_not_in_qrels == b.num_run_queries_not_in_qrels
    for m in a.values:
        np.testing.assert_array_equal(a.values[m], b.values[m], err_msg=str(m))
        assert a.aggregates[m] == b.aggregates[m] or np.isnan(a.aggregates[m])


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


# --------------------------------------------------------------------------------------------
# bit-identical scores
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("complete", [False, True], ids=["default", "c"])
@pytest.mark.parametrize("system", ["BM25", "SPLADE_P_P_ENSEMBLE_DISTIL"])
def test_stream_equals_whole_file_dl19(dl19_data: Path, system: str, complete: bool) -> None:
    qrels = dl19_data / "trec-dl" / "qrels.dl19-passage.txt"
    run = dl19_data / "runs-rank_llm" / system / "trec_results_dl19.txt"
    ev = Evaluator(qrels, MEASURES, complete=complete)
    assert len(list(iter_query_chunks(run, chunk_bytes=3000))) > 20
    _assert_same(_quiet_score(ev, run, stream=True, chunk_bytes=3000), _quiet_score(ev, run))


def test_stream_equals_whole_file_robust05_gz(shared_data: Path) -> None:
    base = shared_data / "robust05-wad"
    run = base / "runs-participants" / "input.ASUBE.gz"
    ev = Evaluator(base / "aq.trec2005.qrels", MEASURES, complete=True)
    chunks = list(iter_query_chunks(run, chunk_bytes=1 << 16))
    assert len(chunks) > 20
    assert chunks[0].first_line == 1
    assert all(b.first_line == a.last_line + 1 for a, b in itertools.pairwise(chunks))
    _assert_same(_quiet_score(ev, run, stream=True, chunk_bytes=1 << 16), _quiet_score(ev, run))


def test_gzip_parquet_and_names(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    qrels, run = dl19
    ev = Evaluator(qrels, ["AP", "nDCG@10"])
    whole = _quiet_score(ev, run)
    gz = tmp_path / "trec_results_dl19.txt.gz"  # same name as the run: a file's stem
    gz.write_bytes(gzip.compress(run.read_bytes()))
    _assert_same(_quiet_score(ev, gz, stream=True, chunk_bytes=2000), whole)
    pq_path = tmp_path / "bm25.parquet"
    write_parquet(read_run(run), pq_path)
    streamed = _quiet_score(ev, pq_path, stream=True, chunk_bytes=48 * 300)
    assert len(list(iter_query_chunks(pq_path, chunk_bytes=48 * 300))) > 10
    _assert_same(streamed, _quiet_score(ev, pq_path))
    assert streamed.run == "bm25"  # the file's stem, not the name stored in the Parquet file
    named = _quiet_score(ev, gz, stream=True, name="mine")
    assert named.run == "mine"


def test_run_queries_outside_the_qrels_are_counted_once(
    dl19: tuple[Path, Path], tmp_path: Path
) -> None:
    qrels, run = dl19
    extra = b"".join(f"x{i} Q0 d{j} {j} {-j} t\n".encode() for i in range(5) for j in range(40))
    path = tmp_path / "run.txt"
    path.write_bytes(extra + run.read_bytes() + extra.replace(b"x", b"y"))
    ev = Evaluator(qrels, ["AP"])
    streamed = _quiet_score(ev, path, stream=True, chunk_bytes=500)
    assert streamed.num_run_queries_not_in_qrels == 10
    _assert_same(streamed, _quiet_score(ev, path))


# --------------------------------------------------------------------------------------------
# chunk boundaries and memory
# --------------------------------------------------------------------------------------------


def _synthetic(path: Path, depths: list[int]) -> list[int]:
    """A grouped run with one query per entry of *depths*; returns each query's byte size."""
    sizes = []
    with path.open("wb") as fh:
        for q, depth in enumerate(depths):
            text = b"".join(f"q{q} Q0 d{d} {d + 1} {-d}.5 gen\n".encode() for d in range(depth))
            fh.write(text)
            sizes.append(len(text))
    return sizes


def test_chunks_hold_whole_queries_and_stay_bounded(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    depths = [int(d) for d in rng.integers(1, 60, size=300)]
    depths[150] = 3000  # one query ten times the chunk size
    path = tmp_path / "gen.txt"
    sizes = _synthetic(path, depths)
    chunk_bytes = 4096
    chunks = list(iter_query_chunks(path, chunk_bytes=chunk_bytes))
    seen: set[str] = set()
    for i, c in enumerate(chunks):
        block = chunk_bytes if i else 1 << 16  # the first block is longer, to sniff JSON
        qids = set(c.table.column("query_id").to_pylist())
        assert not qids & seen  # no query in two chunks
        seen |= qids
        assert c.text is not None
        largest = max(sizes[int(q[1:])] for q in qids)
        assert len(c.text) <= block + 2 * largest
        if largest < chunk_bytes:
            assert len(c.text) <= 3 * block
    assert len(seen) == 300
    whole = read_run(path)
    assert pa.concat_tables([c.table for c in chunks]).cast(whole.schema).equals(whole)
    assert chunks[-1].last_line == sum(depths)
    # parsed ahead on a thread pool: the same chunks, in order
    ahead = list(iter_query_chunks(path, chunk_bytes=chunk_bytes, workers=3))
    assert [(c.span, c.first_line, c.last_line) for c in ahead] == [
        (c.span, c.first_line, c.last_line) for c in chunks
    ]
    assert all(a.table.equals(b.table) for a, b in zip(ahead, chunks, strict=True))


def test_comments_blank_lines_and_no_final_newline(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    qrels, run = dl19
    lines = _lines(run)
    for i in range(len(lines) - 1, 0, -97):
        lines.insert(i, b"# a comment\n\n" if i % 2 else b"   \n")
    path = tmp_path / "run.txt"
    path.write_bytes(b"# header\n" + b"".join(lines).rstrip(b"\n"))
    ev = Evaluator(qrels, ["AP", "NumRet"])
    _assert_same(_quiet_score(ev, path, stream=True, chunk_bytes=1000), _quiet_score(ev, path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"# only\n\n# comments\n", "no run records"),
        (b"\xef\xbb\xbf1 Q0 d 1 1 t\n", "byte-order mark"),
        (b'{"query_id": "1", "doc_id": "d", "score": 1}\n', "JSON Lines"),
    ],
    ids=["empty", "comments", "bom", "jsonl"],
)
def test_whole_file_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "run.txt"
    path.write_bytes(content)
    with pytest.raises(InputFormatError, match=message):
        list(iter_query_chunks(path, chunk_bytes=8))


# --------------------------------------------------------------------------------------------
# errors name the physical line in the whole file
# --------------------------------------------------------------------------------------------


def _whole_file_error(path: Path, exc_type: type[Exception], ev: Evaluator) -> Exception:
    with pytest.raises(exc_type) as info:
        _quiet_score(ev, path)
    return info.value


@pytest.mark.parametrize("chunk_bytes", [700, 1 << 20])
def test_bad_line_deep_in_the_file(
    dl19: tuple[Path, Path], tmp_path: Path, chunk_bytes: int
) -> None:
    qrels, run = dl19
    lines = _lines(run)
    lines.insert(100, b"# comment\n\n")
    lines[3000] = lines[3000].replace(b" rank", b"")  # 5 fields
    path = tmp_path / "bad.txt"
    path.write_bytes(b"".join(lines))
    ev = Evaluator(qrels, ["AP"])
    expected = _whole_file_error(path, InputFormatError, ev)
    assert isinstance(expected, InputFormatError) and expected.line == 3002
    with pytest.raises(InputFormatError) as info:
        _quiet_score(ev, path, stream=True, chunk_bytes=chunk_bytes)
    assert info.value.line == expected.line
    assert str(info.value) == str(expected)


def test_bad_score_in_a_gzip_stream(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    _qrels, run = dl19
    lines = _lines(run)
    fields = lines[4000].split()
    fields[4] = b"12,5"
    lines[4000] = b" ".join(fields) + b"\n"
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))
    with pytest.raises(InputFormatError, match="not a number") as info:
        list(iter_query_chunks(path, chunk_bytes=900))
    assert info.value.line == 4001


def test_duplicate_names_its_physical_lines(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    qrels, run = dl19
    lines = _lines(run)
    lines.insert(2505, lines[2500])
    path = tmp_path / "dup.txt"
    path.write_bytes(b"".join(lines))
    ev = Evaluator(qrels, ["AP"])
    expected = _whole_file_error(path, DuplicateEntryError, ev)
    with pytest.raises(DuplicateEntryError) as info:
        _quiet_score(ev, path, stream=True, chunk_bytes=1500)
    assert str(info.value) == str(expected)
    assert info.value.line == 2506 and "lines 2501, 2506" in str(info.value)


def _ungrouped(run: Path, tmp_path: Path, name: str = "split.txt") -> tuple[Path, str, int]:
    """The run with the first 10 lines of its first query moved to the end."""
    lines = _lines(run)
    path = tmp_path / name
    path.write_bytes(b"".join(lines[10:] + lines[:10]))
    return path, lines[0].split()[0].decode(), len(lines) - 9


def test_not_grouped_run_is_refused_with_the_sort_command(
    dl19: tuple[Path, Path], tmp_path: Path
) -> None:
    qrels, run = dl19
    path, query, line = _ungrouped(run, tmp_path)
    ev = Evaluator(qrels, ["AP"])
    with pytest.raises(RunNotGroupedError) as info:
        _quiet_score(ev, path, stream=True, chunk_bytes=5000)
    err = info.value
    assert err.query_id == query and err.line == line and err.first_lines is not None
    assert err.first_lines[0] < err.first_lines[1] < line
    assert err.sort_command == f"LC_ALL=C sort -s -k1,1 {path} > {path}.grouped"
    assert err.sort_command in str(err) and f"{path}:{line}:" in str(err)
    # rows of a query apart within one chunk: refused too (whatever the chunk size), but the
    # default path (Evaluator.score) scores them, with the numbers of the whole file
    lines = _lines(run)
    path.write_bytes(b"".join(lines[10:150] + lines[:10] + lines[150:]))
    with pytest.raises(RunNotGroupedError) as info:
        _quiet_score(ev, path, stream=True, chunk_bytes=1 << 20)
    assert info.value.query_id == query and info.value.line == 141
    assert info.value.first_lines == (1, 90)  # lines 1-90: its rows 11-100, then query 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_same(ev.score(path), _quiet_score(ev, path))


SMALL_QRELS = "1 0 a 1\n1 0 b 0\n2 0 c 2\n3 0 d 1\n"


@pytest.mark.parametrize(
    ("run_text", "query", "line", "first_lines"),
    [
        ("1 Q0 a 1 3 t\n2 Q0 c 1 2 t\n1 Q0 b 2 1 t\n", "1", 3, (1, 1)),
        # a comment, a blank line and a query outside the qrels between the two blocks
        ("# c\n2 Q0 c 1 2 t\n2 Q0 x 2 1 t\n\n9 Q0 z 1 1 t\n2 Q0 y 3 0 t\n", "2", 6, (2, 3)),
    ],
)
def test_stream_refuses_a_small_interleaved_run(
    tmp_path: Path, run_text: str, query: str, line: int, first_lines: tuple[int, int]
) -> None:
    """A run of a few lines (one chunk) whose query is interleaved is refused by --stream, as
    the README says, with its lines; without --stream it is scored."""
    qrels, run = tmp_path / "qrels.txt", tmp_path / "run.txt"
    qrels.write_text(SMALL_QRELS)
    run.write_text(run_text)
    ev = Evaluator(qrels, ["AP"])
    with pytest.raises(RunNotGroupedError) as info:
        _quiet_score(ev, run, stream=True)
    assert info.value.query_id == query and info.value.line == line
    assert info.value.first_lines == first_lines
    _assert_same(_quiet_score(ev, run), _quiet_score(ev, run))  # the default path scores it
    result = runner.invoke(app, ["eval", str(qrels), str(run), "-m", "AP", "--stream"])
    assert result.exit_code == 2
    assert f"{run}:{line}:" in result.output and "not grouped by query" in result.output
    assert runner.invoke(app, ["eval", str(qrels), str(run), "-m", "AP"]).exit_code == 0
    # grouped (queries in any order, non-qrels queries interleaved among themselves): accepted
    run.write_text("2 Q0 c 1 2 t\n7 Q0 z 1 1 t\n8 Q0 z 1 1 t\n7 Q0 y 1 1 t\n1 Q0 a 1 3 t\n")
    assert _quiet_score(ev, run, stream=True).aggregates[ev.measures[0]] == 1.0


@pytest.mark.parametrize("complete", [False, True])
def test_interleaved_run_is_scored_in_query_partitions(
    dl19: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, complete: bool
) -> None:
    """A run whose queries are interleaved (shuffled lines, queries outside the qrels, a gzip
    copy) is split by query into partitions, each scored whole: the numbers of the whole run,
    with many partitions and many chunks."""
    from irbench.engine import runs as streaming

    qrels, run = dl19
    lines = _lines(run)
    lines += [f"x{i % 7} Q0 d{i} 1 {i} t\n".encode() for i in range(300)]
    rng = np.random.default_rng(3)
    shuffled = tmp_path / "shuffled.txt"
    shuffled.write_bytes(b"".join(lines[i] for i in rng.permutation(len(lines))))
    gz = tmp_path / "shuffled.txt.gz"
    gz.write_bytes(gzip.compress(shuffled.read_bytes()))
    monkeypatch.setattr(streaming, "PARTITION_BYTES", 20_000)
    ev = Evaluator(qrels, MEASURES, complete=complete, max_results=500)
    whole = _quiet_score(ev, shuffled)
    assert whole.num_run_queries_not_in_qrels == 7
    for path in (shuffled, gz):
        assert streaming._partition_count(path, ev.qrels.num_queries) > 5
        part, name = streaming.score_partitions_part(ev, path, chunk_bytes=3000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _assert_same(ev.finish(part, name), whole)
            _assert_same(ev.score(path), whole)  # streaming finds it not grouped, then this


def test_duplicate_in_an_interleaved_run_names_its_lines(
    dl19: tuple[Path, Path], tmp_path: Path
) -> None:
    qrels, run = dl19
    path, _, _ = _ungrouped(run, tmp_path)
    lines = _lines(path)
    lines.insert(3000, lines[100])
    path.write_bytes(b"".join(lines))
    ev = Evaluator(qrels, ["AP"])
    with pytest.raises(DuplicateEntryError) as info:
        ev.score(path)  # not grouped: scored in query partitions
    assert "lines 101, 3001" in str(info.value)


def test_not_grouped_gzip_gets_the_zcat_command(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    qrels, run = dl19
    path, _, _ = _ungrouped(run, tmp_path)
    gz = tmp_path / "split.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(RunNotGroupedError) as info:
        _quiet_score(Evaluator(qrels, ["AP"]), gz, stream=True, chunk_bytes=5000)
    expected = f"zcat {gz} | LC_ALL=C sort -s -k1,1 | gzip > {tmp_path / 'split.txt.grouped.gz'}"
    assert info.value.sort_command == expected


def test_score_reads_run_files_in_chunks_or_whole(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    """Evaluator.score streams a run file when it can and reads it whole when it cannot (not
    grouped by query, JSON Lines by name or by content): the same numbers either way."""
    qrels, run = dl19
    ev = Evaluator(qrels, MEASURES)
    whole = _quiet_score(ev, run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _assert_same(ev.score(run), whole)
        path, _, _ = _ungrouped(run, tmp_path)
        _assert_same(ev.score(path), _quiet_score(ev, path))
        table = read_run(run)
        for name in ("run.jsonl", "run-json.txt"):
            as_json = tmp_path / name
            as_json.write_text(
                "".join(
                    f'{{"query_id": "{q}", "doc_id": "{d}", "score": {s!r}}}\n'
                    for q, d, s in zip(
                        *(table[c].to_pylist() for c in table.column_names[:3]), strict=True
                    )
                )
            )
            got = ev.score(as_json)
            assert got.query_ids.equals(whole.query_ids)
            for m in whole.values:
                np.testing.assert_array_equal(got.values[m], whole.values[m], err_msg=str(m))


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def test_cli_stream_same_output(dl19: tuple[Path, Path]) -> None:
    qrels, run = str(dl19[0]), str(dl19[1])
    args = ["eval", qrels, run, "-m", "AP", "-m", "nDCG@10", "-q", "-c", "-f", "tsv"]
    whole = runner.invoke(app, args)
    streamed = runner.invoke(app, [*args, "--stream", "--chunk-size", "4k"])
    assert whole.exit_code == 0 and streamed.exit_code == 0, streamed.output
    assert streamed.stdout == whole.stdout
    piped = runner.invoke(app, [*args[:2], "-", *args[3:], "--stream"], input=dl19[1].read_bytes())
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == whole.stdout.replace("trec_results_dl19\t", "stdin\t")
    named = [*args[:2], "trec_results_dl19=-", *args[3:], "--stream"]  # NAME=- names stdin
    piped = runner.invoke(app, named, input=dl19[1].read_bytes())
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == whole.stdout


def test_cli_stream_not_grouped_exits_2(dl19: tuple[Path, Path], tmp_path: Path) -> None:
    path, query, _line = _ungrouped(dl19[1], tmp_path)
    res = runner.invoke(
        app, ["eval", str(dl19[0]), str(path), "-m", "AP", "--stream", "--chunk-size", "5k"]
    )
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "not grouped by query" in text and "LC_ALL=C sort -s -k1,1" in text
    assert f"{query!r}" in text


def test_cli_bad_chunk_size(dl19: tuple[Path, Path]) -> None:
    res = runner.invoke(
        app, ["eval", str(dl19[0]), str(dl19[1]), "--stream", "--chunk-size", "lots"]
    )
    assert res.exit_code == 2


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4096", 4096),
        ("512KiB", 512 << 10),
        ("64M", 64 * 10**6),
        ("64MiB", 64 << 20),
        ("1GiB", 1 << 30),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size

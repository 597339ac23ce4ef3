"""Dataset adapters on real files from ../shared/data laid out as ir_datasets expects (no network).

Every test runs with IRBENCH_OFFLINE=1 and a temporary IR_DATASETS_HOME and cache, so nothing
can download and nothing outside tmp is written. Oracles are the shared files themselves: the
first, tenth and last records of each table are compared with the lines of the source file.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from irbench import read_qrels  # files and dataset ids (irbench.datasets.qrels_source)
from irbench.cli.app import app
from irbench.datasets import import_files, load_dataset
from irbench.datasets.importer import check_zip, safe_extract
from irbench.errors import DatasetError, DatasetFilesMissingError, IrbenchWarning, MissingFileError

REPO = Path(__file__).resolve().parents[1]

# dataset id -> (qrels file, topics file, queries, judgments), all under shared/data
CASES = {
    "msmarco-passage/trec-dl-2019/judged": (
        "trec-dl/qrels.dl19-passage.txt",
        "trec-dl/topics.dl19-passage.txt",
        43,
        9260,
    ),
    "msmarco-passage/trec-dl-2020/judged": (
        "trec-dl/qrels.dl20-passage.txt",
        "trec-dl/topics.dl20.txt",
        54,
        11386,
    ),
    "msmarco-document/trec-dl-2019/judged": (
        "trec-dl/qrels.dl19-doc.txt",
        "trec-dl/topics.dl19-doc.txt",
        43,
        16258,
    ),
    "msmarco-document/trec-dl-2020/judged": (
        "trec-dl/qrels.dl20-doc.txt",
        "trec-dl/topics.dl20.txt",
        45,
        9098,
    ),
    "msmarco-passage/dev/small": (
        "msmarco-passage/qrels.msmarco-passage.dev-subset.txt",
        "msmarco-passage/topics.msmarco-passage.dev-subset.txt",
        6980,
        7437,
    ),
    "msmarco-document/dev": (
        "msmarco-doc/qrels.msmarco-doc.dev.txt",
        "msmarco-doc/topics.msmarco-doc.dev.txt",
        5193,
        5193,
    ),
    "beir/scifact/test": (
        "beir/qrels.beir-v1.0.0-scifact.test.txt",
        "beir/topics.beir-v1.0.0-scifact.test.tsv.gz",
        300,
        339,
    ),
    "beir/trec-covid": (
        "beir/qrels.beir-v1.0.0-trec-covid.test.txt",
        "beir/topics.beir-v1.0.0-trec-covid.test.tsv.gz",
        50,
        66334,
    ),
    "beir/cqadupstack/gis": (
        "beir/qrels.beir-v1.0.0-cqadupstack-gis.test.txt",
        "beir/topics.beir-v1.0.0-cqadupstack-gis.test.tsv.gz",
        885,
        1114,
    ),
}


@pytest.fixture(scope="module")
def laid_out(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Iterator[Path]:
    """An IR_DATASETS_HOME with every CASES dataset imported from the shared files."""
    root = tmp_path_factory.mktemp("irds")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IR_DATASETS_HOME", str(root / "home"))
        mp.setenv("IRBENCH_CACHE", str(root / "cache"))
        mp.setenv("IRBENCH_OFFLINE", "1")
        for dataset_id, (qrels, topics, _, _) in CASES.items():
            import_files(dataset_id, [str(shared_data / qrels), str(shared_data / topics)])
        yield root


@pytest.fixture
def env(laid_out: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The laid-out home with a fresh cache per test."""
    monkeypatch.setenv("IR_DATASETS_HOME", str(laid_out / "home"))
    monkeypatch.setenv("IRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IRBENCH_OFFLINE", "1")
    return laid_out / "home"


@pytest.fixture
def empty_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("IRBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("IRBENCH_OFFLINE", "1")
    return tmp_path / "home"


def _text_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [line.rstrip("\r") for line in data.decode("utf-8").split("\n") if line.strip()]


def _oracle(shared_data: Path, qrels: str, topics: str) -> tuple[list, list]:
    judgments = [tuple(line.split()) for line in _text_lines(shared_data / qrels)]
    expected_qrels = [(q, d, int(r)) for q, _, d, r in judgments]
    judged = {q for q, _, _ in expected_qrels}
    pairs = [tuple(line.split("\t", 1)) for line in _text_lines(shared_data / topics)]
    expected_queries = [(q, t) for q, t in pairs if q in judged]
    return expected_queries, expected_qrels


@pytest.mark.parametrize("dataset_id", list(CASES))
def test_adapter_counts_and_records(env: Path, shared_data: Path, dataset_id: str) -> None:
    qrels_file, topics_file, n_queries, n_qrels = CASES[dataset_id]
    ds = load_dataset(dataset_id)
    queries, qrels = ds.queries(), ds.qrels()
    assert (queries.num_rows, qrels.num_rows) == (n_queries, n_qrels)
    exp_queries, exp_qrels = _oracle(shared_data, qrels_file, topics_file)
    got_q = list(zip(*(queries.column(c).to_pylist() for c in ("query_id", "text")), strict=True))
    got_r = list(
        zip(
            *(qrels.column(c).to_pylist() for c in ("query_id", "doc_id", "relevance")), strict=True
        )
    )
    for i in (0, 9, -1):
        assert got_q[i] == exp_queries[i]
        assert got_r[i] == exp_qrels[i]


def test_second_load_reads_the_cache(env: Path) -> None:
    first = load_dataset("msmarco-passage/trec-dl-2019/judged")
    table = first.qrels()
    assert first.events[-1].startswith("qrels: built 9,260 rows into cache")
    second = load_dataset("msmarco-passage/trec-dl-2019/judged")
    assert second.qrels().equals(table)
    assert second.events[-1].startswith("qrels: read from cache")


def test_stale_entry_is_rebuilt(env: Path, tmp_path: Path, shared_data: Path) -> None:
    home = tmp_path / "own-home"
    os.environ["IR_DATASETS_HOME"] = str(home)  # restored by monkeypatch in `env`
    src = shared_data / "beir" / "qrels.beir-v1.0.0-scifact.test.txt"
    topics = shared_data / "beir" / "topics.beir-v1.0.0-scifact.test.tsv.gz"
    import_files("beir/scifact/test", [str(src), str(topics)])
    ds = load_dataset("beir/scifact/test")
    assert ds.qrels().num_rows == 339
    old = sorted(ds.cache_path().glob("qrels.*.parquet"))
    # Change the source: drop the last judgment (a new mtime and size make a new fingerprint).
    target = home / "beir" / "scifact" / "test.qrels"
    lines = target.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:-1]))
    again = load_dataset("beir/scifact/test")
    assert again.qrels().num_rows == 338
    assert again.events[-1].startswith("qrels: built")
    assert sorted(again.cache_path().glob("qrels.*.parquet")) != old  # stale entry removed
    assert len(list(again.cache_path().glob("qrels.*.parquet"))) == 1


def test_corrupt_entry_is_rebuilt(env: Path) -> None:
    ds = load_dataset("msmarco-passage/dev/small")
    ds.qrels()
    (entry,) = ds.cache_path().glob("qrels.*.parquet")
    entry.write_bytes(entry.read_bytes()[:100])  # truncated: no Parquet footer
    again = load_dataset("msmarco-passage/dev/small")
    with pytest.warns(IrbenchWarning, match="corrupt"):
        table = again.qrels()
    assert table.num_rows == 7437
    assert again.events[-1].startswith("qrels: built")
    pq.read_metadata(entry)  # readable again


def test_missing_files_name_where_to_put_them(empty_env: Path) -> None:
    ds = load_dataset("msmarco-passage/trec-dl-2019/judged")
    with pytest.raises(DatasetFilesMissingError) as info:
        ds.qrels()
    expected = empty_env / "msmarco-passage" / "trec-dl-2019" / "qrels"
    assert str(expected) in str(info.value)
    assert "irbench datasets import" in str(info.value)
    assert info.value.missing[0][0] == str(expected)
    result = CliRunner().invoke(
        app, ["eval", "msmarco-passage/trec-dl-2019/judged", "x.run", "-m", "nDCG@10"]
    )
    assert result.exit_code == 2
    assert str(expected) in " ".join(result.output.split()) or str(expected) in str(result.output)


def test_eval_with_dataset_id_equals_eval_on_the_file(env: Path, shared_data: Path) -> None:
    run = str(shared_data / "runs-rank_llm" / "BM25" / "trec_results_dl19.txt")
    qrels = str(shared_data / "trec-dl" / "qrels.dl19-passage.txt")
    runner = CliRunner()
    args = ["-m", "nDCG@10", "-m", "AP(rel=2)", "-q", "--format", "jsonl"]
    by_id = runner.invoke(app, ["eval", "msmarco-passage/trec-dl-2019/judged", run, *args])
    by_file = runner.invoke(app, ["eval", qrels, run, *args])
    assert by_id.exit_code == 0, by_id.output
    assert by_file.exit_code == 0, by_file.output
    assert by_id.stdout == by_file.stdout
    assert '"nDCG@10"' in by_id.stdout


def test_unknown_close_id_suggests_known_ids(empty_env: Path) -> None:
    with pytest.raises(MissingFileError, match=r"did you mean msmarco-passage/trec-dl-2019/judged"):
        read_qrels("msmarco-passage/trec-dl-2019/judge")
    with pytest.raises(MissingFileError, match="no such file"):
        read_qrels("definitely/not-here.txt")


def test_vaswani_is_built_in(empty_env: Path) -> None:
    ds = load_dataset("vaswani")
    queries, qrels, docs = ds.queries(), ds.qrels(), ds.docs()
    assert (docs.num_rows, queries.num_rows, qrels.num_rows) == (11429, 93, 2083)
    assert queries.slice(0, 1).to_pylist()[0]["text"].startswith("MEASUREMENT OF DIELECTRIC")
    assert queries.column("query_id").to_pylist()[9] == "10"
    assert qrels.slice(0, 1).to_pylist()[0] == {"query_id": "1", "doc_id": "1239", "relevance": 1}
    assert qrels.slice(2082, 1).to_pylist()[0] == {
        "query_id": "93",
        "doc_id": "11318",
        "relevance": 1,
    }
    assert docs.column("doc_id").to_pylist()[::11428] == ["1", "11429"]
    assert docs.column("text")[9].as_py().startswith("highspeed microwave switching")
    assert read_qrels("vaswani").num_rows == 2083  # an id works wherever a qrels file does
    assert not list(empty_env.parent.glob("cache/*"))  # nothing to cache: it is Parquet already


def test_vaswani_matches_shared_files(shared_data: Path) -> None:
    assert read_qrels(shared_data / "vaswani" / "qrels").equals(load_dataset("vaswani").qrels())


def test_classic_collections_import(empty_env: Path, shared_data: Path) -> None:
    s = shared_data
    import_files("cisi", [str(s / "cisi" / f) for f in ("CISI.ALL.gz", "CISI.QRY", "CISI.REL")])
    import_files("cacm", [str(s / "cacm" / f) for f in ("cacm.all.gz", "query.text", "qrels.text")])
    import_files(
        "cranfield",
        [str(s / "cranfield" / f) for f in ("cran.all.1400.gz", "cran.qry", "cranqrel")],
    )
    expected = {"cisi": (1460, 112, 3114), "cacm": (3204, 64, 796), "cranfield": (1400, 225, 1837)}
    for name, counts in expected.items():
        ds = load_dataset(name)
        assert (ds.count("docs"), ds.count("queries"), ds.count("qrels")) == counts, name
    cacm = load_dataset("cacm").qrels().slice(0, 1).to_pylist()[0]
    assert cacm == {"query_id": "1", "doc_id": "1410", "relevance": 1}  # "01" unpadded
    cisi_docs = load_dataset("cisi").docs()
    assert (
        cisi_docs.slice(0, 1).to_pylist()[0]["title"]
        == "18 Editions of the Dewey Decimal Classifications"
    )


def _zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if link is not None:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16) | 0
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    ("entries", "link"),
    [
        ({"../evil.txt": b"x"}, None),
        ({"ok/../../evil.txt": b"x"}, None),
        ({"/abs/evil.txt": b"x"}, None),
        ({"ok.txt": b"x"}, "ok/link"),
    ],
)
def test_zip_slip_is_refused(tmp_path: Path, entries: dict[str, bytes], link: str | None) -> None:
    archive = _zip(tmp_path / "bad.zip", entries, link)
    with pytest.raises(DatasetError, match="unsafe zip entry"):
        safe_extract(archive, tmp_path / "out")
    with zipfile.ZipFile(archive) as handle, pytest.raises(DatasetError):
        check_zip(handle)
    assert not (tmp_path / "evil.txt").exists()


def test_beir_zip_import_reads_corpus_into_arrow(empty_env: Path, tmp_path: Path) -> None:
    corpus = b"".join(
        json.dumps({"_id": str(i), "title": f"t{i}", "text": f"doc {i}", "metadata": {}}).encode()
        + b"\n"
        for i in range(1, 26)
    )
    queries = b'{"_id": "7", "text": "q seven", "metadata": {}}\n{"_id": "8", "text": "q eight", "metadata": {}}\n'
    qrels = b"query-id\tcorpus-id\tscore\n7\t3\t1\n8\t5\t1\n"
    archive = _zip(
        tmp_path / "scifact.zip",
        {
            "scifact/corpus.jsonl": corpus,
            "scifact/queries.jsonl": queries,
            "scifact/qrels/test.tsv": qrels,
        },
    )
    placed = import_files("beir/scifact/test", [str(archive)])
    assert {role for role, _ in placed} == {"docs", "queries", "qrels"}
    ds = load_dataset("beir/scifact/test")
    docs = ds.docs()
    assert docs.num_rows == 25
    assert docs.slice(9, 1).to_pylist()[0] == {"doc_id": "10", "text": "doc 10", "title": "t10"}
    assert ds.queries().column("query_id").to_pylist() == ["7", "8"]
    assert ds.qrels().num_rows == 2
    assert load_dataset("beir/scifact/test").count("docs") == 25


def test_msmarco_collection_import_survives_ir_datasets(
    empty_env: Path, tmp_path: Path, shared_data: Path
) -> None:
    collection = tmp_path / "collection.tsv"
    collection.write_text("".join(f'{i}\tpassage {i} with a "quote"\n' for i in range(1000)))
    import_files(
        "msmarco-passage/trec-dl-2019/judged",
        [
            str(collection),
            str(shared_data / "trec-dl" / "qrels.dl19-passage.txt"),
            str(shared_data / "trec-dl" / "topics.dl19-passage.txt"),
        ],
    )
    placed = empty_env / "msmarco-passage" / "collection.tsv"
    assert (empty_env / "msmarco-passage" / "irds_version.txt").read_text() == "v2"
    ds = load_dataset("msmarco-passage/trec-dl-2019/judged")
    assert ds.qrels().num_rows == 9260  # ir_datasets ran; its Migrator must not delete the corpus
    docs = ds.docs()
    assert placed.exists()
    assert docs.num_rows == 1000
    assert docs.slice(999, 1).to_pylist()[0] == {
        "doc_id": "999",
        "text": 'passage 999 with a "quote"',
        "title": None,
    }


def test_docs_cache_is_a_mapped_arrow_file(empty_env: Path, tmp_path: Path) -> None:
    collection = tmp_path / "collection.tsv"
    collection.write_text("".join(f"{i}\tpassage {i}\n" for i in range(300)))
    import_files("msmarco-passage/dev/small", [f"docs={collection}"])
    ds = load_dataset("msmarco-passage/dev/small")
    docs = ds.docs()
    (entry,) = ds.cache_path().glob("docs.*")
    assert entry.suffix == ".arrow"
    with pa.ipc.open_file(pa.memory_map(str(entry))) as reader:  # an Arrow IPC file
        assert reader.count_rows() == 300
    assert docs.schema.metadata is None  # the fingerprint stays in the file
    batches = list(load_dataset("msmarco-passage/dev/small").docs_batches(batch_size=64))
    assert [b.num_rows for b in batches] == [64, 64, 64, 64, 44]
    assert pa.Table.from_batches(batches).equals(docs)
    assert docs.column("doc_id").to_pylist()[::299] == ["0", "299"]
    expected = docs.to_pydict()
    # Truncating a file in place under a live mapping is what mmap cannot survive (SIGBUS);
    # irbench itself only ever replaces entries by rename. Drop the mapped tables first.
    del docs, batches
    entry.write_bytes(entry.read_bytes()[:200])  # truncated: no IPC footer
    again = load_dataset("msmarco-passage/dev/small")
    with pytest.warns(IrbenchWarning, match="corrupt"):
        assert again.docs().to_pydict() == expected
    assert again.events[-1].startswith("docs: built 300 rows")


def test_cli_info_json_and_export(env: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["datasets", "info", "beir/scifact/test", "--format", "json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert (info["queries"], info["qrels"], info["docs"]) == (300, 339, None)
    assert info["cache"].endswith("beir__scifact__test")
    assert info["missing"]["docs"][0]["path"].endswith("beir/scifact/source.zip")
    out = tmp_path / "export"
    result = runner.invoke(
        app, ["datasets", "export", "vaswani", "-o", str(out), "--format", "trec"]
    )
    assert result.exit_code == 0, result.output
    assert read_qrels(out / "vaswani.qrels.txt").equals(load_dataset("vaswani").qrels())
    assert len((out / "vaswani.queries.tsv").read_text().splitlines()) == 93
    result = runner.invoke(
        app, ["datasets", "export", "vaswani", "-o", str(out), "-p", "docs", "--format", "parquet"]
    )
    assert result.exit_code == 0, result.output
    assert pq.read_metadata(out / "vaswani.docs.parquet").num_rows == 11429
    listing = runner.invoke(app, ["datasets", "list", "--format", "json"])
    ids = {row["id"] for row in json.loads(listing.stdout)}
    forums = {i for i in ids if i.startswith("beir/cqadupstack/")}
    assert len(forums) == 12
    assert {"vaswani", "cranfield", "cisi", "cacm", "msmarco-passage/eval"} <= ids
    assert "msmarco-passage-v2/trec-dl-2023/judged" in ids


def test_import_and_eval_do_not_load_ir_datasets(shared_data: Path) -> None:
    code = (
        "import sys, irbench; irbench.read_qrels(sys.argv[1]);"
        "from irbench.cli.app import app; print('ir_datasets' in sys.modules)"
    )
    qrels = str(shared_data / "trec-dl" / "qrels.dl19-passage.txt")
    out = subprocess.run(
        [sys.executable, "-c", code, qrels], capture_output=True, text=True, cwd=REPO
    )
    assert out.stdout.strip() == "False", out.stderr

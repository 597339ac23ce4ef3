"""BM25 and its analyzer: scores against bm25s (same tokens), index files, parameters, errors.

The oracle is bm25s 0.3.16 (``method="lucene"``, float64) fed exactly the tokens irbench's
analyzer produces, on Vaswani (shipped) and Cranfield (../shared/data, imported into a
temporary IR_DATASETS_HOME like tests/test_datasets.py does). bm25s counts every document in
N and avgdl while Lucene, and irbench, count only documents with at least one term, so bm25s is
given the non-empty documents only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bm25s
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from irbench.datasets import import_files, load_dataset
from irbench.errors import RankerError
from irbench.rankers import get_ranker
from irbench.rankers.analysis import ENGLISH_STOPWORDS, Analyzer
from irbench.rankers.base import document_text
from irbench.rankers.bm25 import BM25, lucene_length

# ---------------------------------------------------------------- helpers


def _docs(rows: list[tuple[str, str]]) -> pa.Table:
    ids, texts = zip(*rows, strict=True)
    titles = pa.array([None] * len(ids), pa.string())
    return pa.table({"doc_id": list(ids), "text": list(texts), "title": titles})


def _queries(rows: list[tuple[str, str]]) -> pa.Table:
    ids, texts = zip(*rows, strict=True)
    return pa.table({"query_id": list(ids), "text": list(texts)})


def _built(tmp: Path, docs: pa.Table, batch_size: int = 1 << 20, **params: object) -> BM25:
    ranker = BM25(**params)  # type: ignore[arg-type]
    ranker.index(iter(docs.to_batches(batch_size)), tmp)
    ranker.load(tmp)
    return ranker


def _oracle_scores(analyzer: Analyzer, docs: pa.Table, queries: pa.Table) -> np.ndarray:
    """bm25s (lucene, float64) scores of every query against every document, same tokens."""
    doc_tokens = analyzer.analyze(document_text(docs)).token_lists()
    query_tokens = analyzer.analyze(queries.column("text")).token_lists()
    nonempty = np.flatnonzero([len(t) > 0 for t in doc_tokens])
    model = bm25s.BM25(k1=0.9, b=0.4, method="lucene", dtype="float64")
    model.index([doc_tokens[i] for i in nonempty], show_progress=False)
    out = np.zeros((len(query_tokens), len(doc_tokens)))
    for row, tokens in enumerate(query_tokens):
        known = [t for t in tokens if t in model.vocab_dict]
        if known:
            out[row, nonempty] = model.get_scores(known)
    return out


def _check_against_oracle(ranker: BM25, docs: pa.Table, queries: pa.Table, k: int) -> None:
    oracle = _oracle_scores(ranker.analyzer(), docs, queries)
    ours = (ranker.query_matrix(queries.column("text")) @ ranker.weights()).toarray()
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=1e-5)  # float32, as Lucene
    ranker.dtype = "float64"
    exact = (ranker.query_matrix(queries.column("text")) @ ranker.weights()).toarray()
    np.testing.assert_allclose(exact, oracle, rtol=1e-12, atol=1e-12)
    ranker.dtype = "float32"

    run = ranker.retrieve(queries, k)
    doc_pos = {d: i for i, d in enumerate(docs.column("doc_id").to_pylist())}
    query_pos = {q: i for i, q in enumerate(queries.column("query_id").to_pylist())}
    rows = np.array([query_pos[q] for q in run.column("query_id").to_pylist()])
    cols = np.array([doc_pos[d] for d in run.column("doc_id").to_pylist()])
    scores = run.column("score").to_numpy()
    np.testing.assert_allclose(scores, oracle[rows, cols], rtol=0, atol=1e-5)
    assert (oracle[rows, cols] > 0).all()  # only documents that match a query term
    for q in range(len(queries)):
        mine = cols[rows == q]
        matching = int((oracle[q] > 0).sum())
        assert len(mine) == min(k, matching)
        assert (np.diff(scores[rows == q]) <= 0).all()  # best first
        if len(mine):  # nothing outside the run scores above the run's last score
            outside = np.delete(oracle[q], mine)
            assert outside.max(initial=0) <= scores[rows == q].min() + 1e-5


@contextmanager
def _classic_home(tmp: Path) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IR_DATASETS_HOME", str(tmp / "home"))
        mp.setenv("IRBENCH_CACHE", str(tmp / "cache"))
        mp.setenv("IRBENCH_OFFLINE", "1")
        yield


# ---------------------------------------------------------------- against bm25s


@pytest.fixture(scope="module")
def vaswani() -> tuple[pa.Table, pa.Table]:
    ds = load_dataset("vaswani")
    return ds.docs(), ds.queries()


@pytest.fixture(scope="module")
def vaswani_index(
    tmp_path_factory: pytest.TempPathFactory, vaswani: tuple[pa.Table, pa.Table]
) -> Path:
    """The Vaswani index, built in batches of 4,000 into one folder and then moved (as the
    runner does), so that everything below reads it back from disk."""
    root = tmp_path_factory.mktemp("vaswani")
    BM25().index(iter(vaswani[0].to_batches(4000)), root / "building")
    return (root / "building").rename(root / "index")


def _loaded(directory: Path, **params: object) -> BM25:
    ranker = BM25(**params)  # type: ignore[arg-type]
    ranker.load(directory)
    return ranker


def test_vaswani_matches_bm25s(vaswani_index: Path, vaswani: tuple[pa.Table, pa.Table]) -> None:
    docs, queries = vaswani
    ranker = _loaded(vaswani_index)
    assert ranker._index is not None and ranker._index.doc_count == docs.num_rows
    _check_against_oracle(ranker, docs, queries, k=100)


def test_cranfield_matches_bm25s(tmp_path: Path, shared_data: Path) -> None:
    files = [
        str(shared_data / "cranfield" / f) for f in ("cran.all.1400.gz", "cran.qry", "cranqrel")
    ]
    with _classic_home(tmp_path):
        import_files("cranfield", files)
        ds = load_dataset("cranfield")
        docs, queries = ds.docs(), ds.queries()
    assert (docs.num_rows, queries.num_rows) == (1400, 225)
    ranker = _built(tmp_path / "idx", docs, batch_size=500)
    _check_against_oracle(ranker, docs, queries, k=50)


# ---------------------------------------------------------------- index files


def test_round_trip_and_batching(tmp_path: Path, vaswani: tuple[pa.Table, pa.Table]) -> None:
    docs, queries = vaswani[0].slice(0, 1500), vaswani[1].slice(0, 30)
    one = _built(tmp_path / "one", docs)
    many = _built(tmp_path / "many", docs, batch_size=97)  # 16 batches of at most 97 documents
    for name in ("doc_lengths", "indptr", "postings_doc", "postings_tf"):
        assert np.array_equal(
            np.load(tmp_path / "one" / f"{name}.npy"), np.load(tmp_path / "many" / f"{name}.npy")
        )
    expected = one.retrieve(queries, 100)
    assert expected.num_rows > 1000
    assert many.retrieve(queries, 100).equals(expected)
    reopened = _loaded(tmp_path / "one")
    index = reopened._index
    assert index is not None and isinstance(index.postings_doc, np.memmap)  # load reads nothing
    assert not reopened._cache  # weights are computed on first use
    assert reopened.retrieve(queries, 100).equals(expected)
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == [
        "doc_ids.arrow", "doc_lengths.npy", "indptr.npy", "meta.json",
        "postings_doc.npy", "postings_tf.npy", "vocab.arrow",
    ]  # fmt: skip
    meta = json.loads((tmp_path / "one" / "meta.json").read_text())
    assert meta["n_docs"] == 1500 and meta["analyzer"]["stemmer"] == "porter"
    lengths = np.load(tmp_path / "one" / "doc_lengths.npy")
    assert meta["sum_lengths"] == int(lengths.sum()) and meta["doc_count"] == int(
        (lengths > 0).sum()
    )
    assert meta["avgdl"] == pytest.approx(lengths.sum() / (lengths > 0).sum())


def test_rescore_equals_retrieve(vaswani_index: Path, vaswani: tuple[pa.Table, pa.Table]) -> None:
    docs, queries = vaswani
    ranker = _loaded(vaswani_index)
    run = ranker.retrieve(queries, 20)
    pairs = run.select(["query_id", "doc_id"]).append_column(
        "text", pa.array(["ignored"] * run.num_rows)
    )
    np.testing.assert_allclose(
        ranker.rescore(queries, pairs), run.column("score").to_numpy(), atol=1e-5
    )
    unmatched = pa.table({"query_id": ["1"], "doc_id": [docs.column("doc_id")[0].as_py()]})
    oracle = (ranker.query_matrix(queries.column("text")) @ ranker.weights()).toarray()
    assert ranker.rescore(queries, unmatched)[0] == pytest.approx(oracle[0, 0], abs=1e-6)
    missing = pa.table({"query_id": ["1", "2"], "doc_id": ["1", "no-such-doc"]})
    with pytest.raises(RankerError, match=r"'no-such-doc'.*not in the index"):
        ranker.rescore(queries, missing)
    with pytest.raises(RankerError, match="query 'nope'"):
        ranker.rescore(queries, pa.table({"query_id": ["nope"], "doc_id": ["1"]}))


# ---------------------------------------------------------------- BM25 semantics


def test_only_matching_documents_and_repeated_terms(tmp_path: Path) -> None:
    docs = _docs([("d1", "apple banana"), ("d2", "cherry"), ("d3", "apple apple"), ("d4", "")])
    ranker = _built(tmp_path, docs)
    run = ranker.retrieve(_queries([("q1", "apple"), ("q2", "durian"), ("q3", "apple apple")]), 10)
    assert run.column("query_id").to_pylist() == ["q1", "q1", "q3", "q3"]
    assert set(run.column("doc_id").to_pylist()) == {"d1", "d3"}  # no d2, d4; nothing for q2
    once, twice = run.column("score").to_numpy()[[0, 2]]
    assert twice == pytest.approx(2 * once)  # every occurrence of a query term counts
    index = ranker._index
    assert index is not None and (index.n_docs, index.doc_count) == (4, 3)  # empty d4 not in N
    # Hand computation: N=3, avgdl=5/3, df(apple)=2; d3 has tf=2, dl=2.
    idf = np.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    d3 = idf * 2 / (2 + 0.9 * (1 - 0.4 + 0.4 * 2 / (5 / 3)))
    assert once == pytest.approx(d3, rel=1e-6)


def test_parameters_change_scores_without_reindexing(tmp_path: Path) -> None:
    docs = _docs([("d1", "apple banana cherry apple"), ("d2", "apple"), ("d3", "banana")])
    ranker = _built(tmp_path, docs)
    queries = _queries([("q", "apple banana")])
    default = ranker.retrieve(queries, 5).column("score").to_numpy()
    ranker.k1, ranker.b = 1.2, 0.75
    changed = ranker.retrieve(queries, 5).column("score").to_numpy()
    fresh = BM25(k1=1.2, b=0.75)
    fresh.load(tmp_path)
    assert not np.allclose(default, changed)
    assert np.array_equal(changed, fresh.retrieve(queries, 5).column("score").to_numpy())


def test_lucene_norms() -> None:
    def java(n: int) -> int:  # SmallFloat.byte4ToInt(intToByte4(n)), transcribed from Lucene
        if n < 24:
            return n
        x = n - 24
        bits = x.bit_length()
        if bits < 4:
            return n
        shift = bits - 4
        encoded = ((x >> shift) & 7) | ((shift + 1) << 3)
        return 24 + (((encoded & 7) | 8) << ((encoded >> 3) - 1))

    lengths = np.r_[np.arange(5000), np.array([10**5, 10**6, 2**31 - 1])]
    assert lucene_length(lengths).tolist() == [java(int(n)) for n in lengths]


def test_lucene_norms_change_long_documents_only(tmp_path: Path) -> None:
    long_doc = " ".join(f"w{i}" for i in range(100)) + " apple"
    docs = _docs([("short", "apple pie"), ("long", long_doc)])
    exact = _built(tmp_path, docs).retrieve(_queries([("q", "apple")]), 5)
    lucene = BM25(lucene_norms=True)
    lucene.load(tmp_path)
    quantised = lucene.retrieve(_queries([("q", "apple")]), 5)
    assert exact.column("doc_id").to_pylist() == quantised.column("doc_id").to_pylist()
    e, q = exact.column("score").to_numpy(), quantised.column("score").to_numpy()
    assert e[0] == q[0] and e[1] < q[1]  # length 2 is exact; 101 is stored as 96


# ---------------------------------------------------------------- analyzer


def test_analyzer_defaults() -> None:
    analyzer = Analyzer()
    assert analyzer.tokenize("The Running DOGS of the physicist's lab") == [
        "run",
        "dog",
        "physicist",
        "lab",
    ]
    assert analyzer.tokenize("") == []
    assert analyzer.tokenize("the a an of , . ...") == []
    assert analyzer.tokenize("naïve Über-cool e.g. 3.14 don't") == [
        "naïv",
        "über",
        "cool",
        "e.g",
        "3.14",
        "don't",
    ]
    assert len(ENGLISH_STOPWORDS) == 33


def test_analyzer_options() -> None:
    assert Analyzer(stemmer="none").tokenize("Running DOGS") == ["running", "dogs"]
    assert Analyzer(stemmer="none", lowercase=False).tokenize("The Running DOGS") == [
        "Running",
        "DOGS",
    ]
    assert Analyzer(stopwords="none", stemmer="none").tokenize("the cat") == ["the", "cat"]
    assert Analyzer(stemmer="porter").tokenize("generously") == ["gener"]
    assert Analyzer(stemmer="snowball").tokenize("generously") == ["generous"]
    analyzed = Analyzer().analyze(pa.array(["cats and dogs", None, "", "dog cat cat"]))
    assert analyzed.lengths().tolist() == [2, 0, 0, 3]
    assert analyzed.token_lists() == [["cat", "dog"], [], [], ["dog", "cat", "cat"]]
    assert len(analyzed.vocab) == 2  # each distinct term once per batch
    with pytest.raises(RankerError, match="unknown stemmer"):
        Analyzer(stemmer="krovetz")  # type: ignore[arg-type]


# ---------------------------------------------------------------- parameters and errors


def test_parameters_from_strings() -> None:
    ranker = get_ranker("bm25", k1="1.2", b="0.75", stemmer="none", lucene_norms="true")
    assert (ranker.k1, ranker.b, ranker.stemmer, ranker.lucene_norms) == (1.2, 0.75, "none", True)
    assert isinstance(ranker.k1, float)
    assert ranker.index_params() == {"stemmer": "none", "stopwords": "english", "lowercase": True}
    assert get_ranker("bm25").params()["k1"] == 0.9
    with pytest.raises(RankerError, match="not one of"):
        get_ranker("bm25", stemmer="krovetz")
    with pytest.raises(RankerError, match="b must be between 0 and 1"):
        get_ranker("bm25", b="1.5")
    with pytest.raises(RankerError, match="expected float"):
        get_ranker("bm25", k1="high")


def test_bad_index_folders(tmp_path: Path) -> None:
    queries = _queries([("q", "apple")])
    with pytest.raises(RankerError, match="no index loaded"):
        BM25().retrieve(queries, 10)
    with pytest.raises(RankerError, match="index folder not found"):
        BM25().load(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RankerError, match=r"meta.json: missing"):
        BM25().load(tmp_path / "empty")
    good = tmp_path / "good"
    _built(good, _docs([("d1", "apple"), ("d2", "banana apple")]))
    with pytest.raises(RankerError, match="stemmer='porter' \\(want 'none'\\)"):
        BM25(stemmer="none").load(good)
    meta = json.loads((good / "meta.json").read_text())
    (good / "meta.json").write_text(json.dumps(meta | {"format_version": 99}))
    with pytest.raises(RankerError, match="format version 99"):
        BM25().load(good)
    (good / "meta.json").write_text(json.dumps(meta | {"nnz": 7}))
    with pytest.raises(RankerError, match=r"do not match meta.json"):
        BM25().load(good)
    (good / "meta.json").write_text("{not json")
    with pytest.raises(RankerError, match="unreadable"):
        BM25().load(good)
    (good / "meta.json").write_text(json.dumps(meta))
    (good / "postings_tf.npy").write_bytes(b"garbage")
    with pytest.raises(RankerError, match=r"postings_tf.npy: cannot read"):
        BM25().load(good)


def test_bad_corpus(tmp_path: Path) -> None:
    with pytest.raises(RankerError, match="ids must be unique"):
        BM25().index(iter(_docs([("d1", "a b"), ("d1", "c")]).to_batches()), tmp_path / "dup")
    with pytest.raises(RankerError, match="missing text"):
        BM25().index(iter([pa.record_batch({"doc_id": ["d1"]})]), tmp_path / "notext")


def test_progress_is_reported(tmp_path: Path) -> None:
    events: list[tuple[str, int]] = []

    class Recorder:
        @contextmanager
        def task(self, description: str, total: int | None = None) -> Iterator[object]:
            class Task:
                def advance(self, n: int = 1) -> None:
                    events.append((description, n))

            yield Task()

    docs = _docs([(f"d{i}", f"apple w{i}") for i in range(10)])
    ranker = BM25()
    ranker.index(iter(docs.to_batches(4)), tmp_path, Recorder())
    ranker.load(tmp_path)
    ranker.retrieve(_queries([("q1", "apple"), ("q2", "w3")]), 3, Recorder())
    done: dict[str, int] = {}
    for description, n in events:
        done[description] = done.get(description, 0) + n
    assert done == {
        "BM25 index: analysing documents": 10,
        "BM25 index: writing postings": 3,
        "BM25: searching": 2,
    }
    assert pc.all(pc.greater(ranker.retrieve(_queries([("q", "apple")]), 3)["score"], 0)).as_py()

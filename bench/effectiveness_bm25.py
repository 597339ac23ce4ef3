"""BM25 effectiveness on the classic collections: irbench against bm25s with identical tokens.

For Vaswani (shipped with irbench) and Cranfield, CISI and CACM (imported from
``../shared/data`` into a temporary ``IR_DATASETS_HOME``, offline), this builds irbench's BM25
index with the defaults (k1=0.9, b=0.4, Porter, Lucene's 33 English stopwords), retrieves the
top 1,000 documents per query, and evaluates MAP (trec_eval ``map``) and nDCG@10 with
:func:`irbench.evaluate` (trec_eval 9 semantics: queries in both the run and the qrels,
relevance >= 1). Three runs per collection:

- ``irbench``: the defaults (exact document lengths);
- ``irbench lucene_norms``: the same index, lengths rounded as Lucene's one-byte norms;
- ``bm25s``: bm25s 0.3.16, ``method="lucene"``, same k1/b, given exactly irbench's analyzer
  tokens of the non-empty documents (so N and avgdl are Lucene's, as in irbench); its
  zero-score padding (documents without a query term) is dropped.

Usage: ``python bench/effectiveness_bm25.py [--data ../shared/data] [--out docs/bm25-results.md]``
(``PYTHONPATH=.`` from a checkout that is not installed). Prints the Markdown table; ``--out``
also writes it.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
IMPORTS = {
    "cranfield": ("cranfield", ("cran.all.1400.gz", "cran.qry", "cranqrel")),
    "cisi": ("cisi", ("CISI.ALL.gz", "CISI.QRY", "CISI.REL")),
    "cacm": ("cacm", ("cacm.all.gz", "query.text", "qrels.text")),
}
MEASURES = ["AP", "nDCG@10"]
DEPTH = 1000


def bm25s_run(analyzer: object, docs: pa.Table, queries: pa.Table, k: int) -> pa.Table:
    import bm25s

    from irbench.rankers.base import document_text, run_from_topk

    doc_tokens = analyzer.analyze(document_text(docs)).token_lists()  # type: ignore[attr-defined]
    query_tokens = analyzer.analyze(queries.column("text")).token_lists()  # type: ignore[attr-defined]
    nonempty = np.flatnonzero([len(t) > 0 for t in doc_tokens])
    model = bm25s.BM25(k1=0.9, b=0.4, method="lucene")
    model.index([doc_tokens[i] for i in nonempty], show_progress=False)
    k = min(k, len(nonempty))
    found = np.zeros((len(query_tokens), k), dtype=np.int64)
    scores = np.full((len(query_tokens), k), -np.inf)
    for row, tokens in enumerate(query_tokens):
        known = [t for t in tokens if t in model.vocab_dict]
        if not known:
            continue
        docs_q, scores_q = model.retrieve(
            [known], k=k, backend_selection="numpy", n_threads=1, show_progress=False
        )
        found[row] = nonempty[docs_q[0]]
        scores[row] = np.where(scores_q[0] > 0, scores_q[0], -np.inf)
    return run_from_topk(queries.column("query_id"), docs.column("doc_id"), found, scores)


def evaluate_collection(name: str, workdir: Path) -> list[tuple[str, str, float, float, int]]:
    import irbench
    from irbench.datasets import load_dataset
    from irbench.rankers.bm25 import BM25

    ds = load_dataset(name)
    docs, queries, qrels = ds.docs(), ds.queries(), ds.qrels()
    ranker = BM25()
    ranker.index(iter(docs.to_batches(65_536)), workdir / name)
    ranker.load(workdir / name)
    runs = {"irbench": ranker.retrieve(queries, DEPTH)}
    ranker.lucene_norms = True
    runs["irbench lucene_norms"] = ranker.retrieve(queries, DEPTH)
    runs["bm25s (same tokens)"] = bm25s_run(ranker.analyzer(), docs, queries, DEPTH)
    rows = []
    for label, run in runs.items():
        table = irbench.evaluate(qrels, run, MEASURES, per_query=False)
        values = dict(
            zip(table.column("measure").to_pylist(), table.column("value").to_pylist(), strict=True)
        )
        judged = len(
            set(qrels.column("query_id").to_pylist()) & set(run.column("query_id").to_pylist())
        )
        rows.append((name, label, values["AP"], values["nDCG@10"], judged))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    import warnings

    from irbench.errors import IrbenchWarning

    # CISI and CACM have unjudged queries; trec_eval semantics skip them (the table says so).
    warnings.filterwarnings("ignore", category=IrbenchWarning)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="irbench-bm25-eff-") as tmp:
        root = Path(tmp)
        os.environ["IR_DATASETS_HOME"] = str(root / "home")
        os.environ["IRBENCH_CACHE"] = str(root / "cache")
        os.environ["IRBENCH_OFFLINE"] = "1"
        from irbench.datasets import import_files

        for dataset_id, (folder, files) in IMPORTS.items():
            import_files(dataset_id, [str(args.data / folder / f) for f in files])
        rows = []
        for name in ("vaswani", "cranfield", "cisi", "cacm"):
            rows += evaluate_collection(name, root / "indexes")

    from importlib.metadata import version

    import bm25s

    import irbench

    lines = [
        "| collection | run | MAP | nDCG@10 | queries evaluated |",
        "|---|---|---:|---:|---:|",
        *(f"| {c} | {r} | {ap:.4f} | {ndcg:.4f} | {n} |" for c, r, ap, ndcg, n in rows),
    ]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    footer = (
        f"\nBM25 k1=0.9, b=0.4, Porter stemmer, Lucene's 33 English stopwords, top {DEPTH:,} per "
        "query; MAP = trec_eval `map`, nDCG@10 = `ndcg_cut_10` (irbench.evaluate, trec_eval 9 "
        "semantics: queries in both the run and the qrels, relevance >= 1). "
        f"Measured {when} with irbench {irbench.__version__}, bm25s {bm25s.__version__}, "
        f"PyStemmer {version('PyStemmer')}, Python {platform.python_version()} "
        f"by `bench/effectiveness_bm25.py` ({time.perf_counter() - started:.0f} s)."
    )
    table = "\n".join(lines) + "\n\n" + textwrap.fill(footer.strip(), 96) + "\n"
    print(table)
    if args.out is not None:
        header = (
            args.out.read_text(encoding="utf-8").split("<!-- table -->")[0]
            if args.out.exists()
            else ""
        )
        args.out.write_text(header + "<!-- table -->\n\n" + table, encoding="utf-8")


if __name__ == "__main__":
    main()

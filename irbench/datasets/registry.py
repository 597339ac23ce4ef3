"""The dataset registry: which ids irbench knows and where their data comes from.

Pure Python and cheap: nothing here imports ir_datasets, so checking whether a string is a
dataset id (as :func:`irbench.datasets.qrels_source.read_qrels` does for a path that does not
exist) costs nothing.

Ids are ir_datasets ids (https://ir-datasets.com) wherever ir_datasets has the dataset;
``backend`` says who reads it:

``irds``
    ir_datasets knows the files and parses queries and qrels; corpora in a format Arrow reads
    (MS MARCO ``collection.tsv``, BEIR ``corpus.jsonl``) are read straight into Arrow.
``native``
    BEIR sets ir_datasets does not host (bioasq, signal1m, trec-news, robust04) and the classic
    CISI and CACM collections: irbench reads the files (same layout conventions).
``embedded``
    Shipped inside the package (``vaswani``): no files, no network.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

__all__ = ["DatasetSpec", "get_spec", "is_dataset_id", "list_specs", "suggest"]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset irbench can load.

    ``native_files`` maps a part (``queries``, ``qrels``, ``docs``) to ``(relative path under
    IR_DATASETS_HOME, format)`` for native datasets; ``parts`` lists the parts the dataset has.
    """

    id: str
    title: str
    family: str
    backend: str = "irds"
    parts: tuple[str, ...] = ("queries", "qrels", "docs")
    native_files: dict[str, tuple[str, str]] = field(default_factory=dict)


_SPECS: dict[str, DatasetSpec] = {}


def _add(spec: DatasetSpec) -> None:
    _SPECS[spec.id] = spec


def _msmarco() -> None:
    p = "msmarco-passage"
    _add(DatasetSpec(f"{p}/dev/small", "MS MARCO passage dev (small), 6,980 queries", "msmarco"))
    _add(DatasetSpec(f"{p}/dev", "MS MARCO passage dev, 101,093 queries", "msmarco"))
    _add(DatasetSpec(f"{p}/dev/judged", "MS MARCO passage dev, judged queries", "msmarco"))
    _add(DatasetSpec(f"{p}/train", "MS MARCO passage train, 808,731 queries", "msmarco"))
    _add(
        DatasetSpec(
            f"{p}/eval",
            "MS MARCO passage eval (no public qrels)",
            "msmarco",
            parts=("queries", "docs"),
        )
    )
    _add(
        DatasetSpec(
            f"{p}/eval/small",
            "MS MARCO passage eval small (no public qrels)",
            "msmarco",
            parts=("queries", "docs"),
        )
    )
    _add(DatasetSpec("msmarco-document/dev", "MS MARCO document dev, 5,193 queries", "msmarco"))
    for year in (2019, 2020):
        for kind, coll in (("passage", "msmarco-passage"), ("document", "msmarco-document")):
            base = f"{coll}/trec-dl-{year}"
            _add(DatasetSpec(base, f"TREC DL {year} {kind} (all topics)", "trec-dl"))
            _add(DatasetSpec(f"{base}/judged", f"TREC DL {year} {kind}, judged topics", "trec-dl"))
    for year in (2021, 2022, 2023):
        for kind, coll in (("passage", "msmarco-passage-v2"), ("document", "msmarco-document-v2")):
            base = f"{coll}/trec-dl-{year}"
            _add(DatasetSpec(base, f"TREC DL {year} {kind} (MS MARCO v2, all topics)", "trec-dl"))
            _add(
                DatasetSpec(
                    f"{base}/judged",
                    f"TREC DL {year} {kind} (MS MARCO v2), judged topics",
                    "trec-dl",
                )
            )


#: BEIR v1.0.0 test sets: BEIR name -> ir_datasets id (None: not in ir_datasets, read natively).
BEIR_TEST_IDS: dict[str, str] = {
    "arguana": "beir/arguana",
    "climate-fever": "beir/climate-fever",
    "dbpedia-entity": "beir/dbpedia-entity/test",
    "fever": "beir/fever/test",
    "fiqa": "beir/fiqa/test",
    "hotpotqa": "beir/hotpotqa/test",
    "msmarco": "beir/msmarco/dev",
    "nfcorpus": "beir/nfcorpus/test",
    "nq": "beir/nq",
    "quora": "beir/quora/test",
    "scidocs": "beir/scidocs",
    "scifact": "beir/scifact/test",
    "trec-covid": "beir/trec-covid",
    "webis-touche2020": "beir/webis-touche2020/v2",
    "bioasq": "beir/bioasq",
    "signal1m": "beir/signal1m",
    "trec-news": "beir/trec-news",
    "robust04": "beir/robust04",
}
CQADUPSTACK = (
    "android",
    "english",
    "gaming",
    "gis",
    "mathematica",
    "physics",
    "programmers",
    "stats",
    "tex",
    "unix",
    "webmasters",
    "wordpress",
)
#: BEIR sets whose data is not redistributable (no public download); ir_datasets lacks them.
BEIR_NATIVE = ("bioasq", "signal1m", "trec-news", "robust04")


def _beir() -> None:
    for name, irds_id in BEIR_TEST_IDS.items():
        if name in BEIR_NATIVE:
            files = {
                "queries": (f"beir/{name}/queries.json", "beir-queries"),
                "qrels": (f"beir/{name}/test.qrels", "beir-qrels"),
                "docs": (f"beir/{name}/source.zip", "beir-zip-docs"),
            }
            title = f"BEIR {name} (test; corpus not redistributable, import your copy)"
            _add(DatasetSpec(irds_id, title, "beir", backend="native", native_files=files))
        else:
            _add(DatasetSpec(irds_id, f"BEIR {name} (test split)", "beir"))
    for split_parent in (
        "dbpedia-entity",
        "fever",
        "fiqa",
        "hotpotqa",
        "nfcorpus",
        "quora",
        "scifact",
    ):
        for split in ("dev", "train"):
            sid = f"beir/{split_parent}/{split}"
            if sid in _IRDS_EXTRA_BEIR:
                _add(DatasetSpec(sid, f"BEIR {split_parent} ({split} split)", "beir"))
    _add(DatasetSpec("beir/webis-touche2020", "BEIR webis-touche2020 (v1 qrels)", "beir"))
    for forum in CQADUPSTACK:
        _add(DatasetSpec(f"beir/cqadupstack/{forum}", f"BEIR CQADupStack {forum} (test)", "beir"))


_IRDS_EXTRA_BEIR = {
    "beir/dbpedia-entity/dev",
    "beir/fever/dev",
    "beir/fever/train",
    "beir/fiqa/dev",
    "beir/fiqa/train",
    "beir/hotpotqa/dev",
    "beir/hotpotqa/train",
    "beir/nfcorpus/dev",
    "beir/nfcorpus/train",
    "beir/quora/dev",
    "beir/scifact/train",
}


def _classic() -> None:
    _add(
        DatasetSpec(
            "vaswani",
            "Vaswani (NPL): 11,429 physics abstracts, 93 queries, 2,083 judgments (built in)",
            "classic",
            backend="embedded",
        )
    )
    _add(DatasetSpec("cranfield", "Cranfield: 1,400 aeronautics abstracts, 225 queries", "classic"))
    _add(
        DatasetSpec(
            "cisi",
            "CISI: 1,460 library-science documents, 112 queries (76 judged)",
            "classic",
            backend="native",
            native_files={
                "queries": ("cisi/CISI.QRY", "smart-queries"),
                "qrels": ("cisi/CISI.REL", "smart-qrels"),
                "docs": ("cisi/CISI.ALL", "smart-docs"),
            },
        )
    )
    _add(
        DatasetSpec(
            "cacm",
            "CACM: 3,204 Communications of the ACM abstracts, 64 queries (52 judged)",
            "classic",
            backend="native",
            native_files={
                "queries": ("cacm/query.text", "smart-queries"),
                "qrels": ("cacm/qrels.text", "smart-qrels"),
                "docs": ("cacm/cacm.all", "smart-docs"),
            },
        )
    )


_msmarco()
_beir()
_classic()


def list_specs(family: str | None = None) -> list[DatasetSpec]:
    """Every registered dataset (optionally of one family), sorted by id."""
    return sorted(
        (s for s in _SPECS.values() if family is None or s.family == family), key=lambda s: s.id
    )


def is_dataset_id(name: str) -> bool:
    """True when *name* is a registered dataset id."""
    return name in _SPECS


def suggest(name: str, n: int = 3) -> list[str]:
    """Registered ids close to *name* (for "did you mean" messages)."""
    return difflib.get_close_matches(name, list(_SPECS), n=n, cutoff=0.75)


def get_spec(name: str) -> DatasetSpec:
    """The spec of dataset *name*; raises :class:`~irbench.errors.DatasetError` if unknown."""
    spec = _SPECS.get(name)
    if spec is None:
        from irbench.errors import DatasetError

        close = suggest(name, 5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise DatasetError(
            f"unknown dataset id {name!r}{hint} (`irbench datasets list` shows every id)"
        )
    return spec

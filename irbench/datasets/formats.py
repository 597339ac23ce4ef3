"""Readers that go straight to Arrow, for the file formats whose layout allows it.

* ``tsv-docs`` (MS MARCO ``collection.tsv``: ``docid<TAB>text``): ``pyarrow.csv.open_csv``,
  streamed in blocks, no quoting (MS MARCO passages contain ``"``).
* ``beir-zip-docs`` (BEIR ``<name>/corpus.jsonl`` inside the zip): ``pyarrow.json.open_json``
  with an explicit schema (ids stay strings: ``"4983"`` is not the number 4983).
* ``beir-queries`` / ``beir-qrels`` (BEIR's ``queries.jsonl`` and ``qrels/*.tsv``).
* ``smart-*`` (CISI, CACM: the SMART ``.I``/``.T``/``.W`` record format; see
  ../shared/data/PROVENANCE.md) and TREC SGML (``<DOC><DOCNO>``, Vaswani).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from irbench.errors import DatasetError
from irbench.io.schema import QRELS_SCHEMA

__all__ = [
    "DOCS_SCHEMA",
    "QUERIES_SCHEMA",
    "beir_qrels",
    "beir_queries",
    "beir_zip_docs_batches",
    "parse_smart",
    "smart_qrels",
    "tsv_docs_batches",
]

#: Documents (../shared/design.md): title is nullable.
DOCS_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("title", pa.string(), nullable=True),
    ]
)
QUERIES_SCHEMA = pa.schema(
    [
        pa.field("query_id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ]
)
_BLOCK = 16 << 20


def _with_null_title(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.record_batch(
        [batch.column(0), batch.column(1), pa.nulls(batch.num_rows, pa.string())],
        schema=DOCS_SCHEMA,
    )


def _is_empty(path: Path, packing: str) -> bool:
    if packing != "gzip":
        return path.stat().st_size == 0
    import gzip

    with gzip.open(path, "rb") as handle:
        return not handle.read(1)


def tsv_docs_batches(path: Path, packing: str = "") -> Iterator[pa.RecordBatch]:
    """Stream ``docid<TAB>text`` lines (plain or gzip) as record batches in ``DOCS_SCHEMA``."""
    import pyarrow.csv as pcsv

    if _is_empty(Path(path), packing):  # no documents: no batches (pyarrow refuses it)
        return
    stream = pa.input_stream(str(path), compression="gzip" if packing == "gzip" else None)
    reader = pcsv.open_csv(
        stream,
        read_options=pcsv.ReadOptions(column_names=["doc_id", "text"], block_size=_BLOCK),
        parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False),
        convert_options=pcsv.ConvertOptions(
            column_types={"doc_id": pa.string(), "text": pa.string()},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    try:
        for batch in reader:
            yield _with_null_title(batch)
    except pa.ArrowInvalid as exc:
        raise DatasetError(f"{path}: not a docid<TAB>text file ({exc})") from None


def _zip_member(archive: zipfile.ZipFile, member: str | None, suffix: str) -> str:
    names = archive.namelist()
    if member and member in names:
        return member
    hits = [n for n in names if n.endswith(suffix) and "__MACOSX" not in n]
    if not hits:
        raise DatasetError(f"{archive.filename}: no {suffix} inside the zip")
    return sorted(hits, key=len)[0]


def beir_zip_docs_batches(path: Path, member: str | None = None) -> Iterator[pa.RecordBatch]:
    """Stream BEIR ``corpus.jsonl`` from inside the zip at *path* (``_id``, ``title``, ``text``)."""
    import pyarrow.json as pjson

    schema = pa.schema([("_id", pa.string()), ("text", pa.string()), ("title", pa.string())])
    with zipfile.ZipFile(path) as archive:
        name = _zip_member(archive, member, "corpus.jsonl")
        with archive.open(name) as raw:
            reader = pjson.open_json(
                pa.PythonFile(raw, mode="r"),
                read_options=pjson.ReadOptions(block_size=_BLOCK),
                parse_options=pjson.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="ignore"
                ),
            )
            for batch in reader:
                text = batch.column(1)
                if text.null_count:
                    text = pa.compute.fill_null(text, "")
                yield pa.record_batch([batch.column(0), text, batch.column(2)], schema=DOCS_SCHEMA)


def _open_text(path: Path, member: str | None, suffix: str) -> str:
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.read(_zip_member(archive, member, suffix)).decode("utf-8")
    return Path(path).read_text(encoding="utf-8")


def beir_queries(path: Path, member: str | None = None) -> pa.Table:
    """BEIR ``queries.jsonl`` (``_id``, ``text``) as a queries table, in file order."""
    ids: list[str] = []
    texts: list[str] = []
    for n, line in enumerate(_open_text(path, member, "queries.jsonl").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            ids.append(str(obj["_id"]))
            texts.append(str(obj.get("text") or ""))
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{path}:{n}: not a BEIR query object ({exc})") from None
    return pa.Table.from_arrays(
        [pa.array(ids, pa.string()), pa.array(texts, pa.string())], schema=QUERIES_SCHEMA
    )


def beir_qrels(path: Path, member: str | None = None) -> pa.Table:
    """BEIR qrels TSV (header ``query-id corpus-id score``) as a qrels table."""
    qids: list[str] = []
    dids: list[str] = []
    rels: list[int] = []
    lines = _open_text(path, member, "test.tsv").splitlines()
    for n, line in enumerate(lines, 1):
        cols = line.split()
        if not cols or (n == 1 and cols[0] == "query-id"):
            continue
        if len(cols) != 3:
            raise DatasetError(f"{path}:{n}: expected query-id, corpus-id, score; got {line!r}")
        qids.append(cols[0])
        dids.append(cols[1])
        rels.append(int(cols[2]))
    return pa.Table.from_arrays(
        [pa.array(qids, pa.string()), pa.array(dids, pa.string()), pa.array(rels, pa.int64())],
        schema=QRELS_SCHEMA,
    )


_SMART_FIELD = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")


def parse_smart(text: str) -> list[dict[str, str]]:
    """Split a SMART file (``.I id`` then ``.T``/``.A``/``.W``/... fields) into records.

    Each record maps ``"I"`` to the id and each field letter to its text (lines joined by
    spaces). Used by CISI and CACM (Cornell SMART distribution format).
    """
    records: list[dict[str, str]] = []
    current: dict[str, list[str]] | None = None
    letter = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        m = _SMART_FIELD.match(line)
        if m and (m.group(1) != "I" or (m.group(2) or "").strip().isdigit()):
            letter = m.group(1)
            if letter == "I":
                if current is not None:
                    records.append(_join(current))
                current = {"I": [(m.group(2) or "").strip()]}
                continue
            if current is not None:
                current.setdefault(letter, [])
                if m.group(2):
                    current[letter].append(m.group(2))
            continue
        if current is not None and letter:
            current.setdefault(letter, []).append(line)
    if current is not None:
        records.append(_join(current))
    return records


def _join(record: dict[str, list[str]]) -> dict[str, str]:
    return {k: " ".join(" ".join(v).split()) for k, v in record.items()}


def smart_docs(path: Path) -> pa.Table:
    """SMART documents: id ``.I``, title ``.T``, text ``.W`` (abstract; empty when absent)."""
    records = parse_smart(_read_maybe_gz(path))
    return pa.Table.from_arrays(
        [
            pa.array([r["I"] for r in records], pa.string()),
            pa.array([r.get("W", "") for r in records], pa.string()),
            pa.array([r.get("T") for r in records], pa.string()),
        ],
        schema=DOCS_SCHEMA,
    )


def smart_queries(path: Path) -> pa.Table:
    """SMART queries (``.I`` id, ``.W`` text); entries without text (CACM's ``.I 0``) are dropped."""
    records = [r for r in parse_smart(_read_maybe_gz(path)) if r.get("W")]
    return pa.Table.from_arrays(
        [
            pa.array([r["I"] for r in records], pa.string()),
            pa.array([r["W"] for r in records], pa.string()),
        ],
        schema=QUERIES_SCHEMA,
    )


def smart_qrels(path: Path) -> pa.Table:
    """CISI ``CISI.REL`` / CACM ``qrels.text``: ``qid docid 0 0`` lines, every pair relevant (1).

    Query ids lose zero padding (CACM writes ``01``) so they match the ``.I`` ids of the queries.
    """
    qids: list[str] = []
    dids: list[str] = []
    for n, line in enumerate(_read_maybe_gz(path).splitlines(), 1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) < 2 or not cols[0].isdigit():
            raise DatasetError(f"{path}:{n}: expected 'qid docid ...', got {line!r}")
        qids.append(str(int(cols[0])))
        dids.append(cols[1])
    return pa.Table.from_arrays(
        [
            pa.array(qids, pa.string()),
            pa.array(dids, pa.string()),
            pa.array([1] * len(qids), pa.int64()),
        ],
        schema=QRELS_SCHEMA,
    )


def _read_maybe_gz(path: Path) -> str:
    import gzip

    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace").read()


_TREC_DOC = re.compile(r"<DOC>\s*<DOCNO>\s*(.*?)\s*</DOCNO>(.*?)</DOC>", re.S)
_TREC_TOP = re.compile(r"<top>\s*<num>\s*(.*?)\s*</num>\s*<title>(.*?)</title>\s*</top>", re.S)


def trec_sgml_docs(path: Path) -> pa.Table:
    """``<DOC><DOCNO>id</DOCNO> text </DOC>`` records (Vaswani's ``doc-text.trec``)."""
    found = _TREC_DOC.findall(_read_maybe_gz(path))
    return pa.Table.from_arrays(
        [
            pa.array([d for d, _ in found], pa.string()),
            pa.array([" ".join(t.split()) for _, t in found], pa.string()),
            pa.nulls(len(found), pa.string()),
        ],
        schema=DOCS_SCHEMA,
    )


def trec_sgml_topics(path: Path) -> pa.Table:
    """``<top><num>id</num><title> text </title></top>`` topics (Vaswani's ``query-text.trec``)."""
    found = _TREC_TOP.findall(_read_maybe_gz(path))
    return pa.Table.from_arrays(
        [
            pa.array([q for q, _ in found], pa.string()),
            pa.array([" ".join(t.split()) for _, t in found], pa.string()),
        ],
        schema=QUERIES_SCHEMA,
    )

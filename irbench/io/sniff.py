"""Format sniffing shared by the whole-file reader (:mod:`irbench.io.readers`) and the chunked
reader (:mod:`irbench.io.chunks`): Parquet by its magic bytes, JSON Lines by name or content.

A run or qrels file is TREC text unless one of these says otherwise. Gzip is detected
separately, from its own magic bytes (:mod:`irbench.io._source`).
"""

from __future__ import annotations

import json
import os

from irbench.io import _source

__all__ = ["JSON_SUFFIXES", "PARQUET_MAGIC", "is_json_name", "is_parquet", "looks_like_json"]

#: The first (and last) four bytes of every Parquet file.
PARQUET_MAGIC = b"PAR1"
#: File suffixes read as JSON Lines (before an optional ``.gz``/``.gzip``).
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
_HEAD_BYTES = 65536


def is_parquet(head: _source.Data) -> bool:
    """True when *head* (the first bytes of a file) starts with Parquet's ``PAR1``."""
    return head[: len(PARQUET_MAGIC)] == PARQUET_MAGIC


def is_json_name(source: str | os.PathLike[str]) -> bool:
    """True when *source* is a path named as JSON Lines (``run.jsonl``, ``run.json.gz``...)."""
    name = "" if _source.is_stdin(source) else os.fspath(source)
    return _source.strip_compression_suffix(name).endswith(JSON_SUFFIXES)


def looks_like_json(data: _source.Data) -> bool:
    """True when the first non-blank line is a whole JSON object.

    A TREC line may start with ``{`` (ids are free text), so a leading brace alone
    does not make a file JSON Lines; the line must also parse as an object.
    """
    head = bytes(data[:_HEAD_BYTES]).lstrip()
    if head[:1] != b"{":
        return False
    first = head.split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(first), dict)
    except ValueError:
        return False

"""Turning a file argument into raw bytes: paths, ``"-"`` (stdin) and gzip detection.

Rules
-----
* ``"-"`` means standard input, read in binary (``sys.stdin.buffer``).
* Compression is detected from the content (gzip magic bytes ``1f 8b``), never from the suffix
  alone, so a gzipped file called ``run.txt`` and a plain file called ``run.txt.gz`` both work.
* A missing path raises :class:`~irbench.errors.MissingFileError`; a directory or unreadable
  file raises :class:`~irbench.errors.InputFormatError`.
"""

from __future__ import annotations

import gzip
import mmap
import os
import sys
import zlib
from pathlib import Path

from irbench.errors import InputFormatError, MissingFileError

__all__ = [
    "GZIP_MAGIC",
    "STDIN",
    "Data",
    "describe",
    "is_stdin",
    "load_bytes",
    "maybe_gunzip",
    "stem_of",
]

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
_STDIN_NAME = "<stdin>"
_COMPRESSED_SUFFIXES = (".gz", ".gzip")
_MMAP_MIN_BYTES = 1 << 20

#: File content: ``bytes``, or a read-only ``mmap`` for large plain files (no copy).
Data = bytes | mmap.mmap


def is_stdin(source: object) -> bool:
    """Return True when *source* is the stdin marker ``"-"``."""
    return isinstance(source, str) and source == STDIN


def describe(source: str | os.PathLike[str]) -> str:
    """Return the name used for *source* in error messages (``"<stdin>"`` for ``"-"``)."""
    return _STDIN_NAME if is_stdin(source) else os.fspath(source)


def stem_of(source: str | os.PathLike[str]) -> str:
    """Return the file name without compression and format suffixes (``a/run.x.txt.gz`` → ``run.x``).

    Stdin gives ``"run"``.
    """
    if is_stdin(source):
        return "run"
    name = Path(os.fspath(source)).name
    lower = name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            name = name[: -len(suffix)]
            break
    stem = Path(name).stem
    return stem or name or "run"


def strip_compression_suffix(name: str) -> str:
    """Return *name* lower-cased without a trailing ``.gz``/``.gzip``."""
    lower = name.lower()
    for suffix in _COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)]
    return lower


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stdin replacement: encode what it gives
        return sys.stdin.read().encode("utf-8")
    data = stream.read()
    return bytes(data)


def _read_path(path: str | os.PathLike[str]) -> Data:
    """Map the file read-only (no copy into Python memory); small or empty files are read."""
    where = os.fspath(path)
    try:
        with open(where, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < _MMAP_MIN_BYTES:
                return handle.read()
            try:
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):  # not mappable (pipe, special file): read it
                return handle.read()
    except FileNotFoundError:
        raise MissingFileError(
            f"{where}: no such file (check the path; relative paths are resolved from "
            f"{os.getcwd()})"
        ) from None
    except IsADirectoryError:
        raise InputFormatError(
            "is a directory, expected a file", path=where, hint="pass the file inside it"
        ) from None
    except PermissionError:
        raise InputFormatError(
            "permission denied", path=where, hint="check the file's read permission"
        ) from None


def maybe_gunzip(data: Data, where: str) -> Data:
    """Decompress *data* when it starts with the gzip magic bytes (multi-member aware)."""
    if data[: len(GZIP_MAGIC)] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputFormatError(
            f"corrupt or truncated gzip data ({exc})",
            path=where,
            hint="re-create the file, or check it with `gzip -t`",
        ) from None


def load_bytes(source: str | os.PathLike[str]) -> Data:
    """Return the (decompressed) content of a path (plain files are memory-mapped) or stdin."""
    where = describe(source)
    raw = _read_stdin() if is_stdin(source) else _read_path(source)
    return maybe_gunzip(raw, where)

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
import stat
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from irbench.errors import InputFormatError, MissingFileError

__all__ = [
    "GZIP_MAGIC",
    "STDIN",
    "Data",
    "describe",
    "is_stdin",
    "load_bytes",
    "maybe_gunzip",
    "open_stream",
    "stem_of",
]

GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
_STDIN_NAME = "<stdin>"
_COMPRESSED_SUFFIXES = (".gz", ".gzip")
_MMAP_MIN_BYTES = 1 << 20

#: File content: ``bytes``, a read-only ``mmap`` for large plain files (no copy), or a
#: ``bytearray`` a streamed chunk was read into.
Data = bytes | bytearray | mmap.mmap


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


@contextmanager
def _file_errors(where: str) -> Iterator[None]:
    """Turn the OS errors of opening *where* into irbench errors."""
    try:
        yield
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


def _read_path(path: str | os.PathLike[str]) -> Data:
    """Map the file read-only (no copy into Python memory); small or empty files are read."""
    where = os.fspath(path)
    with _file_errors(where), open(where, "rb") as handle:
        if os.fstat(handle.fileno()).st_size < _MMAP_MIN_BYTES:
            return handle.read()
        try:
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # not mappable (pipe, special file): read it
            return handle.read()


class Reader(Protocol):
    """A binary stream: ``read(n)`` returns up to *n* bytes, ``b""`` at the end; ``readinto``
    fills a buffer and returns the number of bytes written, 0 at the end; ``remaining`` is the
    number of bytes left when it is known (a regular file), else None."""

    def read(self, n: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...

    def remaining(self) -> int | None: ...

    def close(self) -> None: ...


class _Prefixed:
    """*head* (bytes already read) followed by the rest of *stream*."""

    def __init__(self, head: bytes, stream: BinaryIO, *, owned: bool = True) -> None:
        self._head, self._stream, self._owned = head, stream, owned

    def read(self, n: int = -1, /) -> bytes:
        if not self._head:
            return self._stream.read(n)
        if n < 0:
            out, self._head = self._head + self._stream.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        return out + self._stream.read(n - len(out)) if len(out) < n else out

    def readinto(self, buffer: memoryview, /) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            return int(readinto(buffer) or 0)
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def remaining(self) -> int | None:
        try:
            info = os.fstat(self._stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None
            return len(self._head) + max(info.st_size - self._stream.tell(), 0)
        except (OSError, AttributeError, ValueError):
            return None

    def close(self) -> None:
        if self._owned:  # never close stdin
            self._stream.close()


class _Gunzip:
    """Decompressing reader whose errors are :class:`InputFormatError` naming the file."""

    def __init__(self, stream: _Prefixed, where: str) -> None:
        self._raw = stream
        self._gz = gzip.GzipFile(fileobj=cast("BinaryIO", stream), mode="rb")
        self._where = where

    def read(self, n: int = -1, /) -> bytes:
        try:
            return self._gz.read(n)
        except (OSError, EOFError, zlib.error) as exc:
            raise self._corrupt(exc) from None

    def readinto(self, buffer: memoryview, /) -> int:
        try:
            return self._gz.readinto(buffer)
        except (OSError, EOFError, zlib.error) as exc:
            raise self._corrupt(exc) from None

    def remaining(self) -> int | None:
        return None  # the decompressed size is not known in advance

    def _corrupt(self, exc: Exception) -> InputFormatError:
        return InputFormatError(
            f"corrupt or truncated gzip data ({exc})",
            path=self._where,
            hint="re-create the file, or check it with `gzip -t`",
        )

    def close(self) -> None:
        self._gz.close()
        self._raw.close()


def open_stream(source: str | os.PathLike[str]) -> tuple[Reader, bytes]:
    """Open a path or stdin for sequential reading, decompressing gzip (detected by content).

    Returns the reader and the first (up to 4) raw bytes of the file, so callers can
    recognise other formats (Parquet's ``PAR1``) without reading further. Nothing is read
    beyond what ``read(n)`` asks for: memory stays bounded by the caller's block size.
    """
    where = describe(source)
    if is_stdin(source):
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise InputFormatError("stdin is not a binary stream", path=where)
        stream: BinaryIO = stdin
    else:
        with _file_errors(where):
            stream = open(os.fspath(source), "rb")  # noqa: SIM115 (closed by the caller)
    head = stream.read(4)
    prefixed = _Prefixed(head, stream, owned=not is_stdin(source))
    if head[: len(GZIP_MAGIC)] == GZIP_MAGIC:
        return _Gunzip(prefixed, where), head
    return prefixed, head


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

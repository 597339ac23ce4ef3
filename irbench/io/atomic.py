"""Atomic file writes: a temporary file in the target folder, fsync, then ``os.replace``.

An interrupted or failed write never leaves a truncated file, and never clobbers the old one.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["atomic_binary_writer", "atomic_text_writer"]


@contextmanager
def atomic_binary_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a temporary file beside ``path`` for binary writing; rename it over ``path`` on
    success, delete it on any error. A ``.gz`` suffix compresses the content."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            if target.suffix == ".gz":
                with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
                    yield gz  # type: ignore[misc]
            else:
                yield raw
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextmanager
def atomic_text_writer(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Text-mode :func:`atomic_binary_writer` (UTF-8, ``\\n`` line endings)."""
    with atomic_binary_writer(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="\n", write_through=False)
        try:
            yield text
            text.flush()
        finally:
            text.detach()

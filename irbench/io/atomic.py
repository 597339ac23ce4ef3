"""Atomic file writes: a temporary file in the target folder, fsync, then ``os.replace``.

An interrupted or failed write never leaves a truncated file, and never clobbers the old one:
on any error inside the ``with`` block the temporary file is removed and an existing target is
left untouched. Missing parent folders are created. The new file keeps the mode of the file it
replaces (``0o644`` for a new file).
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

__all__ = ["atomic_binary_writer", "atomic_output", "atomic_text_writer"]

_NEW_FILE_MODE = 0o644


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Yield a raw binary file (no compression) that replaces *path* on success."""
    target = Path(os.fspath(path))
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = target.stat().st_mode & 0o7777 if target.exists() else _NEW_FILE_MODE
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(folder)


@contextmanager
def atomic_binary_writer(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Like :func:`atomic_output`, but a ``.gz`` suffix compresses the content (gzip)."""
    with atomic_output(path) as raw:
        if Path(os.fspath(path)).suffix == ".gz":
            with gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
                yield gz  # type: ignore[misc]
        else:
            yield raw


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


def _fsync_folder(folder: Path) -> None:
    """Persist the rename (best effort; not possible on every platform)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)

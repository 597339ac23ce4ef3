"""Atomic file output: write a temporary file beside the target, fsync, then ``os.replace``.

On any error inside the ``with`` block the temporary file is removed and an existing target is
left untouched; readers never see a half-written file. The new file keeps the mode of the file
it replaces (``0o644`` for a new file).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO

__all__ = ["atomic_output", "atomic_text_writer"]

_NEW_FILE_MODE = 0o644


@contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces *path* only when the block finishes without error."""
    target = Path(os.fspath(path))
    folder = target.parent
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
def atomic_text_writer(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[IO[str]]:
    """Text-mode :func:`atomic_output` (``\\n`` line endings, *encoding* default UTF-8)."""
    with atomic_output(path) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
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

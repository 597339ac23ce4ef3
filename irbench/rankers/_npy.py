"""Append rows to a ``.npy`` file whose row count is not known in advance.

The ``.npy`` format (NEP 1, https://numpy.org/neps/nep-0001-npy-format.html) starts with a
magic string, a version, the header length and a Python-literal header holding ``shape``; the
header "is terminated by a newline and padded with spaces" so that the data starts at a multiple
of 64 bytes. :class:`NpyAppender` reserves a fixed 128-byte header (room for any 2-D shape),
streams float32 rows after it, and rewrites the header with the final row count on
:meth:`NpyAppender.close`. The result is an ordinary ``.npy`` file: ``np.load(path,
mmap_mode="r")`` opens it without reading it into memory.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType

import numpy as np

__all__ = ["NpyAppender"]

_MAGIC = b"\x93NUMPY\x01\x00"  # format version 1.0: the header length is a little-endian uint16
_HEADER_TOTAL = 128  # magic (8) + length (2) + header text (118): a multiple of 64


def _header(rows: int, dim: int) -> bytes:
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    room = _HEADER_TOTAL - len(_MAGIC) - 2
    if len(text) + 1 > room:  # pragma: no cover - needs more than 10**90 rows
        raise ValueError(f"shape ({rows}, {dim}) does not fit the reserved .npy header")
    padded = text.ljust(room - 1).encode("ascii") + b"\n"
    return _MAGIC + struct.pack("<H", room) + padded


class NpyAppender:
    """Write a float32 matrix of *dim* columns to *path* one block of rows at a time.

    Memory stays bounded by the largest block. Use as a context manager; the header is only
    valid after :meth:`close` (a file left by an interrupted build says 0 rows).
    """

    def __init__(self, path: Path, dim: int) -> None:
        self.path = Path(path)
        self.dim = int(dim)
        self.rows = 0
        self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(_header(0, self.dim))

    def append(self, block: np.ndarray) -> None:
        """Append the rows of a ``(n, dim)`` array (converted to little-endian float32)."""
        block = np.ascontiguousarray(block, dtype="<f4")
        if block.ndim != 2 or block.shape[1] != self.dim:
            raise ValueError(f"expected rows of {self.dim} values, got shape {block.shape}")
        self._file.write(block.data)
        self.rows += block.shape[0]

    def close(self) -> None:
        """Write the final shape into the header and close the file."""
        if self._file.closed:
            return
        self._file.seek(0)
        self._file.write(_header(self.rows, self.dim))
        self._file.close()

    def __enter__(self) -> NpyAppender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

"""Vectorised 64-bit fingerprints of Arrow string arrays (used to find duplicate documents).

Building a hash table of millions of distinct document ids (``dictionary_encode``) costs more
than everything else in an evaluation; hashing the raw UTF-8 bytes eight at a time with numpy
is a few linear passes. Equal strings always get equal fingerprints; equal fingerprints are
confirmed on the strings before anything is reported.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from irbench._arrow import single_chunk

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


def _offsets_and_data(arr: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    if arr.null_count:
        arr = arr.fill_null("")
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    buffers = arr.buffers()
    offsets = np.frombuffer(
        buffers[1],
        dtype=off_type,
        count=len(arr) + 1,
        offset=arr.offset * np.dtype(off_type).itemsize,
    )
    data_buf = buffers[2]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.empty(0, np.uint8)
    )
    return offsets.astype(np.int64, copy=False), data


#: ``_TAIL_MASK[k]`` keeps the low ``k`` bytes of a little-endian word (k = 0..8).
_TAIL_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


def _words_at_every_byte(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """View of ``data`` whose item ``i`` is the little-endian 8-byte word at byte ``i``.

    An unaligned, overlapping view (stride 1 byte, no copy): gathering it at the string
    offsets reads each string's next eight bytes in one 1-D ``take``.
    """
    return np.ndarray((max(data.size - 7, 0),), dtype="<u8", buffer=data, strides=(1,))


def string_hashes(arr: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint64]:
    """A 64-bit fingerprint of every string in ``arr``, a function of that string alone.

    The length is mixed with splitmix64's multipliers, then each 8-byte little-endian word of
    the string (the last one zero-padded) in turn: word ``w`` only for strings longer than
    ``8 * w`` bytes (the first word always), so the fingerprint never depends on the other
    strings of the array (the longest one, or how the column is chunked). Equal strings, equal
    fingerprints, whichever arrays they come from; a match is still no proof of equality, so
    every lookup that decides a number confirms it on the strings.
    """
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            arr = arr.chunk(0)
        elif arr.num_chunks > 1:  # chunk by chunk: no copy of the whole column
            return np.concatenate([string_hashes(chunk) for chunk in arr.chunks])
        else:
            arr = single_chunk(arr)
    offsets, data = _offsets_and_data(arr)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    h = lengths.astype(np.uint64) * _M1
    if len(arr) == 0:
        return h
    padded = np.concatenate([data, np.zeros(8, dtype=np.uint8)])
    words = _words_at_every_byte(padded)
    last = words.size - 1
    _mix(h, words[starts] & _TAIL_MASK[np.minimum(lengths, 8)])
    for w in range(8, int(lengths.max()), 8):
        longer = np.flatnonzero(lengths > w)  # only strings that have bytes at offset w
        pos = np.minimum(starts[longer] + w, last)
        word = words[pos] & _TAIL_MASK[np.minimum(lengths[longer] - w, 8)]
        hl = h[longer]
        _mix(hl, word)
        h[longer] = hl
    return h


def _mix(h: npt.NDArray[np.uint64], word: npt.NDArray[np.uint64]) -> None:
    """One splitmix64-style round folding ``word`` into ``h`` (in place)."""
    with np.errstate(over="ignore"):
        h ^= word
        h *= _M2
        h ^= h >> np.uint64(31)
        h *= _M1


#: Odd constant mixing a query position into a document fingerprint (splitmix64's).
_QPOS_MIX = np.uint64(0x94D049BB133111EB)


def pair_keys(
    qpos: npt.NDArray[np.int64], doc_hash: npt.NDArray[np.uint64]
) -> npt.NDArray[np.uint64]:
    """64-bit key of each (query position, document fingerprint) pair."""
    return doc_hash ^ (qpos.astype(np.uint64) * _QPOS_MIX)

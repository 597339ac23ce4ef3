"""Arrow <-> numpy conversions that do not import pandas.

pyarrow imports pandas on the first ``Array.to_numpy()``, ``pa.array(...)`` or scalar
conversion (to look for a pandas Series or extension type). On a small evaluation that import
costs more than the whole computation, so the engine and the readers convert through buffers:
a null-free fixed-width Arrow array *is* a numpy array over the same memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

_NUMPY_OF_ARROW = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float": np.float32,
    "double": np.float64,
}
_ARROW_OF_NUMPY = {
    np.dtype(np.int8): pa.int8(),
    np.dtype(np.int16): pa.int16(),
    np.dtype(np.int32): pa.int32(),
    np.dtype(np.int64): pa.int64(),
    np.dtype(np.uint8): pa.uint8(),
    np.dtype(np.uint16): pa.uint16(),
    np.dtype(np.uint32): pa.uint32(),
    np.dtype(np.uint64): pa.uint64(),
    np.dtype(np.float32): pa.float32(),
    np.dtype(np.float64): pa.float64(),
}


def single_chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``arr`` as one contiguous Array (combining chunks only when there are several)."""
    if isinstance(arr, pa.ChunkedArray):
        return arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()
    return arr


def to_numpy(arr: pa.Array | pa.ChunkedArray, *, null: float | None = None) -> np.ndarray:
    """Read-only numpy view of a numeric or boolean Arrow array (copy for bool/chunks/nulls).

    Nulls are refused unless ``null`` gives the value that replaces them (in a copy).
    """
    arr = single_chunk(arr)
    if arr.null_count:
        if null is None:
            raise ValueError(f"to_numpy() needs an array without nulls ({arr.null_count} found)")
        bitmap = np.frombuffer(arr.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(bitmap, bitorder="little")[arr.offset : arr.offset + len(arr)]
        values = _view(arr).copy()
        values[valid == 0] = null
        return values
    return _view(arr)


def _view(arr: pa.Array) -> np.ndarray:
    n, offset = len(arr), arr.offset
    if pa.types.is_boolean(arr.type):
        buf = arr.buffers()[1]
        if n == 0 or buf is None:
            return np.zeros(n, dtype=bool)
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")
        return bits[offset : offset + n].astype(bool)
    dtype = np.dtype(_dtype_of(arr.type))
    buf = arr.buffers()[1]
    if n == 0 or buf is None:
        return np.empty(0, dtype=dtype)
    return np.frombuffer(buf, dtype=dtype, count=n, offset=offset * dtype.itemsize)


def from_numpy(values: np.ndarray) -> pa.Array:
    """Arrow array over a 1-D numeric or boolean numpy array (zero-copy when contiguous)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        packed = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), values.size, [None, pa.py_buffer(packed)])
    try:
        typ = _ARROW_OF_NUMPY[values.dtype]
    except KeyError:
        raise TypeError(f"from_numpy() does not handle dtype {values.dtype}") from None
    return pa.Array.from_buffers(typ, values.size, [None, pa.py_buffer(values)])


def string_array(values: Sequence[str]) -> pa.Array:
    """Arrow ``string`` array of Python strings."""
    encoded = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = pa.py_buffer(b"".join(encoded))
    if offsets[-1] < 2**31:
        offs = pa.py_buffer(offsets.astype(np.int32))
        return pa.Array.from_buffers(pa.string(), len(encoded), [None, offs, data])
    big = pa.Array.from_buffers(
        pa.large_string(), len(encoded), [None, pa.py_buffer(offsets), data]
    )
    return big.cast(pa.string())


def repeat_string(value: str, count: int) -> pa.Array:
    """Arrow ``string`` array holding ``value`` ``count`` times."""
    raw = value.encode("utf-8")
    offsets = np.arange(count + 1, dtype=np.int64) * len(raw)
    if offsets[-1] >= 2**31:
        return string_array([value] * count)
    buffers = [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(raw * count)]
    return pa.Array.from_buffers(pa.string(), count, buffers)


def _dtype_of(typ: pa.DataType) -> type:
    try:
        return _NUMPY_OF_ARROW[str(typ)]
    except KeyError:
        raise TypeError(f"no zero-copy numpy view of Arrow type {typ}") from None


def read_parquet(source: Any) -> pa.Table:
    """One Parquet file (path or file-like) as a table, through ``ParquetFile``.

    ``pyarrow.parquet.read_table`` goes through ``pyarrow.dataset``, whose import pulls in
    pandas: on this project's 2-core VM that import took 15-40 s, against 0.02 s for reading a
    small file this way.
    """
    import pyarrow.parquet as pq

    return pq.ParquetFile(source).read()

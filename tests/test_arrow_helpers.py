"""The pandas-free Arrow <-> numpy conversions in irbench._arrow."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irbench._arrow import from_numpy, repeat_string, string_array, to_numpy


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint64, np.float32, np.float64, np.bool_])
def test_round_trip(dtype: type) -> None:
    values = (np.arange(37) % 5).astype(dtype)
    arr = from_numpy(values)
    assert arr.to_pylist() == values.tolist()
    np.testing.assert_array_equal(to_numpy(arr), values)


def test_to_numpy_respects_slice_offsets_and_chunks() -> None:
    arr = from_numpy(np.arange(20, dtype=np.int64))
    np.testing.assert_array_equal(to_numpy(arr.slice(3, 5)), np.arange(3, 8))
    mask = from_numpy(np.arange(20) % 3 == 0)
    np.testing.assert_array_equal(to_numpy(mask.slice(5, 9)), np.arange(5, 14) % 3 == 0)
    chunked = pa.chunked_array([arr.slice(0, 4), arr.slice(10, 3)])
    np.testing.assert_array_equal(to_numpy(chunked), [0, 1, 2, 3, 10, 11, 12])
    assert to_numpy(pa.chunked_array([], pa.float64())).dtype == np.float64


def test_to_numpy_refuses_nulls_and_strings() -> None:
    with pytest.raises(ValueError, match="without nulls"):
        to_numpy(pc.index_in(string_array(["a", "b"]), value_set=string_array(["a"])))
    with pytest.raises(TypeError, match="no zero-copy"):
        to_numpy(string_array(["a"]))


@settings(max_examples=40)  # st.text() examples are slow to generate on a loaded machine
@given(st.lists(st.text(), max_size=30))
def test_string_array_equals_python_strings(values: list[str]) -> None:
    arr = string_array(values)
    assert arr.type == pa.string()
    assert arr.to_pylist() == values
    arr.validate(full=True)


def test_repeat_string() -> None:
    arr = repeat_string("nDCG@10", 4)
    arr.validate(full=True)
    assert arr.to_pylist() == ["nDCG@10"] * 4
    assert repeat_string("x", 0).to_pylist() == []

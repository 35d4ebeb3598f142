"""Results in bulk: they pickle as their fields (what forked decoding sends back), and a big
matrix of vectors is made without numpy's huge-page request (see ``_export.empty_matrix``)."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

import batchkit as bk
from batchkit._export import empty_matrix, grown


def test_a_result_pickles_as_its_fields_and_comes_back_equal() -> None:
    result = bk.Result("a", "succeeded", text="hi", usage=bk.Usage(3, 4, reasoning_tokens=1),
                       metadata={"n": 1}, raw={"id": "x"}, attempts=2, cost_usd=0.5)
    data = pickle.dumps(result)
    back = pickle.loads(data)
    assert back == result and back.usage == result.usage and back is not result
    assert type(back.usage) is bk.Usage
    reduced: Any = result.__reduce__()  # a call of the class: no state dict to set
    assert reduced[0] is bk.Result and bk.Result(*reduced[1]) == result
    assert pickle.loads(pickle.dumps(bk.Usage())) == bk.Usage()


def test_a_big_matrix_is_a_plain_writable_array_and_grows_keeping_its_rows() -> None:
    matrix = empty_matrix((2_048, 1_024), np.float32)  # 8 MiB: mapped at once
    assert matrix.shape == (2_048, 1_024) and matrix.dtype == np.float32
    assert matrix.flags.c_contiguous and matrix.flags.writeable
    matrix[:] = np.arange(1_024, dtype=np.float32)
    bigger = grown(matrix, 3_000)
    assert bigger.shape == (4_096, 1_024)
    assert np.array_equal(bigger[:2_048], matrix)
    small = empty_matrix((3, 4), np.int8)
    assert small.shape == (3, 4) and small.dtype == np.int8 and small.flags.owndata

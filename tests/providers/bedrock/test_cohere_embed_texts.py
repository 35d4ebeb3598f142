"""Several texts in one Bedrock record (#20): Cohere Embed's body takes ``texts`` (up to 96),
so an EmbedRequest of several texts is one record answered by one vector per text, through
boto3 against the Bedrock and S3 emulators; Titan's body embeds one ``inputText`` and refuses
(tests/texts/test_embed_texts.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import batchkit as bk
from batchkit._exceptions import InvalidRequestError

N = 100
"""Bedrock's minimum records per job."""
MODEL = "bedrock:cohere.embed-english-v3"
UNPRICED = {"allow_unknown_model": True}


def test_a_record_of_several_texts_gets_a_vector_per_text(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"d{i}", texts=[f"passage {i}.{j}" for j in range(3)],
                                input_type="search_document") if i % 2 else
                bk.EmbedRequest(custom_id=f"d{i}", text=f"passage {i}") for i in range(N)]
    results = bk.run(requests, MODEL, options=UNPRICED)
    assert results.counts() == {"succeeded": N}
    assert [r.custom_id for r in results] == [r.custom_id for r in requests]
    shapes = [r.embedding.shape for r in results if r.embedding is not None]
    assert shapes == [(1024,) if i % 2 == 0 else (3, 1024) for i in range(N)]
    matrix = results.embeddings()
    assert matrix.shape == (N // 2 + 3 * N // 2, 1024)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-4)
    np.testing.assert_array_equal(matrix[1:4], results[1].embedding)
    np.testing.assert_array_equal(matrix[4], results[2].embedding)


def test_more_texts_than_a_record_takes_is_refused_before_anything(handle: Any) -> None:
    requests = [bk.EmbedRequest(custom_id=f"d{i}", text=f"passage {i}") for i in range(N)]
    requests.append(bk.EmbedRequest(custom_id="many", texts=[f"t{i}" for i in range(97)]))
    with pytest.raises(InvalidRequestError, match=r"custom_id 'many': .*at most 96 texts"):
        bk.submit(requests, MODEL, options=UNPRICED)
    assert bk.list_jobs() == []

"""Several texts in one embedding request (#20): one vendor line, one vector per text.

Through the real SDKs against the emulators where the vendor's batch line takes a list (OpenAI,
Mistral; Bedrock's Cohere Embed in tests/providers/bedrock/test_cohere_embed_texts.py), and a
one-line refusal before anything is recorded or sent everywhere else. The emulators' vectors
depend only on the model and the text, so a text sent in a list must come back as the same
vector it has when sent alone: that is what the ordering checks compare against.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import batchkit as bk
from batchkit._exceptions import InvalidRequestError
from batchkit.testing import emulate

from ._calls import counted

TEXTS = [["alpha", "beta", "gamma"], ["delta"], ["epsilon", "zeta"]]


def _mixed() -> list[bk.EmbedRequest]:
    """A list request, a one-text request, a list of one, a list of two."""
    return [bk.EmbedRequest(custom_id="list-3", texts=TEXTS[0]),
            bk.EmbedRequest(custom_id="one", text="eta"),
            bk.EmbedRequest(custom_id="list-1", texts=TEXTS[1]),
            bk.EmbedRequest(custom_id="list-2", texts=TEXTS[2])]


ORDER = [*TEXTS[0], "eta", *TEXTS[1], *TEXTS[2]]
"""Every text of :func:`_mixed` in request, then text, order."""


@pytest.mark.parametrize(("provider", "dim"), [("openai:text-embedding-3-small", 1536),
                                               ("mistral:mistral-embed", 1024)])
def test_one_line_per_request_one_vector_per_text_in_order(provider: str, dim: int) -> None:
    vendor = provider.partition(":")[0]
    with emulate(providers=[vendor]):
        results = bk.run(_mixed(), provider)
        alone = bk.run([bk.EmbedRequest(custom_id=f"t{i}", text=t)
                        for i, t in enumerate(ORDER)], provider).embeddings()
    assert [r.custom_id for r in results] == ["list-3", "one", "list-1", "list-2"]
    assert results.counts() == {"succeeded": 4}
    assert results[0].embedding is not None and results[0].embedding.shape == (3, dim)
    assert results[1].embedding is not None and results[1].embedding.shape == (dim,)
    assert results[3].embedding is not None and results[3].embedding.shape == (2, dim)
    matrix = results.embeddings()
    assert matrix.shape == (len(ORDER), dim) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix, alone)  # each text's own vector, in order
    assert results[0].usage is not None and results[0].usage.input_tokens > 0


def test_the_vendor_line_carries_the_list_and_one_text_stays_a_string(tmp_path: Path) -> None:
    [payload] = bk.encode(_mixed()[:2], "openai:text-embedding-3-small", tmp_path)
    first, second = payload.read_bytes().splitlines()
    assert b'"input":["alpha","beta","gamma"]' in first
    assert b'"input":"eta"' in second


@pytest.mark.parametrize("lazy", [False, True])
def test_npy_and_parquet_keep_every_text(lazy: bool, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow.parquet")
    with emulate(providers=["openai"]):
        job = bk.submit(_mixed(), "openai:text-embedding-3-small")
        job.wait()
        results = job.results(lazy=lazy)
        matrix = results.embeddings()
        results.to_parquet(tmp_path / "out.parquet")
        table = pa.read_table(tmp_path / "out.parquet")
        if not lazy:  # an in-memory set counts its rows; a streamed one is not walked twice
            results.to_npy(tmp_path / "out.npy")
            np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), matrix)
    assert matrix.shape[0] == len(ORDER)
    rows = table.to_pylist()
    assert [r["custom_id"] for r in rows] == ["list-3", "one", "list-1", "list-2"]
    assert rows[1]["embedding"] is not None and rows[1]["embeddings"] is None
    assert rows[0]["embedding"] is None and len(rows[0]["embeddings"]) == 3
    np.testing.assert_array_equal(np.asarray(rows[0]["embeddings"], dtype=np.float32),
                                  matrix[:3])


def test_a_streamed_set_refuses_npy_rows_it_did_not_count(tmp_path: Path) -> None:
    with emulate(providers=["openai"]):
        job = bk.submit(_mixed(), "openai:text-embedding-3-small")
        job.wait()
        with pytest.raises(ValueError, match="'list-1' is past the matrix's 4 rows"):
            job.results(lazy=True).to_npy(tmp_path / "out.npy")


@pytest.mark.parametrize(("fields", "rule"), [
    ({}, "give exactly one of text or texts"),
    ({"text": "a", "texts": ["b"]}, "give exactly one of text or texts"),
    ({"texts": []}, "must hold at least one text"),
    ({"texts": ["ok", "  "]}, "text 1 must not be empty"),
])
def test_bad_texts_are_one_line_errors_naming_the_request(fields: dict[str, Any],
                                                          rule: str) -> None:
    with pytest.raises(InvalidRequestError, match=f"custom_id 'bad'.*{rule}") as err:
        bk.EmbedRequest(custom_id="bad", **fields)
    assert "\n" not in str(err.value)


def test_openai_refuses_more_texts_than_a_line_takes() -> None:
    many = bk.EmbedRequest(custom_id="many", texts=[f"t{i}" for i in range(2049)])
    with emulate(providers=["openai"]) as handle, pytest.raises(
            InvalidRequestError, match=r"custom_id 'many': .*at most 2048 texts"):
        bk.submit([many], "openai:text-embedding-3-small")
    assert handle.apps["openai"].files == {}


REFUSING = [
    ("cohere", "cohere:embed-english-v3.0"), ("gemini", "gemini:gemini-embedding-001"),
    ("vertex", "vertex:text-embedding-005"), ("bedrock", "bedrock:amazon.titan-embed-text-v2:0"),
    ("anthropic", "anthropic:claude-haiku-4-5"), ("azure", "azure:text-embedding-3-small"),
    ("together", "together:openai/gpt-oss-20b"), ("groq", "groq:llama-3.1-8b-instant"),
]
EMBEDS = {"cohere", "gemini", "vertex", "bedrock"}
"""Vendors whose batches embed (one text a line): a one-text request before the list passes."""


@pytest.mark.parametrize(("vendor", "provider"), REFUSING, ids=[r[0] for r in REFUSING])
def test_a_vendor_whose_line_embeds_one_text_refuses_before_anything(vendor: str,
                                                                     provider: str) -> None:
    requests = [bk.EmbedRequest(custom_id="several", texts=["a", "b"])]
    if vendor in EMBEDS:
        requests.insert(0, bk.EmbedRequest(custom_id="fine", text="one"))
    with counted(vendor) as calls:
        with pytest.raises(InvalidRequestError) as err:
            bk.submit(requests, provider, options={"allow_unknown_model": True})
        assert calls() == 0
    message = str(err.value)
    assert message.startswith("custom_id 'several': ") and "\n" not in message
    assert vendor in message.lower()
    way = "send one request per text" if vendor in EMBEDS else "EmbedRequests to"
    assert way in message, message

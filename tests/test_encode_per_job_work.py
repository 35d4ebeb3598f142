"""What is the same for every line of a job is worked out once per job, for every vendor.

Encoding once cost 15-20 ms a request on Gemini, Vertex, Mistral and Cohere, against 10 µs on
OpenAI: each line re-read every installed distribution's entry points (to know the provider
names that scope ``params``), and some codecs rebuilt the response model's JSON schema per line.
Nothing here is timed: the tests count that work and require it not to grow with the number of
requests (``benchmarks/bench_encode.py`` measures the speed).
"""

from __future__ import annotations

import tempfile
from typing import Any

import pytest
from pydantic import BaseModel

import batchkit as bk
from batchkit import _registry

from .test_encode_identity import COLUMNS, SYSTEM


def _model() -> tuple[type[BaseModel], list[int]]:
    """A response model class of its own (no codec has cached it yet) counting its schema
    builds."""
    built = [0]

    class Verdict(BaseModel):
        spam: bool
        reason: str

        @classmethod
        def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
            built[0] += 1
            return super().model_json_schema(*args, **kwargs)

    return Verdict, built


def _encode(provider: str, options: dict[str, Any], count: int,
            **fields: Any) -> None:
    requests = [bk.ChatRequest(custom_id=f"r-{i}", max_tokens=50,
                               messages=[SYSTEM, {"role": "user", "content": f"text {i}"}],
                               **fields) for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        bk.encode(requests, provider, tmp, options=dict(options))


@pytest.fixture(autouse=True)
def _bedrock_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHKIT_BEDROCK_MIN_RECORDS", "1")


@pytest.mark.parametrize("column", list(COLUMNS))
def test_entry_points_are_read_once_not_per_request(column: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    reads = [0]
    real = _registry.entry_points

    def counting(**kwargs: Any) -> Any:
        reads[0] += 1
        return real(**kwargs)

    monkeypatch.setattr(_registry, "entry_points", counting)
    _registry._entry_point_targets.cache_clear()
    provider, _, options = COLUMNS[column]
    # Another vendor's scope: every line must tell it from a field, by the provider names.
    _encode(provider, options, 30, params={"fake": {"x": 1}})
    assert reads[0] <= 1


@pytest.mark.parametrize("column", list(COLUMNS))
def test_a_response_models_schema_is_built_per_class_not_per_request(column: str) -> None:
    provider, _, options = COLUMNS[column]
    few, few_built = _model()
    _encode(provider, options, 3, response_model=few)
    many, many_built = _model()
    _encode(provider, options, 40, response_model=many)
    assert few_built[0] >= 1, "the count must see the schema being built at all"
    assert many_built[0] == few_built[0]

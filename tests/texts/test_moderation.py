"""Moderation requests (#20): OpenAI and Mistral batch them at ``/v1/moderations``; every other
vendor, and a model that does not moderate, refuses them before anything is sent.

Jobs run through the real ``openai`` and ``mistralai`` SDKs against the emulators, which flag
a category when its trigger word is in the text (``testing/emulators/_moderation.py``), so a
test knows which text must come back flagged, and in which category.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

import batchkit as bk
from batchkit._cache import result_from_dict
from batchkit._exceptions import InvalidRequestError
from batchkit.testing import emulate
from batchkit.testing._spec import validate
from batchkit.testing.emulators.mistral.replies import moderation as mistral_reply
from batchkit.testing.emulators.openai.replies import moderation as openai_reply

from ._calls import counted

VIOLENT = {"openai": "violence", "mistral": "violence_and_threats"}
HATEFUL = {"openai": "hate", "mistral": "hate_and_discrimination"}
MODELS = {"openai": "openai:omni-moderation-latest",
          "mistral": "mistral:mistral-moderation-latest"}


def _requests() -> list[bk.ModerationRequest]:
    return [bk.ModerationRequest(custom_id="pair", texts=["I will kill them", "a sunny day"]),
            bk.ModerationRequest(custom_id="one", text="I hate mondays", metadata={"row": 1}),
            bk.ModerationRequest(custom_id="calm", text="tea at five")]


@pytest.mark.parametrize("vendor", ["openai", "mistral"])
def test_a_moderation_job_decodes_a_verdict_per_text(vendor: str) -> None:
    with emulate(providers=[vendor]):
        results = bk.run(_requests(), MODELS[vendor])
    assert [r.custom_id for r in results] == ["pair", "one", "calm"]
    assert results.counts() == {"succeeded": 3}
    pair, one, calm = (r.moderation for r in results)
    assert pair is not None and one is not None and calm is not None
    assert [m.flagged for m in pair] == [True, False] and len(one) == 1 and len(calm) == 1
    assert [k for k, v in pair[0].categories.items() if v] == [VIOLENT[vendor]]
    assert [k for k, v in one[0].categories.items() if v] == [HATEFUL[vendor]]
    assert not calm[0].flagged and not any(calm[0].categories.values())
    assert pair[0].category_scores[VIOLENT[vendor]] > 0.9 > max(
        calm[0].category_scores.values())
    assert results[1].metadata == {"row": 1} and results[0].text is None


@pytest.mark.parametrize("vendor", ["openai", "mistral"])
def test_real_time_mode_answers_as_the_batch_does(vendor: str) -> None:
    with emulate(providers=[vendor]):
        batch = bk.run(_requests(), MODELS[vendor])
        now = bk.run(_requests(), MODELS[vendor], mode="realtime")
    assert now.counts() == {"succeeded": 3}
    assert [r.moderation for r in now] == [r.moderation for r in batch]


@pytest.mark.parametrize("vendor", ["openai", "mistral"])
def test_the_line_is_the_vendors_moderation_request(vendor: str, tmp_path: Path) -> None:
    [payload] = bk.encode(_requests()[:2], MODELS[vendor], tmp_path)
    pair, one = (orjson.loads(line) for line in payload.read_bytes().splitlines())
    assert pair["body"]["input"] == ["I will kill them", "a sunny day"]
    assert one["body"]["input"] == "I hate mondays"
    if vendor == "openai":
        assert pair["url"] == "/v1/moderations"
        assert pair["body"]["model"] == "omni-moderation-latest"
        assert validate("openai", "CreateModerationRequest", pair["body"]) == []
    else:  # Mistral names the model once, on the job
        assert "model" not in pair["body"]
        body = {**pair["body"], "model": "mistral-moderation-latest"}
        assert validate("mistral", "ClassificationRequest", body) == []


def test_the_emulators_answer_in_the_vendors_response_schema() -> None:
    body = {"model": "omni-moderation-latest", "input": ["kill", "fine"]}
    assert validate("openai", "CreateModerationResponse", openai_reply(body, "c")) == []
    body = {"model": "mistral-moderation-latest", "input": ["kill", "fine"]}
    assert validate("mistral", "ModerationResponse", mistral_reply(body)) == []


def test_jsonl_parquet_and_the_cache_carry_the_verdicts(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    with emulate(providers=["openai"]):
        results = bk.run(_requests(), MODELS["openai"])
    results.to_jsonl(tmp_path / "out.jsonl")
    results.to_parquet(tmp_path / "out.parquet")
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [m["flagged"] for m in lines[0]["moderation"]] == [True, False]
    assert lines[1]["moderation"][0]["categories"]["hate"] is True
    rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert [json.loads(r["moderation"]) for r in rows] == [line["moderation"] for line in lines]
    back = result_from_dict(results[0].to_dict())
    assert back.moderation == results[0].moderation


def test_estimate_prices_openai_free_and_mistral_per_token() -> None:
    free = bk.estimate(_requests(), MODELS["openai"])
    paid = bk.estimate(_requests(), MODELS["mistral"])
    assert free.requests == paid.requests == 3 and paid.input_tokens > 0
    assert free.batch_cost_expected == 0.0 and paid.output_tokens_max == 0
    assert paid.batch_cost_expected is not None and paid.batch_cost_expected > 0


@pytest.mark.parametrize(("request_", "provider", "rule"), [
    (bk.ModerationRequest(custom_id="m", text="x"), "openai:gpt-4o-mini",
     "openai:gpt-4o-mini is a chat model and cannot serve a moderation request"),
    (bk.EmbedRequest(custom_id="m", text="x"), "openai:omni-moderation-latest",
     "openai:omni-moderation-latest is a moderation model and cannot serve an embedding request"),
    (bk.ModerationRequest(custom_id="m", text="x"), "mistral:mistral-embed",
     "mistral:mistral-embed is an embedding model and cannot serve a moderation request"),
])
def test_a_model_that_does_not_moderate_refuses_before_anything(request_: Any, provider: str,
                                                                 rule: str) -> None:
    vendor = provider.partition(":")[0]
    with counted(vendor) as calls:
        with pytest.raises(InvalidRequestError, match=f"custom_id 'm': {rule}"):
            bk.submit([request_], provider)
        assert calls() == 0


REFUSING = [("anthropic", "anthropic:claude-haiku-4-5"), ("azure", "azure:gpt-4o-mini"),
            ("bedrock", "bedrock:amazon.nova-lite-v1:0"), ("cohere", "cohere:embed-english-v3.0"),
            ("gemini", "gemini:gemini-2.5-flash"), ("groq", "groq:llama-3.1-8b-instant"),
            ("together", "together:openai/gpt-oss-20b"), ("vertex", "vertex:gemini-2.5-flash")]


@pytest.mark.parametrize(("vendor", "provider"), REFUSING, ids=[r[0] for r in REFUSING])
def test_every_other_vendor_refuses_moderation_before_anything(vendor: str,
                                                               provider: str) -> None:
    with counted(vendor) as calls:
        with pytest.raises(InvalidRequestError) as err:
            bk.submit(_requests(), provider, options={"allow_unknown_model": True})
        assert calls() == 0
    message = str(err.value)
    assert message.startswith(f"custom_id 'pair': {vendor}: moderation requests unsupported")
    assert "openai:omni-moderation-latest" in message and "\n" not in message

"""Each Bedrock family both ways: neutral -> modelInput -> neutral keeps the request, and a body
written by hand from the family's parameter page reads back and re-encodes to the very same
body. Also the native input reader: the family from the model or the body's shape, and one-line
errors naming the line, the recordId and the rule."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

import batchkit as bk
from batchkit._registry import make_adapter
from batchkit.providers.bedrock import reader
from batchkit.providers.bedrock.codec import encode_record
from batchkit.providers.bedrock.families import FAMILIES, Family, family_of
from batchkit.testing.emulators.bedrock.replies import input_problem

SYSTEM = {"role": "system", "content": "Answer in one line."}
TURNS = [{"role": "user", "content": "Capital of France?"},
         {"role": "assistant", "content": "Paris."},
         {"role": "user", "content": "And of Spain?"}]
MODELS = {
    "titan-text": "amazon.titan-text-express-v1", "llama": "us.meta.llama3-3-70b-instruct-v1:0",
    "mistral": "mistral.mixtral-8x7b-instruct-v0:1", "deepseek": "us.deepseek.r1-v1:0",
    "mistral-chat": "mistral.mistral-large-2407-v1:0",
    "claude": "anthropic.claude-3-5-haiku-20241022-v1:0", "nova": "amazon.nova-lite-v1:0",
    "titan-embed-v2": "amazon.titan-embed-text-v2:0",
    "titan-embed-v1": "amazon.titan-embed-text-v1",
    "cohere-embed-v3": "cohere.embed-english-v3", "cohere-embed-v4": "cohere.embed-v4:0",
}


def encode(request: bk.ChatRequest | bk.EmbedRequest, family: Family) -> dict[str, Any]:
    """The record body, checked by the adapter and accepted by the emulated model."""
    model = MODELS[family.name]
    assert family_of(model) is family
    make_adapter(f"bedrock:{model}").check_request(request)
    body: dict[str, Any] = orjson.loads(encode_record(request, "r1", family, {}))["modelInput"]
    assert input_problem(model, body) is None, input_problem(model, body)
    return body


def chat(messages: list[dict[str, Any]], **kw: Any) -> bk.ChatRequest:
    kw.setdefault("max_tokens", 300)
    return bk.ChatRequest(custom_id="c_1-x", messages=messages, **kw)


@pytest.mark.parametrize("name", ["titan-text", "llama", "deepseek"])
def test_prompt_families_keep_system_turns_and_sampling(name: str) -> None:
    request = chat([SYSTEM, *TURNS], temperature=0.5, top_p=0.9)
    family = FAMILIES[name]
    assert family.to_request(encode(request, family), "c_1-x") == request


def test_mistral_folds_the_system_prompt_into_the_first_user_turn() -> None:
    family = FAMILIES["mistral"]
    request = chat(TURNS, temperature=0.5, stop=["\n\n"])
    body = encode(request, family)
    assert body["prompt"] == ("<s>[INST] Capital of France? [/INST] Paris.</s>"
                              "[INST] And of Spain? [/INST]")
    assert family.to_request(body, "c_1-x") == request
    with_system = family.to_request(encode(chat([SYSTEM, *TURNS]), family), "c_1-x")
    assert with_system.messages[0].content == "Answer in one line.\n\nCapital of France?"


def test_claude_and_nova_keep_tools_images_documents_and_cache() -> None:
    png = base64.b64encode(b"\x89PNG tiny").decode()
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    lookup = bk.Tool.from_schema("lookup", {"type": "object", "properties": {
        "q": {"type": "string"}}, "required": ["q"]}, description="Find a record.")
    messages = [
        {"role": "system", "content": "Be brief.", "cache": True},
        {"role": "user", "content": [
            {"type": "text", "text": "What is in these?"},
            {"type": "image", "data": png, "media_type": "image/png"},
            {"type": "document", "data": pdf, "media_type": "application/pdf",
             "title": "Invoice 7", "cache": True},
            {"type": "text", "text": "Then look up A1."}]},
        {"role": "assistant", "content": "Looking.", "tool_calls": [
            {"id": "toolu_1", "name": "lookup", "arguments": {"q": "A1"}}]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "A1: 10"},
    ]
    for name in ("claude", "nova"):
        request = chat(messages, tools=[lookup], tool_choice="lookup", temperature=0.2)
        assert FAMILIES[name].to_request(encode(request, FAMILIES[name]), "c_1-x") == request


def test_mistral_chat_keeps_system_tools_and_tool_results() -> None:
    lookup = bk.Tool.from_schema("lookup", {"type": "object", "properties": {
        "q": {"type": "string"}}}, description="Find a record.")
    request = chat([SYSTEM, {"role": "user", "content": "Look up A1."},
                    {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "c1", "name": "lookup", "arguments": {"q": "A1"}}]},
                    {"role": "tool", "tool_call_id": "c1", "content": "A1: 10"}],
                   tools=[lookup], tool_choice="required", temperature=0.3)
    family = FAMILIES["mistral-chat"]
    body = encode(request, family)
    assert body["tool_choice"] == "any"
    assert body["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"q":"A1"}'
    assert family.to_request(body, "c_1-x") == request


@pytest.mark.parametrize("name", ["claude", "nova", "mistral-chat"])
def test_a_response_schema_reads_back_from_its_forced_tool(name: str) -> None:
    schema = {"type": "object", "properties": {"spam": {"type": "boolean"}},
              "required": ["spam"]}
    request = chat(TURNS, response_schema=schema)
    assert FAMILIES[name].to_request(encode(request, FAMILIES[name]), "c_1-x") == request


def test_claude_reasoning_reads_back() -> None:
    request = chat(TURNS, reasoning=2048, max_tokens=4096)
    assert FAMILIES["claude"].to_request(encode(request, FAMILIES["claude"]), "c") == \
        request.model_copy(update={"custom_id": "c"})


@pytest.mark.parametrize(("name", "request_"), [
    ("titan-embed-v2", bk.EmbedRequest(custom_id="e_1", text="hello", dimensions=256,
                                       params={"bedrock": {"normalize": False}})),
    ("titan-embed-v1", bk.EmbedRequest(custom_id="e_1", text="hello")),
    ("cohere-embed-v3", bk.EmbedRequest(custom_id="e_1", text="hello", input_type="search_query",
                                        params={"bedrock": {"truncate": "END"}})),
    ("cohere-embed-v4", bk.EmbedRequest(custom_id="e_1", text="hello", dimensions=512,
                                        input_type="clustering")),
    ("cohere-embed-v3", bk.EmbedRequest(custom_id="e_1", texts=["hello", "world"],
                                        input_type="search_document")),
])
def test_embedding_families(name: str, request_: bk.EmbedRequest) -> None:
    assert FAMILIES[name].to_request(encode(request_, FAMILIES[name]), "e_1") == request_


HAND_WRITTEN = [
    ("titan-text", {"inputText": "User: Describe a hello world program.\nBot:",
                    "textGenerationConfig": {"maxTokenCount": 512, "temperature": 0.5,
                                             "topP": 0.9, "stopSequences": ["User:"]}}),
    ("titan-text", {"inputText": "Write a haiku about the sea."}),
    ("llama", {"prompt": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n"
                         "Describe the purpose of a 'hello world' program in one line."
                         "<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n",
               "max_gen_len": 512, "temperature": 0.5}),
    ("mistral", {"prompt": "<s>[INST] What is your favourite condiment? [/INST]",
                 "max_tokens": 200, "temperature": 0.5, "top_p": 0.9, "top_k": 50}),
    ("mistral-chat", {"messages": [{"role": "user", "content": "which llm are you?"}],
                      "max_tokens": 200, "tool_choice": "none"}),
    ("deepseek", {"prompt": "<｜begin▁of▁sentence｜><｜User｜>Describe a hello world program."
                            "<｜Assistant｜><think>\n", "max_tokens": 512, "temperature": 0.5,
                  "top_p": 0.9}),
    ("claude", {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 1024, "top_k": 250,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}]}),
    ("nova", {"schemaVersion": "messages-v1", "system": [{"text": "Act as a poet."}],
              "messages": [{"role": "user", "content": [{"text": "A poem about rain"}]}],
              "inferenceConfig": {"maxTokens": 500, "topP": 0.9, "topK": 20}}),
    ("titan-embed-v2", {"inputText": "What are the different services?", "dimensions": 512,
                        "normalize": True, "embeddingTypes": ["float", "binary"]}),
    ("cohere-embed-v3", {"texts": ["hello world"], "input_type": "search_document",
                         "truncate": "NONE", "embedding_types": ["float", "int8"]}),
]


@pytest.mark.parametrize(("name", "body"), HAND_WRITTEN)
def test_a_hand_written_body_reads_back_and_re_encodes_unchanged(name: str,
                                                                 body: dict[str, Any]) -> None:
    request = FAMILIES[name].to_request(body, "rec_1")
    assert orjson.loads(encode_record(request, "rec_1", FAMILIES[name], {}))[
        "modelInput"] == body


@pytest.mark.parametrize(("name", "body"), HAND_WRITTEN)
def test_the_reader_tells_the_family_from_the_body(name: str, body: dict[str, Any]) -> None:
    line = {"recordId": "rec_1-a", "modelInput": body}
    assert reader.looks_like(line)
    request = reader.request_from_line(line, 4, None)
    assert request.custom_id == "rec_1-a"
    bare = set(body) == {"inputText"}  # no config, no "User:" form: read as an embedding
    guessed = FAMILIES["titan-embed-v2" if bare else name]
    assert request == guessed.to_request(body, "rec_1-a")
    assert reader.request_from_line(line, 4, MODELS[name]) == FAMILIES[name].to_request(
        body, "rec_1-a")


@pytest.mark.parametrize(("line", "model", "words"), [
    ({"recordId": "r-1", "modelInput": {"prompt": "Hello"}}, None,
     "cannot tell the model family"),
    ({"recordId": "r-1", "modelInput": {"prompt": "Hello"}}, "cohere.command-r-v1:0",
     "'cohere.command-r-v1:0' is not in a family"),
    ({"recordId": "r-1", "modelInput": {"texts": [], "input_type": "search_query"}},
     None, "'texts' must be a list of one or more texts"),
    ({"recordId": "r-1", "modelInput": {"inputText": "hi"}, "extra": 1}, None,
     "unknown line field(s) extra"),
    ({"recordId": "r-1", "modelInput": {"messages": "nope"}}, "amazon.nova-lite-v1:0",
     "not a Amazon Nova body: 'messages' must be a list"),
    ({"recordId": "r-1", "modelInput": {"prompt": "x", "max_gen_len": 0}},
     "meta.llama3-8b-instruct-v1:0", "max_tokens"),
])
def test_reader_errors_name_line_record_and_rule(line: dict[str, Any], model: str | None,
                                                  words: str) -> None:
    with pytest.raises(bk.InvalidRequestError) as info:
        reader.request_from_line(line, 7, model)
    message = str(info.value)
    assert "line 7" in message and "'r-1'" in message and words in message
    assert "\n" not in message


@pytest.mark.parametrize(("model", "request_", "words"), [
    ("amazon.titan-text-express-v1", chat(TURNS, tools=[bk.Tool.from_schema(
        "f", {"type": "object", "properties": {}})]), "tools unsupported"),
    ("us.meta.llama3-3-70b-instruct-v1:0", chat(TURNS, stop=["x"]), "has no 'stop'"),
    ("mistral.mistral-large-2407-v1:0", chat(TURNS, tools=[bk.Tool.from_schema(
        "f", {"type": "object", "properties": {}})], tool_choice="f"), "one named tool"),
    ("mistral.mistral-7b-instruct-v0:2", chat(TURNS, seed=3), "no 'seed'"),
    ("us.deepseek.r1-v1:0", chat([*TURNS[:2]]), "ending with a user message"),
    ("mistral.mistral-7b-instruct-v0:2", chat(TURNS, response_schema={"type": "object"}),
     "cannot be held to a response_model"),
    ("amazon.titan-text-lite-v1", chat(TURNS, temperature=1.5), "between 0 and 1"),
    ("cohere.embed-english-v3", bk.EmbedRequest(custom_id="c_1-x", text="a", dimensions=256),
     "fixed size"),
    ("cohere.embed-v4:0", bk.EmbedRequest(custom_id="c_1-x", text="a", dimensions=300),
     "256, 512, 1024 or 1536"),
    ("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-instruct-v1:0",
     bk.EmbedRequest(custom_id="c_1-x", text="a"), "takes ChatRequests only"),
    ("cohere.command-r-v1:0", chat(TURNS), "'cohere.command-r-v1:0' is not in a family"),
])
def test_what_a_family_cannot_express_is_refused_before_sending(model: str, request_: Any,
                                                                 words: str) -> None:
    with pytest.raises(bk.InvalidRequestError) as info:
        make_adapter(f"bedrock:{model}").check_request(request_)
    assert words in str(info.value) and "c_1-x" in str(info.value)


@pytest.mark.parametrize(("model", "name"), [
    ("eu.meta.llama3-2-3b-instruct-v1:0", "llama"), ("apac.amazon.nova-pro-v1:0", "nova"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude"),
    ("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.deepseek.r1-v1:0", "deepseek"),
    ("mistral.mistral-large-2402-v1:0", "mistral"),
    ("mistral.mistral-large-2407-v1:0", "mistral-chat"), ("amazon.titan-text-premier-v1:0",
                                                     "titan-text"),
    ("cohere.embed-multilingual-v3", "cohere-embed-v3"), ("us.cohere.embed-v4:0",
                                                          "cohere-embed-v4"),
])
def test_family_from_profiles_and_arns(model: str, name: str) -> None:
    family = family_of(model)
    assert family is not None and family.name == name


@pytest.mark.parametrize(("model", "body", "words"), [
    ("us.meta.llama3-3-70b-instruct-v1:0", {"inputText": "hi"}, "extraneous key [inputText]"),
    ("amazon.titan-text-express-v1", {"prompt": "hi"}, "extraneous key [prompt]"),
    ("mistral.mistral-7b-instruct-v0:2", {"prompt": "hi", "max_gen_len": 9},
     "extraneous key [max_gen_len]"),
    ("us.deepseek.r1-v1:0", {"max_tokens": 9}, "required key [prompt]"),
    ("mistral.mistral-large-2407-v1:0", {"prompt": "hi"}, "required key [messages]"),
    ("cohere.embed-english-v3", {"texts": ["a"]}, "#/input_type"),
    ("cohere.embed-english-v3", {"texts": ["a"], "input_type": "clustering",
                                 "output_dimension": 256}, "extraneous key [output_dimension]"),
])
def test_the_emulated_model_rejects_another_familys_body(model: str, body: dict[str, Any],
                                                         words: str) -> None:
    problem = input_problem(model, body)
    assert problem is not None and words in problem

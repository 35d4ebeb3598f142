"""Reading Bedrock batch INPUT lines (``{"recordId", "modelInput"}``; the job names the model,
https://docs.aws.amazon.com/bedrock/latest/userguide/batch-inference-data.html) as neutral
requests, through the model family's own body reader (:mod:`.families`).

The lines do not name their model. With one (``format="bedrock:<model id>"``) its family reads
every body; without, the family is told from the body's shape:

* ``anthropic_version`` -> Claude; ``messages`` with string contents -> Mistral's chat body
  (Mistral Large 2); other ``messages`` (or ``inferenceConfig``, ``toolConfig``,
  ``schemaVersion``) -> Nova;
* ``inputText`` with ``textGenerationConfig``, or in Titan's ``User: ...\\nBot:`` form -> Titan
  Text; any other ``inputText`` -> Titan Text Embeddings (V2; ``dimensions`` is V2-only);
* ``texts`` -> Cohere Embed (v4 when ``output_dimension`` or ``inputs`` is set, else v3);
* ``prompt`` -> Llama, Mistral or DeepSeek, by the prompt's template or a field only one of them
  has (``max_gen_len``: Llama, ``top_k``: Mistral); a prompt in none of the templates is
  ambiguous and refused, asking for the model.

The ``recordId`` becomes the ``custom_id`` exactly as written.
"""

from __future__ import annotations

from typing import Any

from ..._exceptions import InvalidRequestError
from ..._requests import Request
from .._reader_kit import fail, string_id
from .families import (
    CLAUDE,
    COHERE_EMBED_V3,
    COHERE_EMBED_V4,
    DEEPSEEK,
    LLAMA,
    MISTRAL,
    MISTRAL_CHAT,
    NOVA,
    TITAN_EMBED_V2,
    TITAN_TEXT,
    BodyError,
    Family,
    family_of,
    known_prefixes,
)

__all__ = ["looks_like", "request_from_line"]

_LINE_KEYS = frozenset({"recordId", "modelInput"})
_TEMPLATES = (("<|begin_of_text|>", LLAMA), ("<｜begin▁of▁sentence｜>", DEEPSEEK),
              ("<s>[INST]", MISTRAL))


def looks_like(obj: dict[str, Any]) -> bool:
    """A ``recordId`` and a ``modelInput`` object."""
    return "recordId" in obj and isinstance(obj.get("modelInput"), dict)


def request_from_line(obj: dict[str, Any], line_no: int, model: str | None) -> Request:
    rid = string_id(obj.get("recordId"))
    if rid is None or not rid:
        fail("'recordId' must be a non-empty string", line_no)
    if set(obj) != _LINE_KEYS:
        fail(f"unknown line field(s) {', '.join(sorted(set(obj) - _LINE_KEYS))} (a batch "
             "record holds recordId and modelInput)", line_no, rid)
    body = obj["modelInput"]
    if not isinstance(body, dict):
        fail("'modelInput' must be a JSON object (the model's InvokeModel body)", line_no, rid)
    family = _family(model, body, line_no, rid)
    try:
        return family.to_request(body, rid)
    except BodyError as exc:
        fail(f"not a {family.label} body: {exc}", line_no, rid)
    except InvalidRequestError as exc:
        raise InvalidRequestError(exc.rule, custom_id=rid, line=line_no) from None


def _family(model: str | None, body: dict[str, Any], line_no: int, rid: str) -> Family:
    if model:
        family = family_of(model)
        if family is None:
            fail(f"bedrock model {model!r} is not in a family batchkit can read "
                 f"({known_prefixes()})", line_no, rid)
        return family
    guessed = guess_family(body)
    if guessed is None:
        fail(f"cannot tell the model family of this modelInput (keys "
             f"{', '.join(sorted(body)[:8])}); name the model: format='bedrock:<model id>'",
             line_no, rid)
    return guessed


def guess_family(body: dict[str, Any]) -> Family | None:
    """The family whose body ``body`` is, by its shape (None: no family or ambiguous)."""
    if "anthropic_version" in body:
        return CLAUDE
    turns = body.get("messages")
    if isinstance(turns, list) and any(isinstance(t, dict) and isinstance(t.get("content"), str)
                                       for t in turns):
        return MISTRAL_CHAT
    if "messages" in body or {"inferenceConfig", "toolConfig", "schemaVersion"} & set(body):
        return NOVA
    if "inputText" in body:
        text = body["inputText"]
        chat = isinstance(text, str) and text.endswith("\nBot:")
        return TITAN_TEXT if "textGenerationConfig" in body or chat else TITAN_EMBED_V2
    if "texts" in body:
        return COHERE_EMBED_V4 if {"output_dimension", "inputs"} & set(body) else COHERE_EMBED_V3
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        for start, family in _TEMPLATES:
            if prompt.startswith(start):
                return family
        if "max_gen_len" in body:
            return LLAMA
        if "top_k" in body:
            return MISTRAL
    return None

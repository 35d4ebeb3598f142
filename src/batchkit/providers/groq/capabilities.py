"""What Groq's batch chat lines can carry of the neutral features.

Groq's batch API runs its chat completions endpoint (https://console.groq.com/docs/batch), whose
request type in the ``groq`` SDK documents the limits kept here: ``n`` "only n=1 is supported",
``logprobs`` "not yet supported by any of our models"; ``reasoning_effort`` is
``none|default|low|medium|high`` (https://console.groq.com/docs/reasoning); tool use:
https://console.groq.com/docs/tool-use; prompt caching is automatic on the models that have it
(https://console.groq.com/docs/prompt-caching). Groq's models read no PDF documents.
See ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import NO_EMBEDDINGS, NO_MODERATION, complete, no, yes

__all__ = ["CAPABILITIES"]

_NO_PDF = "send the document's text as a text part (Groq's models read no PDF files)"

CAPABILITIES = complete({
    "tools": yes("tools[].function", note="strict schemas on gpt-oss models only"),
    "tool_choice": yes("tool_choice auto|none"),
    "tool_choice_required": yes("tool_choice 'required'"),
    "tool_choice_named": yes("tool_choice {type: function, function: {name}}"),
    "parallel_tool_calls": yes("parallel_tool_calls"),
    "tool_results": yes("assistant tool_calls + role 'tool' messages"),
    "message_name": yes("message 'name'"),
    "images": yes("image_url parts in user messages"),
    "documents": no(_NO_PDF),
    "document_file_id": no(_NO_PDF),
    "cache_breakpoints": yes("nothing sent", note="no-op: cached automatically"),
    "reasoning": yes("reasoning_effort low|medium|high", note="no 'minimal'; no token budget"),
    "reasoning_off": yes("reasoning_effort 'none'", note="qwen3 models"),
    "n": no("send n separate requests (Groq answers n=1 only)"),
    "logprobs": no("none: Groq returns no log probabilities yet; use provider 'openai'"),
    "response_schema": yes("response_format json_schema", note="strict on gpt-oss only"),
    "json_mode": yes("response_format json_object"),
    "embed_texts": no(NO_EMBEDDINGS.format(vendor="Groq")),
    "moderation": no(NO_MODERATION),
}, "groq")

"""What OpenAI's Chat Completions and Responses lines can carry of the neutral features.

Every feature is spelt by the codec (``codec.py``, ``bodies.py``); the two endpoints differ in
three finer rules the codec's ``check`` refuses: Responses has no ``n`` and keeps no message
``name``, and chat takes a document as data or a file id but not a URL. Facts: the OpenAI
OpenAPI spec (``CreateChatCompletionRequest``, ``CreateResponse``) and
https://platform.openai.com/docs/guides/function-calling, /docs/guides/pdf-files,
/docs/guides/reasoning, /docs/guides/prompt-caching. See ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import complete, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    "tools": yes("tools[].function (Responses: flat function tools); strict schemas"),
    "tool_choice": yes("tool_choice auto|none"),
    "tool_choice_required": yes("tool_choice 'required'"),
    "tool_choice_named": yes("tool_choice {type: function, function: {name}}"),
    "parallel_tool_calls": yes("parallel_tool_calls"),
    "tool_results": yes("assistant tool_calls + role 'tool' messages (Responses: "
                        "function_call / function_call_output items)"),
    "message_name": yes("message 'name'", note="chat endpoint only"),
    "images": yes("image_url parts in user messages"),
    "documents": yes("'file' parts with file_data (Responses: input_file, also by URL)",
                     note="chat: data or file_id, not url"),
    "document_file_id": yes("'file' parts with file_id"),
    "cache_breakpoints": yes("nothing sent", note="no-op: cached automatically"),
    "reasoning": yes("reasoning_effort (Responses: reasoning.effort + summary)",
                     note="effort levels; a token budget alone is refused"),
    "reasoning_off": yes("reasoning_effort 'none'"),
    "n": yes("n", note="chat endpoint only"),
    "logprobs": yes("logprobs + top_logprobs (Responses: include output_text.logprobs)"),
    "response_schema": yes("response_format json_schema (Responses: text.format)"),
    "json_mode": yes("response_format json_object"),
    "embed_texts": yes("input: [texts] (one data[] vector per text, in order)"),
    "moderation": yes("/v1/moderations lines, input text or [texts]"),
}, "openai")

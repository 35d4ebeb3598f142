"""What Mistral's batch lines can carry of the neutral features, spelt by :mod:`.features`
(see ``providers/_capabilities.py`` for how the table is used)."""

from __future__ import annotations

from .._capabilities import complete, no, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    "tools": yes("tools[].function {name, description, parameters, strict}"),
    "tool_choice": yes("tool_choice 'auto' / 'none'"),
    "tool_choice_required": yes("tool_choice 'required'"),
    "tool_choice_named": yes("tool_choice {type: function, function: {name}}"),
    "parallel_tool_calls": yes("parallel_tool_calls"),
    "tool_results": yes("assistant tool_calls and tool messages (tool_call_id, name)",
                        note="ids other than 9 letters/digits are mapped to 9 derived ones"),
    "message_name": no("put the speaker's name in the message text; Mistral messages have "
                       "no name"),
    "images": yes("image_url chunks in user and assistant messages"),
    "documents": yes("document_url chunks (a URL or a data: URL)", note="title as "
                     "document_name"),
    "document_file_id": yes("file chunks", note="a Files API id (a UUID)"),
    "cache_breakpoints": yes("automatic prefix caching", note="no-op: cached automatically"),
    "reasoning": yes("reasoning_effort", note="effort levels only, no token budget"),
    "reasoning_off": yes("reasoning_effort 'none'"),
    "n": yes("n"),
    "logprobs": no("Mistral's batch ChatCompletionRequest schema has no logprobs; run without "
                   "them"),
    "response_schema": yes("response_format json_schema"),
    "json_mode": yes("response_format json_object"),
    "embed_texts": yes("input: [texts] (one data[] vector per text, in order)"),
    "moderation": yes("/v1/moderations lines, input text or [texts]"),
}, "mistral")

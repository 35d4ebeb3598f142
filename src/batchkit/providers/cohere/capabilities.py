"""What Cohere's batch chat lines can carry of the neutral features, spelt by :mod:`.chat`
(see ``providers/_capabilities.py`` for how the table is used)."""

from __future__ import annotations

from .._capabilities import NO_MODERATION, ONE_TEXT_PER_LINE, complete, no, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    "tools": yes("tools[].function {name, description, parameters}",
                 note="strict on any tool sets strict_tools"),
    "tool_choice": yes("tool_choice NONE; auto is Cohere's default (left out)"),
    "tool_choice_required": yes("tool_choice REQUIRED"),
    "tool_choice_named": no("send only that tool with tool_choice='required'; Cohere cannot "
                           "name the tool to call"),
    "parallel_tool_calls": no("leave parallel_tool_calls unset; Cohere has no switch for it"),
    "tool_results": yes("assistant tool_calls and tool messages (tool_call_id)"),
    "message_name": no("put the speaker's name in the message text; Cohere messages have no "
                       "name"),
    "images": yes("image_url parts in user messages"),
    "documents": no("extract the PDF's text and send it as text; Cohere's documents field "
                    "takes text snippets, not files"),
    "document_file_id": no("extract the document's text and send it as text"),
    "cache_breakpoints": yes("automatic prompt caching (usage.cached_tokens)",
                             note="no-op: cached automatically"),
    "reasoning": yes("thinking {type: enabled, token_budget}",
                     note="effort -> budget: minimal 512, low 1024, medium 8192, high 24576"),
    "reasoning_off": yes("thinking {type: disabled}"),
    "n": no("send n requests; Cohere chat returns one reply"),
    "logprobs": yes("logprobs", note="chosen tokens only; top_logprobs refused"),
    "response_schema": yes("response_format {type: json_object, json_schema}"),
    "json_mode": yes("response_format {type: json_object}"),
    "embed_texts": no(ONE_TEXT_PER_LINE, note="an embed job's dataset has one text a row"),
    "moderation": no(NO_MODERATION),
}, "cohere")

"""What Anthropic's Message Batches requests can carry of the neutral features.

Every feature is decided here, each ``yes`` spelt by the codec (``messages``, ``features``,
``codec``); see ``providers/_capabilities.py``. Facts: the ``anthropic`` SDK's request types.
"""

from __future__ import annotations

from .._capabilities import NO_EMBEDDINGS, NO_MODERATION, complete, no, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    "tools": yes("tools[].input_schema", note="strict tools sent with strict: true"),
    "tool_choice": yes("tool_choice {type: auto | none}"),
    "tool_choice_required": yes("tool_choice {type: any}"),
    "tool_choice_named": yes("tool_choice {type: tool, name}"),
    "parallel_tool_calls": yes("tool_choice.disable_parallel_tool_use",
                               note="False only; parallel calls are the default"),
    "tool_results": yes("assistant tool_use blocks, user tool_result blocks",
                        note="consecutive tool messages share one user turn"),
    "message_name": no("Anthropic keeps no speaker name; put it in the message text "
                       "(e.g. 'Alice: ...')"),
    "images": yes("image blocks in user messages"),
    "documents": yes("document blocks (base64 PDF, URL, plain text)"),
    "document_file_id": yes("document source {type: file, file_id}",
                            note="a Files API id"),
    "cache_breakpoints": yes("cache_control {type: ephemeral} on the marked block"),
    "reasoning": yes("thinking {type: enabled, budget_tokens}",
                     note="effort minimal/low/medium/high = 1024/2048/8192/24576 tokens"),
    "reasoning_off": yes("thinking {type: disabled}"),
    "n": no("Anthropic answers once per request; send N requests (e.g. N custom_ids)"),
    "logprobs": no("Anthropic returns no log probabilities; use an OpenAI-family provider"),
    "response_schema": yes("output_config.format {type: json_schema}"),
    "json_mode": no("Anthropic has no schema-less JSON mode; give a response_schema "
                    "or a response_model"),
    "embed_texts": no(NO_EMBEDDINGS.format(vendor="Anthropic")),
    "moderation": no(NO_MODERATION),
}, "anthropic")

"""What Bedrock model-invocation records can carry of the neutral features.

The table is Bedrock's as a vendor; the codec refuses, per model family, what only Claude's body
spells so far (Nova takes images and response models, not yet tools, documents, thinking or
cache breakpoints: ``codec._CLAUDE_ONLY``). See ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import complete, no, yes

__all__ = ["CAPABILITIES"]

_CLAUDE = "Claude models only"

CAPABILITIES = complete({
    "tools": yes("tools[].input_schema (Claude body)",
                 note=f"{_CLAUDE}; 'strict' is not sent"),
    "tool_choice": yes("tool_choice {type: auto | none}", note=_CLAUDE),
    "tool_choice_required": yes("tool_choice {type: any}", note=_CLAUDE),
    "tool_choice_named": yes("tool_choice {type: tool, name}", note=_CLAUDE),
    "parallel_tool_calls": yes("tool_choice.disable_parallel_tool_use",
                               note=f"{_CLAUDE}; False only"),
    "tool_results": yes("assistant tool_use blocks, user tool_result blocks", note=_CLAUDE),
    "message_name": no("Bedrock's model bodies keep no speaker name; put it in the message text"),
    "images": yes("image blocks (base64) in user messages, Claude and Nova"),
    "documents": yes("document blocks, base64 PDF or plain text", note=_CLAUDE),
    "document_file_id": no("Bedrock has no files API for model input; pass the document's "
                           "base64 data"),
    "cache_breakpoints": yes("cache_control {type: ephemeral} on the marked block",
                             note=_CLAUDE),
    "reasoning": yes("thinking {type: enabled, budget_tokens}",
                     note=f"{_CLAUDE}; effort minimal/low/medium/high = 1024/2048/8192/24576"),
    "reasoning_off": yes("thinking {type: disabled}", note=_CLAUDE),
    "n": no("Bedrock batch records answer once; send N records (e.g. N custom_ids)"),
    "logprobs": no("Bedrock's Claude and Nova bodies return no log probabilities"),
    "response_schema": yes("a forced 'respond' tool whose input_schema is the schema",
                           note=_CLAUDE),
    "json_mode": no("no schema-less JSON mode on Bedrock; give a response_schema or a "
                    "response_model"),
}, "bedrock")

"""What Bedrock model-invocation records can carry of the neutral features.

The table is Bedrock's as a vendor: what its best family (Claude) can say. Each model family
(``families/``) carries its own table, checked after this one by ``codec.check_request``:
Claude's is this table, Nova's refuses thinking and ``parallel_tool_calls`` (and its codec a
``tool_choice`` of ``none``), and the families whose body is one prompt string (Titan Text,
Llama, Mistral, DeepSeek) or a text to embed refuse every feature. See
``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import NO_MODERATION, complete, no, yes

__all__ = ["CAPABILITIES"]

CAPABILITIES = complete({
    "tools": yes("tools[].input_schema (Claude), toolConfig.tools[].toolSpec (Nova)",
                 note="'strict' is not sent"),
    "tool_choice": yes("tool_choice {type: auto | none} (Claude), toolChoice {auto} (Nova)",
                       note="Nova has no 'none'"),
    "tool_choice_required": yes("tool_choice {type: any}, toolChoice {any}"),
    "tool_choice_named": yes("tool_choice {type: tool, name}, toolChoice {tool: {name}}"),
    "parallel_tool_calls": yes("tool_choice.disable_parallel_tool_use",
                               note="Claude only; False only"),
    "tool_results": yes("tool_use/tool_result blocks (Claude), toolUse/toolResult (Nova)"),
    "message_name": no("Bedrock's model bodies keep no speaker name; put it in the message text"),
    "images": yes("image blocks (base64) in user messages, Claude and Nova"),
    "documents": yes("document blocks from base64 data",
                     note="Claude: PDF or text; Nova: pdf, txt, csv, html, md, doc(x), xls(x)"),
    "document_file_id": no("Bedrock has no files API for model input; pass the document's "
                           "base64 data"),
    "cache_breakpoints": yes("cache_control {type: ephemeral} (Claude), cachePoint (Nova)"),
    "reasoning": yes("thinking {type: enabled, budget_tokens}",
                     note="Claude only; effort minimal/low/medium/high = 1024/2048/8192/24576"),
    "reasoning_off": yes("thinking {type: disabled}", note="Claude only"),
    "n": no("Bedrock batch records answer once; send N records (e.g. N custom_ids)"),
    "logprobs": no("Bedrock's Claude and Nova bodies return no log probabilities"),
    "response_schema": yes("a forced 'respond' tool whose input schema is the schema"),
    "json_mode": no("no schema-less JSON mode on Bedrock; give a response_schema or a "
                    "response_model"),
    "embed_texts": yes("Cohere Embed bodies: texts [..]", note="Cohere Embed models only; "
                       "Titan embeds one inputText"),
    "moderation": no(NO_MODERATION),
}, "bedrock")

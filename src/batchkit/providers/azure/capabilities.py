"""What Azure OpenAI Global Batch chat lines can carry of the neutral features.

Azure runs OpenAI's chat completions on its own deployments, so the family codec spells the same
fields, and with ``options={"api": "responses"}`` the Responses lines OpenAI's codec writes
(https://learn.microsoft.com/azure/ai-foundry/openai/how-to/batch,
/how-to/function-calling, /how-to/reasoning, /how-to/prompt-caching). Documents are refused:
Azure documents PDF input for its Responses API, not for batch chat lines.
See ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import NO_EMBEDDINGS, NO_MODERATION, complete, no, yes

__all__ = ["CAPABILITIES"]

_NO_PDF = ("send the document's text as a text part (Azure batch chat takes no file parts), "
           "or use provider 'openai' with endpoint=responses")

CAPABILITIES = complete({
    "tools": yes("tools[].function (api=responses: flat function tools); strict schemas"),
    "tool_choice": yes("tool_choice auto|none"),
    "tool_choice_required": yes("tool_choice 'required'"),
    "tool_choice_named": yes("tool_choice {type: function, function: {name}}"),
    "parallel_tool_calls": yes("parallel_tool_calls"),
    "tool_results": yes("assistant tool_calls + role 'tool' messages (api=responses: "
                        "function_call / function_call_output items)"),
    "message_name": yes("message 'name'", note="chat API only"),
    "images": yes("image_url parts in user messages"),
    "documents": no(_NO_PDF),
    "document_file_id": no(_NO_PDF),
    "cache_breakpoints": yes("nothing sent", note="no-op: cached automatically"),
    "reasoning": yes("reasoning_effort", note="effort levels; a token budget alone is refused"),
    "reasoning_off": yes("reasoning_effort 'none'"),
    "n": yes("n", note="chat API only"),
    "logprobs": yes("logprobs + top_logprobs"),
    "response_schema": yes("response_format json_schema"),
    "json_mode": yes("response_format json_object"),
    "embed_texts": no(NO_EMBEDDINGS.format(vendor="Azure OpenAI")),
    "moderation": no(NO_MODERATION),
}, "azure")

"""What Together's batch chat lines can carry of the neutral features.

Together's batch lines are its chat completions bodies (https://docs.together.ai/docs/batch-inference);
the ``together`` SDK's ``CompletionCreateParamsBase`` lists the fields: tools and
``tool_choice`` (https://docs.together.ai/docs/function-calling), ``n``, ``reasoning_effort``
``low|medium|high`` and ``reasoning.enabled`` to turn a hybrid model's thinking off
(https://docs.together.ai/docs/reasoning-models). It has no ``parallel_tool_calls`` and takes
``logprobs`` as a count in its own answer shape, so both are refused; its models read no PDFs
and it has no prompt-cache control. See ``providers/_capabilities.py``.
"""

from __future__ import annotations

from .._capabilities import NO_EMBEDDINGS, NO_MODERATION, complete, no, yes

__all__ = ["CAPABILITIES"]

_NO_PDF = "send the document's text as a text part (Together's models read no PDF files)"

CAPABILITIES = complete({
    "tools": yes("tools[].function", note="schemas best-effort, no strict mode"),
    "tool_choice": yes("tool_choice auto|none"),
    "tool_choice_required": yes("tool_choice 'required'"),
    "tool_choice_named": yes("tool_choice {type: function, function: {name}}"),
    "parallel_tool_calls": no("leave parallel_tool_calls unset: Together's request has no such "
                              "field"),
    "tool_results": yes("assistant tool_calls + role 'tool' messages"),
    "message_name": yes("message 'name'"),
    "images": yes("image_url parts in user messages"),
    "documents": no(_NO_PDF),
    "document_file_id": no(_NO_PDF),
    "cache_breakpoints": no("remove cache=True: Together has no prompt-cache control"),
    "reasoning": yes("reasoning_effort low|medium|high", note="no 'minimal'; no token budget"),
    "reasoning_off": yes("reasoning {enabled: false}"),
    "n": yes("n"),
    "logprobs": no("pass Together's own form, params={'together': {'logprobs': k}}, and read "
                   "the result's raw line"),
    "response_schema": yes("response_format json_schema", note="best-effort, no strict mode"),
    "json_mode": yes("response_format json_object"),
    "embed_texts": no(NO_EMBEDDINGS.format(vendor="Together")),
    "moderation": no(NO_MODERATION),
}, "together")

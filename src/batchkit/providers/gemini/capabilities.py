"""What Gemini API batch requests can carry of the neutral features.

Spelt by :mod:`.features` and :mod:`.codec` (shared with Vertex AI, whose table differs only in
where documents by id live); see ``providers/_capabilities.py`` for how the table is used.
"""

from __future__ import annotations

from .._capabilities import NO_MODERATION, ONE_TEXT_PER_LINE, Support, complete, no, yes

__all__ = ["CAPABILITIES", "google_table"]


def google_table(vendor: str, file_uri: str, call_ids: str) -> dict[str, Support]:
    """The table both Google batch services share; ``file_uri`` says what a document's
    ``file_id`` must be on ``vendor``, ``call_ids`` how replayed calls keep their ids."""
    return {
        "tools": yes("tools[].functionDeclarations[] with parametersJsonSchema",
                     note="strict is implicit: Gemini follows the declared schema"),
        "tool_choice": yes("toolConfig.functionCallingConfig.mode AUTO / NONE"),
        "tool_choice_required": yes("functionCallingConfig.mode ANY"),
        "tool_choice_named": yes("mode ANY with allowedFunctionNames [name]"),
        "parallel_tool_calls": no(f"leave parallel_tool_calls unset: {vendor} decides itself "
                                  "whether to return several functionCall parts"),
        "tool_results": yes("functionCall parts in model turns, functionResponse parts in "
                            "user turns", note=call_ids),
        "message_name": no("put the speaker's name in the message text; Gemini contents "
                           "have only a role"),
        "images": yes("inlineData / fileData parts"),
        "documents": yes("inlineData / fileData parts with the document's MIME type",
                         note="title dropped"),
        "document_file_id": yes(f"fileData.fileUri: {file_uri}"),
        "cache_breakpoints": yes("implicit caching", note="no-op: cached automatically"),
        "reasoning": yes("generationConfig.thinkingConfig thinkingBudget + includeThoughts",
                         note="effort -> budget: minimal 512, low 1024, medium 8192, "
                              "high 24576"),
        "reasoning_off": yes("thinkingConfig.thinkingBudget 0",
                             note="Pro models cannot turn thinking off"),
        "n": yes("generationConfig.candidateCount"),
        "logprobs": yes("generationConfig.responseLogprobs + logprobs"),
        "response_schema": yes("responseMimeType application/json + responseJsonSchema"),
        "json_mode": yes("responseMimeType application/json"),
        "embed_texts": no(ONE_TEXT_PER_LINE, note=f"a {vendor} embedding line holds one "
                          "content"),
        "moderation": no(NO_MODERATION),
    }


CAPABILITIES = complete(google_table(
    "gemini", "a Files API URI", "ids sent; a reply's call without one gets call_<n>"),
    "gemini")

"""Bedrock model families as pluggable codecs, one module each, chosen from the model id.

A family (:class:`Family`) turns a neutral request into the model's InvokeModel body, a body
back into a neutral request, and the model's reply into a Result. :func:`family_of` picks one
from a model id, a cross-region inference profile id (``us.``, ``eu.``, ``apac.``, ``global.``
...) or a foundation-model / inference-profile ARN; :func:`family_answering` picks one from the
shape of a reply when the model is not known (``bk.decode`` of a downloaded file). Adding a
family is a module here and a line in ``_PREFIXES``.
"""

from __future__ import annotations

import re
from typing import Any

from ._base import BodyError, Family
from .anthropic import ANTHROPIC_VERSION, CLAUDE
from .cohere_embed import COHERE_EMBED_V3, COHERE_EMBED_V4
from .deepseek import DEEPSEEK
from .llama import LLAMA
from .mistral import MISTRAL
from .mistral_chat import MISTRAL_CHAT
from .nova import NOVA
from .titan_embed import TITAN_EMBED_V1, TITAN_EMBED_V2
from .titan_text import TITAN_TEXT

__all__ = [
    "ANTHROPIC_VERSION", "CLAUDE", "COHERE_EMBED_V3", "COHERE_EMBED_V4", "DEEPSEEK", "FAMILIES",
    "LLAMA", "MISTRAL", "MISTRAL_CHAT", "NOVA", "TITAN_EMBED_V1", "TITAN_EMBED_V2", "TITAN_TEXT",
    "BodyError", "Family", "base_model", "family_answering", "family_of", "known_prefixes",
]

FAMILIES: dict[str, Family] = {f.name: f for f in (
    CLAUDE, NOVA, TITAN_TEXT, TITAN_EMBED_V2, TITAN_EMBED_V1, COHERE_EMBED_V3, COHERE_EMBED_V4,
    LLAMA, MISTRAL, MISTRAL_CHAT, DEEPSEEK)}

_ARN_MODEL = re.compile(
    r"^arn:aws[^:]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)/")
_GEO_PREFIX = re.compile(r"^(?:us|us-gov|eu|apac|jp|au|ca|global)\.")
_PREFIXES: tuple[tuple[re.Pattern[str], Family], ...] = tuple(
    (re.compile(pattern), family) for pattern, family in (
        (r"^anthropic\.claude", CLAUDE),
        (r"^amazon\.nova-(?:2-)?(?:micro|lite|pro|premier)", NOVA),
        (r"^amazon\.titan-(?:text-(?:lite|express|premier)|tg1-)", TITAN_TEXT),
        (r"^amazon\.titan-embed-text-v2", TITAN_EMBED_V2),
        (r"^amazon\.(?:titan-embed-text-v1|titan-embed-g1-text)", TITAN_EMBED_V1),
        (r"^cohere\.embed-(?:english|multilingual)-v3", COHERE_EMBED_V3),
        (r"^cohere\.embed-v4", COHERE_EMBED_V4),
        (r"^meta\.llama", LLAMA),
        (r"^mistral\.(?:mistral-large-24(?:07|11)|pixtral)", MISTRAL_CHAT),
        (r"^mistral\.", MISTRAL),
        (r"^deepseek\.r1", DEEPSEEK),
    ))
"""Nova's canvas, reel, sonic and multimodal embeddings, Titan Image and the others not named
here have no family: their bodies are not chat or text embeddings."""


def base_model(model: str) -> str:
    """The foundation-model id inside a profile id or ARN: ``us.meta.llama3-...`` ->
    ``meta.llama3-...``."""
    return _GEO_PREFIX.sub("", _ARN_MODEL.sub("", model))


def family_of(model: str, override: str | None = None) -> Family | None:
    """The family of a model id, cross-region profile id or foundation-model ARN (None: unknown).

    Application inference profiles and custom models have opaque ARNs: ``override`` (the
    ``model_family`` option) names the family for those.
    """
    if override:
        return FAMILIES.get(override)
    base = base_model(model)
    return next((family for pattern, family in _PREFIXES if pattern.match(base)), None)


def known_prefixes() -> str:
    """The model ids batchkit has a family for, in words for an error message."""
    return ("anthropic.claude-*, amazon.nova-*, amazon.titan-text-*, amazon.titan-embed-text-*, "
            "cohere.embed-*, meta.llama*, mistral.*, deepseek.r1*")


_BY_SHAPE = (CLAUDE, NOVA, TITAN_TEXT, TITAN_EMBED_V2, COHERE_EMBED_V3, LLAMA, MISTRAL_CHAT,
             DEEPSEEK)
"""Reply shapes in the order they are told apart (one family per distinct shape; Mistral's
chat reader reads its text-completion replies too)."""


def family_answering(output: dict[str, Any]) -> Family | None:
    """The family whose reply has ``output``'s shape, for a file read without its model."""
    return next((family for family in _BY_SHAPE if family.answers(output)), None)

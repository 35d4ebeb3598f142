"""Deterministic moderation verdicts for the emulators of vendors whose batch API moderates.

A real moderation model scores each input text per category; the emulators need verdicts a
test can predict without a model: every category scores a small value derived from the text,
and a category whose trigger word is in the text scores high and is flagged. Each vendor
names its own categories (OpenAI ``violence``, Mistral ``violence_and_threats``) and wraps
the verdicts in its own response body.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from .._text import digest

__all__ = ["FLAGGED_SCORE", "TRIGGER_WORDS", "verdicts"]

TRIGGER_WORDS: Mapping[str, str] = {"kill": "violence", "hate": "hate", "suicide": "self-harm"}
"""A word in the text -> the neutral category it flags; each vendor maps the category to its
own names."""
FLAGGED_SCORE = 0.97
"""The score of a triggered category; every other category scores below 0.05."""


def verdicts(model: str, raw_input: Any, names: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """One ``{categories, category_scores}`` per input text (a string or a list of them);
    ``names`` maps the vendor's every category to the neutral categories that flag it."""
    texts = raw_input if isinstance(raw_input, list) else [raw_input]
    out = []
    for text in texts:
        words = set(str(text).lower().split())
        hit = {neutral for word, neutral in TRIGGER_WORDS.items() if word in words}
        rng = random.Random(digest("moderation", model, str(text)))
        scores = {name: FLAGGED_SCORE if hit & set(flags) else round(rng.random() * 0.05, 6)
                  for name, flags in names.items()}
        out.append({"categories": {name: score >= 0.5 for name, score in scores.items()},
                    "category_scores": scores})
    return out

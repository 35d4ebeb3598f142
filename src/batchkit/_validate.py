"""Checks of a job against what its vendor and model can take, made while planning.

Why here and not in each adapter: these rules are facts about models (the price catalog
holds them, one row per ``provider:model``) and about text, the same for every vendor, so the
planner applies them to every request before a single byte is written. A vendor would
otherwise refuse the line after a paid upload, or, worse, accept it and fail it.

* The model must be one the catalog knows (or a dated snapshot of one), with a "did you
  mean" for a typo; ``options={"allow_unknown_model": True}`` (``-s allow_unknown_model=true``)
  lets a model newer than the catalog through, and a provider whose models are the user's own
  names (``BatchRule.user_named_models``, deployments) is never judged.
* The request's kind must be what the model serves: a CSV of texts sent to a chat model
  would otherwise go out as embedding lines naming a chat model.
* ``max_tokens`` may not exceed the model's ``max_output_tokens`` (or, where that is not
  known, its context window ``max_input_tokens``).
* The text of a request may not be larger than the model's context window could hold:
  ``MAX_BYTES_PER_TOKEN`` UTF-8 bytes per token of ``max_input_tokens``, a bound no natural
  text comes near (English averages about 4), so only input that cannot fit is refused.
* Text must be valid Unicode: a lone surrogate (half of a UTF-16 pair, left by a bad decode)
  cannot be written as UTF-8, so no vendor can receive it (``lone_surrogate``).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidRequestError

if TYPE_CHECKING:
    from ._requests import Request
    from .providers.base import Adapter

__all__ = ["A_KIND", "MAX_BYTES_PER_TOKEN", "SERVES", "ModelRules", "lone_surrogate",
           "model_rules"]

SERVES = {"chat": "chat", "embedding": "embed", "moderation": "moderation"}
"""A price catalog row's ``kind`` -> the request ``kind`` its model serves (an embedding or
moderation model has no output price)."""
A_KIND = {"chat": "a chat", "embed": "an embedding", "moderation": "a moderation"}
"""A request ``kind`` as an error names it."""

MAX_BYTES_PER_TOKEN = 8
_SURROGATE = re.compile("[\ud800-\udfff]")
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest|preview(-[\w-]+)?)$")
"""A dated or moving alias of a catalog model: ``gpt-4o-mini-2024-07-18``, ``-latest``."""


def lone_surrogate(text: str) -> str | None:
    """Why ``text`` cannot be sent as UTF-8 (a lone surrogate and where), or None."""
    if text.isascii():
        return None
    found = _SURROGATE.search(text)
    if found is None:
        return None
    return (f"contains a lone surrogate (U+{ord(found.group()):04X} at character "
            f"{found.start()}), which is not valid Unicode text; no vendor can receive it")


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class ModelRules:
    """What one catalog row says a request to the model may hold."""

    model: str
    max_output_tokens: int | None
    max_input_tokens: int | None
    kind: str = "chat"
    """What the model serves (the catalog's ``kind``): ``chat`` or ``embedding``."""

    def check(self, request: Request) -> None:
        """Refuse a request the model cannot serve (an embedding sent to a chat model, or the
        other way) and a ``max_tokens`` over its limit; one line, naming the request."""
        serves = SERVES.get(self.kind, "chat")
        if request.kind != serves:
            have, want = A_KIND[serves], A_KIND[request.kind]
            raise InvalidRequestError(
                f"{self.model} is {have} model and cannot serve {want} request; choose "
                f"{want} model (`batchkit prices` lists them)", custom_id=request.custom_id)
        # Read from the fields (an EmbedRequest has none): getattr's miss would go through
        # pydantic's __getattr__ and an exception, once per request of an embedding job.
        max_tokens = request.__dict__.get("max_tokens")
        # A reply never outgrows the context window either, where no output limit is known.
        cap = self.max_output_tokens or self.max_input_tokens
        if cap is not None and max_tokens is not None and max_tokens > cap:
            what = "output tokens" if self.max_output_tokens else "tokens (its context window)"
            raise InvalidRequestError(
                f"max_tokens={max_tokens:,} is over {self.model}'s limit of {cap:,} {what}",
                custom_id=request.custom_id,
            )

    def check_size(self, request: Request, line_bytes: int) -> None:
        """Refuse text the context window cannot hold. ``line_bytes`` is the size of the
        encoded line, never smaller than the text in it, so the text itself is only measured
        for the rare line over the bound (a planner handles millions of requests)."""
        if self.max_input_tokens is None:
            return
        limit = self.max_input_tokens * MAX_BYTES_PER_TOKEN
        if line_bytes <= limit:
            return
        size = sum(len(t.encode("utf-8")) for t in _texts(request))
        if size > limit:
            raise InvalidRequestError(
                f"its text is {size:,} bytes, more than {self.model}'s context window of "
                f"{self.max_input_tokens:,} tokens can hold (at most {limit:,} bytes)",
                custom_id=request.custom_id,
            )


def _texts(request: Request) -> list[str]:
    text = getattr(request, "text", None)
    if isinstance(text, str):
        return [text]
    return [m.text for m in getattr(request, "messages", ())]


def model_rules(adapter: Adapter) -> ModelRules | None:
    """The rules for the adapter's model, or None where the catalog cannot judge it.

    Raises :class:`InvalidRequestError` for a model the catalog does not know, naming the
    closest known ones and the option that lets a brand-new model through.
    """
    from .cost import load_catalog

    catalog = load_catalog()
    name, model = adapter.name, adapter.model
    if name not in catalog.rules:
        return None  # a provider the catalog does not cover (a plug-in, the fake vendor)
    row = catalog.rows.get(f"{name}:{model}") or catalog.rows.get(
        f"{name}:{_SNAPSHOT.sub('', model)}")
    if row is not None:  # a deployment named after its model is judged as that model
        return ModelRules(f"{name}:{model}", row.max_output_tokens, row.max_input_tokens,
                          row.kind)
    if catalog.rule(name).user_named_models or _truthy(adapter.options.get("allow_unknown_model")):
        return None
    known = [r.model for r in catalog.for_provider(name)]
    near = difflib.get_close_matches(model, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    raise InvalidRequestError(
        f"unknown model {model!r} for provider {name!r}{hint} (a model newer than batchkit's "
        "catalog: options={'allow_unknown_model': True} or -s allow_unknown_model=true; "
        "`batchkit prices` lists the known ones)"
    )

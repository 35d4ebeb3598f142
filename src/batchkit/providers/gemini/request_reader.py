"""A ``GenerateContentRequest`` (REST JSON, as in Gemini API and Vertex AI batch input files)
read as neutral chat fields: the inverse of :func:`.codec.encode_generate_content_request`,
shared by the ``gemini`` and ``vertex`` readers. Shapes:
https://ai.google.dev/api/generate-content#request-body and
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent.

``systemInstruction`` parts are system messages, ``model`` turns are assistant turns, text /
``inlineData`` / ``fileData`` parts are text, image and document parts, ``functionCall`` parts
are tool calls (ids made up as ``call_<n>`` where the row has none, as on Vertex AI, whose
``functionResponse`` parts answer calls by name and order). The proto's snake_case spellings
(``generation_config``) are read too and written back in camelCase. ``propertyOrdering`` equal
to a schema's own property order is left out, since the encoder adds it back.
"""

from __future__ import annotations

from typing import Any

import orjson

from .._reader_kit import fail

__all__ = ["camel_keys", "generate_content_fields", "without_default_ordering"]

_CONFIG_FIELDS = {"maxOutputTokens": "max_tokens", "temperature": "temperature",
                  "topP": "top_p", "stopSequences": "stop", "seed": "seed",
                  "candidateCount": "n", "responseLogprobs": "logprobs",
                  "logprobs": "top_logprobs"}
_MODES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}


def camel_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """The top-level keys of a proto-JSON object in camelCase (``generation_config`` and
    ``generationConfig`` are the same field)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        head, *rest = key.split("_")
        out[head + "".join(w[:1].upper() + w[1:] for w in rest)] = value
    return out


def without_default_ordering(schema: Any) -> Any:
    """``schema`` without the ``propertyOrdering`` keys that only repeat property order."""
    if isinstance(schema, list):
        return [without_default_ordering(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    props = schema.get("properties")
    return {k: without_default_ordering(v) for k, v in schema.items()
            if not (k == "propertyOrdering" and isinstance(props, dict)
                    and v == list(props))}


def generate_content_fields(request: dict[str, Any], line_no: int,
                            cid: str | None) -> dict[str, Any]:
    """The neutral chat fields of ``request`` plus ``params``: what has no neutral name."""
    body = camel_keys(request)
    body.pop("model", None)
    messages = _system(body.pop("systemInstruction", None), line_no, cid)
    raw = body.pop("contents", None)
    if not isinstance(raw, list) or not raw:
        fail("'request.contents' must be a non-empty list of turns", line_no, cid)
    messages += _Turns(line_no, cid).read(raw)
    data: dict[str, Any] = {"messages": messages}
    data.update(_tools(body))
    data.update(_generation_config(body))
    data["params"] = body
    return data


def _system(system: Any, line_no: int, cid: str | None) -> list[dict[str, Any]]:
    if system is None:
        return []
    parts = system.get("parts") if isinstance(system, dict) else None
    if not isinstance(parts, list) or set(system) - {"parts", "role"} or not all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in parts):
        fail("'systemInstruction' must hold text parts", line_no, cid)
    return [{"role": "system", "content": p["text"]} for p in parts]


def _tools(body: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    tools = body.get("tools")
    if isinstance(tools, list) and len(tools) == 1 and isinstance(tools[0], dict) and set(
            tools[0]) == {"functionDeclarations"}:
        declarations = tools[0]["functionDeclarations"]
        if isinstance(declarations, list) and all(
                isinstance(d, dict) and set(d) <= {"name", "description", "parametersJsonSchema"}
                for d in declarations):
            del body["tools"]
            data["tools"] = [{"name": d.get("name"), "description": d.get("description"),
                              "parameters": without_default_ordering(
                                  d.get("parametersJsonSchema") or {})} for d in declarations]
    config = body.get("toolConfig")
    calling = config.get("functionCallingConfig") if isinstance(config, dict) and set(
        config) == {"functionCallingConfig"} else None
    if isinstance(calling, dict):
        mode, names = calling.get("mode"), calling.get("allowedFunctionNames")
        if set(calling) == {"mode"} and mode in _MODES:
            data["tool_choice"] = _MODES[mode]
        elif mode == "ANY" and isinstance(names, list) and len(names) == 1:
            data["tool_choice"] = names[0]
        if "tool_choice" in data:
            del body["toolConfig"]
    return data


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config = body.pop("generationConfig", None)
    if not isinstance(config, dict):
        if config is not None:
            body["generationConfig"] = config
        return {}
    config = camel_keys(config)
    data = {neutral: config.pop(field) for field, neutral in _CONFIG_FIELDS.items()
            if field in config}
    if config.get("responseMimeType") == "application/json" and "responseSchema" not in config:
        config.pop("responseMimeType")
        if "responseJsonSchema" in config:
            data["response_schema"] = without_default_ordering(config.pop("responseJsonSchema"))
        else:
            data["json_mode"] = True
    thinking = config.get("thinkingConfig")
    if thinking == {"thinkingBudget": 0}:
        data["reasoning"] = {"effort": "off"}
    elif isinstance(thinking, dict) and thinking.get("includeThoughts") is True and set(
            thinking) == {"includeThoughts", "thinkingBudget"}:
        data["reasoning"] = {"budget_tokens": thinking["thinkingBudget"]}
    if "reasoning" in data:
        del config["thinkingConfig"]
    if config:
        body["generationConfig"] = config
    return data


class _Turns:
    """The ``contents`` of one row as neutral messages, pairing each function response with the
    call it answers (by id, else by name in call order)."""

    def __init__(self, line_no: int, cid: str | None) -> None:
        self.line_no, self.cid = line_no, cid
        self.unanswered: list[tuple[str, str]] = []  # (name, id) of calls not yet answered
        self.made_ids = 0

    def read(self, turns: list[Any]) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for i, turn in enumerate(turns):
            parts = turn.get("parts") if isinstance(turn, dict) else None
            if not isinstance(parts, list) or not parts:
                fail(f"contents.{i} must have a non-empty list of parts", self.line_no, self.cid)
            role = "assistant" if turn.get("role") == "model" else "user"
            messages += self._turn(role, parts, i)
        return messages

    def _turn(self, role: str, parts: list[Any], i: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        content: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for part in parts:
            if not isinstance(part, dict):
                fail(f"contents.{i}: a part must be an object", self.line_no, self.cid)
            if isinstance(part.get("functionCall"), dict):
                calls.append(self._call(camel_keys(part["functionCall"])))
            elif isinstance(part.get("functionResponse"), dict):
                out.append(self._response(camel_keys(part["functionResponse"]), i))
            else:
                content.append(self._part(camel_keys(part), i))
        if content or calls:
            text_only = len(content) == 1 and content[0]["type"] == "text"
            message: dict[str, Any] = {"role": role, "content": content[0]["text"]
                                       if text_only else (content or None)}
            if calls:
                message["tool_calls"] = calls
            out.append(message)
        return out

    def _call(self, call: dict[str, Any]) -> dict[str, Any]:
        name = call.get("name")
        ident = call.get("id")
        if not isinstance(ident, str):
            self.made_ids += 1
            ident = f"call_{self.made_ids}"
        self.unanswered.append((str(name), ident))
        return {"id": ident, "name": name, "arguments": call.get("args") or {}}

    def _response(self, response: dict[str, Any], i: int) -> dict[str, Any]:
        name, ident = response.get("name"), response.get("id")
        match = next((pair for pair in self.unanswered
                      if (pair[1] == ident if isinstance(ident, str) else pair[0] == name)), None)
        if match is None:
            fail(f"contents.{i}: functionResponse {name!r} answers no earlier functionCall",
                 self.line_no, self.cid)
        self.unanswered.remove(match)
        return {"role": "tool", "tool_call_id": match[1],
                "content": orjson.dumps(response.get("response") or {}).decode()}

    def _part(self, part: dict[str, Any], i: int) -> dict[str, Any]:
        if isinstance(part.get("text"), str) and set(part) == {"text"}:
            return {"type": "text", "text": part["text"]}
        inline, linked = part.get("inlineData"), part.get("fileData")
        if isinstance(inline, dict):
            inline = camel_keys(inline)
            mime = inline.get("mimeType")
            kind = "image" if str(mime).startswith("image/") else "document"
            return {"type": kind, "data": inline.get("data"), "media_type": mime}
        if isinstance(linked, dict):
            linked = camel_keys(linked)
            mime = linked.get("mimeType")
            kind = "image" if str(mime).startswith("image/") else "document"
            found = {"type": kind, "url": linked.get("fileUri")}
            return found | ({"media_type": mime} if mime else {})
        fail(f"contents.{i}: part {sorted(part)} is not read (text, inlineData, fileData, "
             "functionCall and functionResponse are)", self.line_no, self.cid)

"""The hand-written vendor sample files (see samples/README.md) and what each one says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"

CHAT_SAMPLES = {
    # sample file stem: (format detected, provider that writes this format back)
    "openai_chat": ("openai", "openai:gpt-4o-mini"),
    "azure_chat": ("openai", "azure:gpt-4o-mini-batch"),
    "groq_chat": ("openai", "groq:llama-3.3-70b-versatile"),
    "together_chat": ("mistral", "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"),
    "mistral_chat": ("mistral", "mistral:mistral-small-latest"),
    "anthropic_chat": ("anthropic", "anthropic:claude-haiku-4-5"),
    "gemini_chat": ("gemini", "gemini:gemini-2.5-flash"),
    "vertex_chat": ("vertex", "vertex:gemini-2.5-flash"),
    "bedrock_chat": ("bedrock", "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0"),
}
CHAT_IDS = {"vertex_chat": ["row-1", "row-2", "row-3"],  # Vertex lines carry no id
            "bedrock_chat": ["CALL0000001", "CALL0000002", "CALL0000003"]}
"""The ids of the three chat requests where a sample does not use plain-1, struct-1, tool-1."""
OTHER_SAMPLES = {
    "openai_responses": ("openai", "openai:gpt-4.1-mini"),
    "openai_embeddings": ("openai", "openai:text-embedding-3-small"),
    "mistral_embeddings": ("mistral", "mistral:mistral-embed"),
    "openai_embeddings_texts": ("openai", "openai:text-embedding-3-small"),
    "mistral_embeddings_texts": ("mistral", "mistral:mistral-embed"),
    "openai_moderations": ("openai", "openai:omni-moderation-latest"),
    "mistral_moderations": ("mistral", "mistral:mistral-moderation-latest"),
    "gemini_embeddings": ("gemini", "gemini:gemini-embedding-001"),
    "vertex_embeddings": ("vertex", "vertex:text-embedding-005"),
    "cohere_embeddings": ("cohere", "cohere:embed-english-v3.0"),
    "cohere_chat": ("mistral", "cohere:command-a-03-2025"),
}
ALL_SAMPLES = {**CHAT_SAMPLES, **OTHER_SAMPLES}
READ_AS = {"mistral_moderations": "mistral:mistral-moderation-latest", "cohere_chat": "cohere"}
"""The format to read a sample in where its lines do not tell: Mistral's moderation lines are
spelt as its embedding lines are, and only the model named for the file tells them apart;
Cohere's chat lines are spelt as Mistral's (so detection says mistral), and only naming the
format reads Cohere's own fields (``p``, ``stop_sequences``, ``thinking``, ...)."""

SYSTEM = "You are a concise assistant."
PLAIN = "Name three primary colours."
STRUCTURED = "Extract the city and country from: 'I flew to Lyon, France.'"
ASK = "What is the weather in Paris?"
PLACE_PROPERTIES = {"city": {"type": "string"}, "country": {"type": "string"}}
WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}},
                      "required": ["city"]}


def sample(stem: str) -> Path:
    return SAMPLES / f"{stem}.jsonl"


def without_batchkit_ids(line: dict[str, Any]) -> dict[str, Any]:
    """A line without the row id batchkit adds to formats that have none of their own
    (Vertex's ``labels.batchkit_id`` and instance ``batchkit_id``, Cohere's ``batchkit_id``):
    the one documented difference of a round trip."""
    line = {k: v for k, v in line.items() if k != "batchkit_id"}
    request = line.get("request")
    if isinstance(request, dict) and isinstance(request.get("labels"), dict):
        labels = {k: v for k, v in request["labels"].items() if k != "batchkit_id"}
        request = {k: v for k, v in request.items() if k != "labels"}
        line["request"] = {**request, "labels": labels} if labels else request
    return line

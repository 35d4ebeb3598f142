"""providers.md checked against the code, so the doc cannot drift from the adapters.

The status tables are read from the doc and every row is run through the adapter's real status
mapping; every status an adapter maps must have a row. The matrix's request and byte limits are
compared with ``Adapter.limits``, and each section must name the adapter's credential variables
and keep the same parts in the same order. Adding a status, a provider or a limit to the code
without the doc fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from batchkit._exceptions import ProviderError
from batchkit._registry import _BUILTIN, get_adapter_class, make_adapter
from batchkit._state import JobState
from batchkit.providers.anthropic import adapter as anthropic
from batchkit.providers.anthropic import codec as anthropic_codec
from batchkit.providers.azure import adapter as azure
from batchkit.providers.base import ShardInput
from batchkit.providers.bedrock import adapter as bedrock
from batchkit.providers.bedrock import codec as bedrock_codec
from batchkit.providers.cohere import adapter as cohere
from batchkit.providers.cohere import codec as cohere_codec
from batchkit.providers.gemini import adapter as gemini
from batchkit.providers.gemini import results as gemini_results
from batchkit.providers.groq import adapter as groq
from batchkit.providers.mistral import adapter as mistral
from batchkit.providers.mistral import codec as mistral_codec
from batchkit.providers.openai import adapter as openai
from batchkit.providers.openai import files as openai_files
from batchkit.providers.openai import results as openai_results
from batchkit.providers.together import adapter as together
from batchkit.providers.together import codec as together_codec
from batchkit.providers.vertex import adapter as vertex
from batchkit.providers.vertex import codec as vertex_codec
from batchkit.testing._fake import FakeAdapter
from tests.conformance.targets import TARGETS

DOC = Path(__file__).resolve().parents[1] / "providers.md"
LABELS = ("Native format", "Status mapping", "Result mapping", "Idempotency and re-attach",
          "Credentials and environment", "Limits", "Quirks", "Emulator")
RESULT_CASES = ("succeeded", "errored", "expired", "cancelled", "missing")
UNKNOWN = "batchkit-doc-test-unknown-status"
NUMBER = r"(\d[\d,]*)"

# -- reading the doc ---------------------------------------------------------------------------


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _sections(text: str) -> dict[str, str]:
    """``## name`` heading -> the text up to the next ``## `` heading, in document order."""
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _first_table(text: str) -> list[list[str]]:
    """The first Markdown table in ``text``: rows of stripped cells, separator row dropped."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                rows.append(cells)
        elif rows:
            break
    return rows


def _matrix() -> dict[str, dict[str, str]]:
    """The matrix at the top: vendor -> {column name: cell}, in row order."""
    header, *rows = _first_table(_doc().split("\n## ", 1)[0])
    return {row[0].strip("`"): dict(zip(header, row, strict=True)) for row in rows}


def _labels(section: str) -> list[str]:
    return re.findall(r"^- \*\*(.+?)\*\*", section, flags=re.MULTILINE)


def _part(section: str, label: str) -> str:
    """The text of one top-level bullet (with its sub-bullets and tables)."""
    start = section.index(f"- **{label}**")
    following = re.search(r"^- \*\*", section[start + 1:], flags=re.MULTILINE)
    return section[start:] if following is None else section[start:start + 1 + following.start()]


def _status_rows(section: str) -> list[tuple[list[str], dict[str, int], str]]:
    """Each status-table row as (vendor statuses, request counts it assumes, expected state)."""
    rows = []
    for first, expected, *_ in _first_table(_part(section, "Status mapping"))[1:]:
        tokens = re.findall(r"`([^`]+)`", first)
        counts = {t.split(".", 1)[1]: 1 for t in tokens if t.startswith("request_counts.")}
        statuses = [t for t in tokens if not t.startswith("request_counts.")]
        word = re.match(r"`?(\w+)`?", expected)
        assert word is not None, f"status row {first!r} has no JobState"
        rows.append((statuses, counts, word[1]))
    return rows


def _number(text: str) -> int:
    return int(text.replace(",", ""))


# -- the adapters' real status mappings --------------------------------------------------------

StateOf = Callable[[str, Mapping[str, int], Path], JobState]


@dataclass(frozen=True)
class StatusMap:
    state: StateOf
    """Runs the adapter's own mapping; raises ``ProviderError`` for a status it does not know."""
    known: frozenset[str]
    """Every vendor status the adapter maps."""
    uses: tuple[tuple[Any, str, Any], ...] = ()
    """(adapter module, name, codec object): the adapter really uses this mapping."""


def _openai_family(statuses: Mapping[str, JobState]) -> StateOf:
    return lambda s, _c, _t: openai_results.map_status({"id": "b", "status": s}, statuses).state


def _gemini_state(status: str, _counts: Mapping[str, int], _tmp: Path) -> JobState:
    """As ``gemini._status``: ``map_job_state`` answering None is a ``ProviderError``."""
    state = gemini_results.map_job_state(status)
    if state is None:
        raise ProviderError(f"unknown state {status!r}")
    return state


def _cohere_state(status: str, _counts: Mapping[str, int], _tmp: Path) -> JobState:
    if status.startswith("BATCH_STATUS_"):
        return cohere_codec.map_batch({"id": "b", "status": status}).state
    return cohere_codec.map_embed_job({"job_id": "j", "status": status}).state


def _fake_state(status: str, _counts: Mapping[str, int], tmp: Path) -> JobState:
    """The fake vendor's own ``poll`` on a batch told to report ``status``."""
    folder = tmp / status
    folder.mkdir()
    payload = folder / "payload.jsonl"
    payload.write_bytes(b'{"id": "r1"}\n')
    adapter = FakeAdapter("m", {"vendor_dir": str(folder), "states": [status]})
    remote = adapter.submit(ShardInput("job", 0, "key", "chat", payload, 1))
    return adapter.poll(remote).state


# Google's state names: ``_STATES`` is the shared table behind ``map_job_state`` (no public name).
_GOOGLE_STATES = frozenset("JOB_STATE_" + s for s in gemini_results._STATES)


def _openai_uses(adapter: type[Any], statuses: Mapping[str, JobState]) -> Any:
    """The family base maps every batch with the codec's ``map_status`` and the adapter's
    ``statuses``."""
    return ((openai_files, "map_status", openai_results.map_status),
            (adapter, "statuses", statuses))


STATUS_MAPS: dict[str, StatusMap] = {
    "openai": StatusMap(_openai_family(openai_results.OPENAI_STATUSES),
                        frozenset(openai_results.OPENAI_STATUSES),
                        _openai_uses(openai.OpenAIAdapter, openai_results.OPENAI_STATUSES)),
    "azure": StatusMap(_openai_family(openai_results.OPENAI_STATUSES),
                       frozenset(openai_results.OPENAI_STATUSES),
                       _openai_uses(azure.AzureAdapter, openai_results.OPENAI_STATUSES)),
    "groq": StatusMap(_openai_family(openai_results.OPENAI_STATUSES),
                      frozenset(openai_results.OPENAI_STATUSES),
                      _openai_uses(groq.GroqAdapter, openai_results.OPENAI_STATUSES)),
    "together": StatusMap(_openai_family(together_codec.TOGETHER_STATUSES),
                          frozenset(together_codec.TOGETHER_STATUSES),
                          _openai_uses(together.TogetherAdapter,
                                       together_codec.TOGETHER_STATUSES)),
    "anthropic": StatusMap(
        lambda s, c, _t: anthropic_codec.map_status(
            {"id": "b", "processing_status": s, "request_counts": dict(c)}).state,
        frozenset({*anthropic_codec._STATUSES, "ended"}),  # ``ended`` is read with its counts
        ((anthropic, "map_status", anthropic_codec.map_status),)),
    "bedrock": StatusMap(
        lambda s, _c, _t: bedrock_codec.map_status({"jobArn": "j", "status": s}).state,
        frozenset(bedrock_codec.STATUS_MAP),
        ((bedrock, "map_status", bedrock_codec.map_status),)),
    "cohere": StatusMap(
        _cohere_state,
        frozenset({*cohere_codec.EMBED_JOB_STATUSES, *cohere_codec.BATCH_STATUSES}),
        ((cohere, "map_batch", cohere_codec.map_batch),
         (cohere, "map_embed_job", cohere_codec.map_embed_job))),
    "mistral": StatusMap(
        lambda s, _c, _t: mistral_codec.map_status({"id": "j", "status": s}).state,
        frozenset(mistral_codec.MISTRAL_STATUSES),
        ((mistral, "map_status", mistral_codec.map_status),)),
    "vertex": StatusMap(
        lambda s, _c, _t: vertex_codec.map_status({"name": "j", "state": s}).state,
        _GOOGLE_STATES, ((vertex, "map_status", vertex_codec.map_status),)),
    "gemini": StatusMap(_gemini_state, _GOOGLE_STATES,
                        ((gemini, "map_job_state", gemini_results.map_job_state),)),
    "fake": StatusMap(_fake_state, frozenset(s.value for s in JobState)),
}

PROVIDERS = sorted(_BUILTIN)


def _adapter(name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The provider's adapter for its conformance chat model, with default options."""
    monkeypatch.delenv("BATCHKIT_BEDROCK_MIN_RECORDS", raising=False)
    target = next((t for t in TARGETS if t.name == name), None)
    assert target is not None, f"{name} has no conformance target to take a model from"
    return make_adapter(target.chat)


# -- tests -------------------------------------------------------------------------------------


def test_every_registered_provider_has_a_matrix_row_and_a_section_in_the_same_order() -> None:
    matrix = _matrix()
    sections = [name for name in _sections(_doc()) if name in _BUILTIN]
    assert sorted(matrix) == PROVIDERS, "matrix rows must be exactly the registry's providers"
    assert sorted(sections) == PROVIDERS, "every provider needs one '## name' section"
    assert sections == list(matrix), "sections must follow the matrix's row order"
    assert sorted(STATUS_MAPS) == PROVIDERS, "add the new provider's status map to this test"


def test_every_matrix_row_states_result_retention() -> None:
    matrix = _matrix()
    assert all(row["result retention"].strip() for row in matrix.values())
    assert len(matrix) == len(PROVIDERS)


@pytest.mark.parametrize("name", PROVIDERS)
def test_section_has_the_same_parts_in_the_same_order(name: str) -> None:
    section = _sections(_doc())[name]
    assert _labels(section) == list(LABELS)
    results = _part(section, "Result mapping")
    for case in RESULT_CASES:
        assert f"{case}:" in results, f"{name}: Result mapping does not say what '{case}' is"


@pytest.mark.parametrize("name", PROVIDERS)
def test_status_table_matches_the_adapters_mapping(name: str, tmp_path: Path) -> None:
    status_map = STATUS_MAPS[name]
    for module, attr, codec in status_map.uses:
        assert getattr(module, attr) is codec, f"{module.__name__} no longer uses {attr}"
    rows = _status_rows(_sections(_doc())[name])
    assert rows, f"{name} has no status table"
    documented: set[str] = set()
    for statuses, counts, expected in rows:
        documented.update(statuses)
        for status in statuses:
            if expected == "ProviderError":
                with pytest.raises(ProviderError):
                    status_map.state(status, counts, tmp_path)
            else:
                got = status_map.state(status, counts, tmp_path)
                assert got == JobState(expected), f"{name}: {status} {dict(counts)} -> {got}"
    missing = status_map.known - documented
    assert not missing, f"{name} maps statuses providers.md does not list: {sorted(missing)}"
    if name != "fake":  # the fake vendor speaks batchkit's own words; nothing else is possible
        assert any(expected == "ProviderError" for *_, expected in rows)
        with pytest.raises(ProviderError):
            status_map.state(UNKNOWN, {}, tmp_path)


def test_google_wire_states_read_like_the_sdk_names() -> None:
    """The Gemini API sends ``BATCH_STATE_X``; the table lists the SDK's ``JOB_STATE_X``."""
    for statuses, _counts, _expected in _status_rows(_sections(_doc())["gemini"]):
        for status in statuses:
            wire = status.replace("JOB_STATE_", "BATCH_STATE_")
            assert gemini_results.map_job_state(wire) == gemini_results.map_job_state(status)


def test_cohere_dataset_validation_failures_are_documented() -> None:
    """Dataset statuses are handled inside ``submit``, not by a status map; the doc names them."""
    text = _part(_sections(_doc())["cohere"], "Status mapping")
    named = set(re.findall(r"`([^`]+)`", text.split("|", 1)[0]))
    assert set(cohere._VALIDATION_FAILED) <= named


@pytest.mark.parametrize("name", PROVIDERS)
def test_matrix_limits_match_the_adapter(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    row = _matrix()[name]
    adapter = _adapter(name, monkeypatch)
    chat = adapter.limits("chat")
    requests = re.match(NUMBER, row["max requests"])
    size = re.match(NUMBER, row["max bytes"])
    assert requests is not None and size is not None, f"{name}: limits must start with a number"
    assert _number(requests[1]) == chat.max_requests
    assert _number(size[1]) == chat.max_bytes
    embed = re.search(rf"embeddings {NUMBER}", row["max requests"])
    if embed is not None:
        assert _number(embed[1]) == adapter.limits("embed").max_requests
    least = re.search(rf"at least {NUMBER}", row["max requests"])
    assert (None if least is None else _number(least[1])) == chat.min_requests


@pytest.mark.parametrize("name", PROVIDERS)
def test_credential_variables_are_documented(name: str) -> None:
    text = _part(_sections(_doc())[name], "Credentials and environment")
    for variable in get_adapter_class(name).credential_env:
        assert f"`{variable}`" in text, f"{name}: {variable} is not in its credentials part"

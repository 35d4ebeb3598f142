"""batchkit: large LLM jobs through the vendors' batch APIs, behind one neutral interface.

    import batchkit as bk
    results = bk.run(requests, provider="openai:gpt-4o-mini")

Everything public is re-exported here; the modules behind it are private.
"""

import typing as _typing

from ._exceptions import (
    BatchFailedError,
    BatchkitError,
    BudgetExceededError,
    ConfigError,
    InvalidRequestError,
    InvalidTransitionError,
    JobNotFoundError,
    MissingCredentialsError,
    MissingDependencyError,
    ProviderError,
    RateLimitedError,
    StoreError,
    UnknownProviderError,
)

if _typing.TYPE_CHECKING:  # loaded on first use (``_LAZY_PUBLIC``); type checkers see them here
    from ._convert import convert
    from ._decode import decode
    from ._job import Job
    from ._offline import encode
    from ._readers import read_requests
    from ._registry import register_provider
    from ._requests import (
        ChatRequest,
        DocumentPart,
        EmbedRequest,
        ImagePart,
        Message,
        ModerationRequest,
        Reasoning,
        TextPart,
    )
    from ._results import Choice, ErrorInfo, Moderation, Result, ResultSet, Usage
    from ._state import JobState
    from ._submit import forget, get_job, list_jobs, resume, run, submit
    from ._tools import Tool, ToolCall
    from .cost import Comparison, Estimate, compare, estimate

__version__ = "0.1.0"

__all__ = [
    "BatchFailedError",
    "BatchkitError",
    "BudgetExceededError",
    "ChatRequest",
    "Choice",
    "Comparison",
    "ConfigError",
    "DocumentPart",
    "EmbedRequest",
    "ErrorInfo",
    "Estimate",
    "ImagePart",
    "InvalidRequestError",
    "InvalidTransitionError",
    "Job",
    "JobNotFoundError",
    "JobState",
    "Message",
    "MissingCredentialsError",
    "MissingDependencyError",
    "Moderation",
    "ModerationRequest",
    "ProviderError",
    "RateLimitedError",
    "Reasoning",
    "Result",
    "ResultSet",
    "StoreError",
    "TextPart",
    "Tool",
    "ToolCall",
    "UnknownProviderError",
    "Usage",
    "compare",
    "convert",
    "decode",
    "encode",
    "estimate",
    "forget",
    "get_job",
    "list_jobs",
    "read_requests",
    "register_provider",
    "resume",
    "run",
    "submit",
]

# Public names whose modules load on first use, so that ``import batchkit`` stays under 100 ms:
# jobs, results and cost pull in numpy, asyncio, the store and the price catalog, which
# building requests never needs; the request models pull in pydantic (two thirds of the import),
# which ``batchkit status`` or ``except bk.BatchkitError`` never needs. name -> private module.
_LAZY_PUBLIC = {
    "ChatRequest": "_requests", "DocumentPart": "_requests", "EmbedRequest": "_requests",
    "ImagePart": "_requests", "Message": "_requests", "Reasoning": "_requests",
    "ModerationRequest": "_requests", "Moderation": "_results",
    "TextPart": "_requests", "Tool": "_tools", "ToolCall": "_tools",
    "Job": "_job", "convert": "_convert", "decode": "_decode", "encode": "_offline",
    "read_requests": "_readers",
    "register_provider": "_registry", "Choice": "_results", "ErrorInfo": "_results",
    "Result": "_results", "ResultSet": "_results", "Usage": "_results", "JobState": "_state",
    "forget": "_submit", "get_job": "_submit", "list_jobs": "_submit", "resume": "_submit",
    "run": "_submit", "submit": "_submit", "Comparison": "cost", "Estimate": "cost",
    "compare": "cost", "estimate": "cost",
}


def _public(obj: object) -> object:
    """A public class shows (and pickles) as ``batchkit.X``, not by its private module."""
    if isinstance(obj, type):
        obj.__module__ = "batchkit"
    return obj


for _name in __all__:
    if _name not in _LAZY_PUBLIC:
        _public(globals()[_name])

# Subpackages reached as attributes (``batchkit.testing.emulate()`` after ``import batchkit``)
# but imported only on first use: the emulators pull in servers and vendor schemas that a job
# never needs, and ``import batchkit`` must stay fast.
_LAZY_SUBMODULES = frozenset({"testing", "sinks"})
# Public functions whose modules load on first use (indexing reaches for the sink registry and
# the corpus readers, which a plain job never needs); name -> private module.
_LAZY_ATTRIBUTES = {"IndexReport": "_index", "index": "_index", "search": "_search",
                    "asubmit": "_aio", "arun": "_aio", "aresume": "_aio",
                    "Batcher": "_batcher"}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_PUBLIC:
        # every public name of the module at once, so a class's __module__ does not depend on
        # which of its neighbours was named first; looked up once, later accesses skip this
        module = importlib.import_module(f"{__name__}.{_LAZY_PUBLIC[name]}")
        for other, where in _LAZY_PUBLIC.items():
            if where == _LAZY_PUBLIC[name]:
                globals()[other] = _public(getattr(module, other))
        return globals()[name]
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_ATTRIBUTES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


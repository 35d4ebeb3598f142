"""batchkit: large LLM jobs through the vendors' batch APIs, behind one neutral interface.

    import batchkit as bk
    results = bk.run(requests, provider="openai:gpt-4o-mini")

Everything public is re-exported here; the modules behind it are private.
"""

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
from ._job import Job
from ._offline import decode, encode
from ._readers import read_requests
from ._registry import register_provider
from ._requests import (
    ChatRequest,
    DocumentPart,
    EmbedRequest,
    ImagePart,
    Message,
    Reasoning,
    TextPart,
)
from ._results import Choice, ErrorInfo, Result, ResultSet, Usage
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

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = "batchkit"

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
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_ATTRIBUTES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


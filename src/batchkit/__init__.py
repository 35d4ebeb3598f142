"""batchkit: large LLM jobs through the vendors' batch APIs, behind one neutral interface."""

from ._exceptions import *  # noqa: F403
from ._requests import ChatRequest, EmbedRequest, ImagePart, Message, TextPart
from ._results import ErrorInfo, Result, ResultSet, Usage
from ._state import JobState

__version__ = "0.1.0"

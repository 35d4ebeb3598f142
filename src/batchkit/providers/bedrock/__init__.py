"""Amazon Bedrock batch inference: ``adapter`` (I/O through ``boto3``, limits) and ``codec``
(records per model family, results and status map)."""

from .adapter import BedrockAdapter

__all__ = ["BedrockAdapter"]

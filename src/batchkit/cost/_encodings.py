"""OpenAI's tiktoken encodings, shipped inside batchkit so exact counts need no download.

tiktoken fetches its encoding files from OpenAI's blob store on first use, with no timeout, and
keeps them in a cache directory. A machine without network (CI, an air-gapped batch host) would
then either hang or count approximately. batchkit therefore carries the two encodings its
catalog names (``o200k_base``, ``cl100k_base``) gzipped under ``cost/encodings/``, and checks each
against the sha256 tiktoken itself pins for it before building the ``tiktoken.Encoding``. A file
whose hash is wrong is refused, and counts fall back to the flagged approximation.

Source of the files and their hashes: https://openaipublic.blob.core.windows.net/encodings/
(``<name>.tiktoken``), as pinned in tiktoken's ``tiktoken_ext/openai_public.py``; tiktoken is
MIT-licensed (https://github.com/openai/tiktoken). The split patterns and special tokens below are
the same facts, restated: an encoding is defined by its ranks, its pattern and its specials.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ENCODINGS_DIR", "load_encoding"]

ENCODINGS_DIR = Path(__file__).with_name("encodings")

_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


@dataclass(frozen=True)
class _ShippedEncoding:
    sha256: str
    """Of the uncompressed file, as tiktoken pins it."""
    pattern: str
    special_tokens: dict[str, int]


_SHIPPED = {
    "o200k_base": _ShippedEncoding(
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
        _O200K_PATTERN,
        {"<|endoftext|>": 199999, "<|endofprompt|>": 200018},
    ),
    "cl100k_base": _ShippedEncoding(
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
        _CL100K_PATTERN,
        {
            "<|endoftext|>": 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
    ),
}

_loaded: dict[str, Any] = {}
_lock = threading.Lock()


def load_encoding(name: str, directory: Path | None = None) -> Any | None:
    """A tiktoken ``Encoding`` built from the shipped file, or None when it cannot be had.

    None means: tiktoken is not installed, the name is not one batchkit ships, or the file is
    missing or fails its hash. Callers then count approximately and say so. Loaded encodings are
    kept for the life of the process (building o200k takes about a quarter of a second).
    """
    folder = directory or ENCODINGS_DIR
    key = f"{name}@{folder}"
    with _lock:
        if key not in _loaded:
            _loaded[key] = _build(name, folder)
        return _loaded[key]


def _build(name: str, folder: Path) -> Any | None:
    shipped = _SHIPPED.get(name)
    if shipped is None:
        return None
    try:
        import tiktoken
    except ImportError:
        return None
    ranks = _read_ranks(folder / f"{name}.tiktoken.gz", shipped.sha256)
    if ranks is None:
        return None
    return tiktoken.Encoding(
        name=name,
        pat_str=shipped.pattern,
        mergeable_ranks=ranks,
        special_tokens=shipped.special_tokens,
    )


def _read_ranks(path: Path, sha256: str) -> dict[bytes, int] | None:
    """The ``token rank`` table of a ``.tiktoken`` file, or None if absent, corrupt or altered."""
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks

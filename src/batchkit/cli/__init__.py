"""The ``batchkit`` command line. One module per command group; each exposes ``register(cli)``."""

from __future__ import annotations

import os
import sys

import click

from . import _cost, _decode, _doctor, _index, _jobs, _providers, _run, _tools, _worker
from ._output import OneLineErrorGroup

__all__ = ["cli", "main"]


@click.group(cls=OneLineErrorGroup, name="batchkit")
@click.version_option(package_name="batchkit")
def cli() -> None:
    """Run large LLM jobs through the vendors' batch APIs."""
    # Let response models in the working directory be imported, by `submit` and by every later
    # command that parses results (console scripts leave it off sys.path). Appended, not put
    # first as `python -m` does: a stray openai.py in the folder must not shadow the real SDK.
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


for _module in (_jobs, _cost, _providers, _tools, _decode, _doctor, _index, _worker, _run):
    _module.register(cli)


def main() -> None:
    cli()

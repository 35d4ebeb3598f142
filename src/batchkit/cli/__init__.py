"""The ``batchkit`` command line. One module per command group; each exposes ``register(cli)``."""

from __future__ import annotations

import click

from . import _cost, _jobs, _providers, _tools

__all__ = ["cli", "main"]


@click.group()
@click.version_option(package_name="batchkit")
def cli() -> None:
    """Run large LLM jobs through the vendors' batch APIs."""


for _module in (_jobs, _cost, _providers, _tools):
    _module.register(cli)


def main() -> None:
    cli()

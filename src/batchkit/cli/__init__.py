"""The ``batchkit`` command line. One module per command group; each exposes ``register(cli)``."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="batchkit")
def cli() -> None:
    """Run large LLM jobs through the vendors' batch APIs."""


def main() -> None:
    cli()

"""Offline tools: ``convert`` (requests to vendor files) and ``emulator`` (local vendor APIs)."""

from __future__ import annotations

from pathlib import Path

import click

from .._offline import encode
from .._readers import read_requests
from .._storage import Target
from ._formats import SOURCE
from ._jobs import _parse_options
from ._output import console, emit_json, handle_errors, json_option

__all__ = ["register"]


@click.command("convert")
@click.argument("file", type=SOURCE)
@click.option("--to", "provider", required=True, help="name:model of the target vendor.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the vendor files (one per shard).")
@click.option("--kind", type=click.Choice(["chat", "embed"]), help="For CSV: what each row is.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option (repeatable), e.g. -s endpoint=responses.")
@json_option
@handle_errors
def convert_cmd(file: Target, provider: str, output: Path, kind: str | None,
                options: tuple[str, ...], as_json: bool) -> None:
    """Write FILE's requests in PROVIDER's batch format, split by its limits. Sends nothing."""
    paths = encode(read_requests(file, kind=kind), provider, output,  # type: ignore[arg-type]
                   options=_parse_options(options) or None)
    if as_json:
        emit_json({"provider": provider, "files": [str(p) for p in paths]})
        return
    for path in paths:
        console.print(str(path))


@click.command("emulator")
@click.option("--port", default=8765, show_default=True)
def emulator_cmd(port: int) -> None:
    """Serve every vendor emulator on 127.0.0.1 until interrupted.

    Point any process at it with BATCHKIT_SANDBOX=http://127.0.0.1:PORT; jobs survive the
    processes that submit them, as long as the emulator runs.
    """
    from ..testing._emulate import serve

    click.echo(f"serving vendor emulators; export BATCHKIT_SANDBOX=http://127.0.0.1:{port}")
    serve("127.0.0.1", port)


def register(cli: click.Group) -> None:
    cli.add_command(convert_cmd)
    cli.add_command(emulator_cmd)

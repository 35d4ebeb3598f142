"""Offline tools: ``convert`` (request files to a vendor's batch files) and ``emulator`` (local
vendor APIs)."""

from __future__ import annotations

from pathlib import Path

import click

from .._convert import convert
from .._offline import encode
from .._readers import read_requests
from .._storage import Target
from ._formats import SOURCE
from ._jobs import parse_options
from ._output import console, emit_json, handle_errors, json_option

__all__ = ["register"]


_FILE_SUFFIXES = (".jsonl", ".json", ".ndjson")


@click.command("convert")
@click.argument("file", type=SOURCE)
@click.option("--to", "provider", required=True,
              help="Target vendor: name:model, or name alone to keep the model the file names.")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="A .jsonl file (one streamed file of the target's lines), or a folder for "
                   "the job's shard files split by the target's limits. Default: standard "
                   "output.")
@click.option("--from", "source_format", metavar="FORMAT",
              help="The source format (a vendor name, or vendor:model), when the first line "
                   "does not tell.")
@click.option("--kind", type=click.Choice(["chat", "embed"]), help="For CSV: what each row is.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option (repeatable), e.g. -s endpoint=responses.")
@json_option
@handle_errors
def convert_cmd(file: Target, provider: str, output: Path | None, source_format: str | None,
                kind: str | None, options: tuple[str, ...], as_json: bool) -> None:
    """Write FILE's requests (any vendor's batch file, neutral JSONL or CSV) in another
    vendor's batch format, through batchkit's neutral requests. A line the target cannot
    express is refused, naming it, before anything is written. Sends nothing."""
    parsed = parse_options(options) or None
    to_file = output is not None and output.suffix in _FILE_SUFFIXES
    if to_file or output is None or str(output) == "-":
        # On standard output the lines are the output; nothing else is printed there.
        count = convert(file, provider, output if to_file else None,
                        format=source_format, kind=kind, options=parsed)
        if as_json and to_file:
            emit_json({"provider": provider, "files": [str(output)], "lines": count})
        elif to_file:
            console.print(str(output))
        return
    paths = encode(read_requests(file, kind=kind, format=source_format),  # type: ignore[arg-type]
                   provider, output, options=parsed)
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

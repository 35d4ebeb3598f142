"""``batchkit index`` (a corpus into a vector store) and ``batchkit search`` (ask it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from ._jobs import in_sandbox, parse_options
from ._output import console, emit_json, handle_errors, json_option, table

__all__ = ["register"]

_SINK_HELP = ("Where the vectors go: lancedb://./index (default), qdrant://./dir, "
              "qdrant+http://host:6333, chroma://./dir or parquet://./dir.")


@click.command("index")
@click.argument("docs", type=click.Path(exists=True, path_type=Path))
@click.option("--sink", default="lancedb://./index", show_default=True, help=_SINK_HELP)
@click.option("-p", "--provider",
              help="provider:model of an embedding model (see batchkit prices).")
@click.option("--profile", help="A [profiles.NAME] table of batchkit.toml.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option (repeatable).")
@click.option("--dimensions", type=click.IntRange(min=1), help="Shortened vector length.")
@click.option("--chunk-tokens", type=click.IntRange(min=1), default=512, show_default=True,
              help="Chunk size in approximate tokens (4 characters each).")
@click.option("--overlap-tokens", type=click.IntRange(min=0), default=64, show_default=True)
@click.option("--id-field", default="id", show_default=True)
@click.option("--text-field", default="text", show_default=True)
@click.option("--max-cost", type=float, help="Refuse the job if it could cost more (USD).")
@click.option("--mode", type=click.Choice(["batch", "realtime", "auto"]), default="batch",
              show_default=True, help="auto: a small update through the real-time endpoint.")
@click.option("--dry-run", is_flag=True,
              help="Show what would be embedded and its cost; send nothing.")
@click.option("--sandbox", is_flag=True, help="Use local vendor emulators: no keys, no network.")
@json_option
@handle_errors
def index_cmd(
    docs: Path, sink: str, provider: str | None, profile: str | None, options: tuple[str, ...],
    dimensions: int | None, chunk_tokens: int, overlap_tokens: int, id_field: str,
    text_field: str, max_cost: float | None, mode: str, dry_run: bool, sandbox: bool,
    as_json: bool,
) -> None:
    """Chunk DOCS (JSONL, CSV, Parquet or a folder of .txt/.md), embed what changed, upsert.

    Re-run it after editing the documents: only new and changed chunks are embedded, and the
    chunks of removed documents are deleted.
    """
    from .._index import index

    with in_sandbox(sandbox):
        report = index(docs, sink, provider, profile=profile, options=parse_options(options),
                       dimensions=dimensions, chunk_tokens=chunk_tokens,
                       overlap_tokens=overlap_tokens, id_field=id_field, text_field=text_field,
                       dry_run=dry_run, max_cost_usd=max_cost, mode=mode,
                       progress=not as_json)
    summary: dict[str, Any] = dataclasses.asdict(report)
    del summary["estimate"]
    summary["batch_cost_usd"] = report.estimate.batch_cost_expected if report.estimate else 0.0
    if as_json:
        emit_json(summary)
        return
    verb = "would embed" if dry_run else "embedded"
    console.print(
        f"{report.sink}: {report.chunks} chunks ({report.unchanged} unchanged, {report.new} new, "
        f"{report.changed} changed); {verb} {report.to_embed}, recovered {report.recovered}, "
        f"{'would delete' if dry_run else 'deleted'} {report.deleted}")
    if dry_run:
        console.print(f"estimated batch cost: ${summary['batch_cost_usd']:.6f}")
    if report.failed:
        console.print(f"[red]{report.failed} chunks got no vector[/red] (re-run to retry): "
                      + ", ".join(report.failed_ids))


@click.command("search")
@click.argument("query")
@click.option("--sink", default="lancedb://./index", show_default=True, help=_SINK_HELP)
@click.option("-p", "--provider", help="The name:model the index was built with.")
@click.option("--profile", help="A [profiles.NAME] table of batchkit.toml.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option (repeatable).")
@click.option("--dimensions", type=click.IntRange(min=1), help="As the index was built.")
@click.option("-k", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--sandbox", is_flag=True, help="Use local vendor emulators: no keys, no network.")
@json_option
@handle_errors
def search_cmd(
    query: str, sink: str, provider: str | None, profile: str | None, options: tuple[str, ...],
    dimensions: int | None, k: int, sandbox: bool, as_json: bool,
) -> None:
    """The K chunks nearest to QUERY (embedded as a search query through a one-request job)."""
    from .._search import search

    with in_sandbox(sandbox):
        hits = search(sink, query, provider, k=k, dimensions=dimensions, profile=profile,
                      options=parse_options(options))
    if as_json:
        emit_json([dataclasses.asdict(h) for h in hits])
        return
    table(f"nearest to {query!r}", ["id", "score", "text"],
          [(h.id, f"{h.score:.4f}", h.text[:80]) for h in hits])


def register(cli: click.Group) -> None:
    cli.add_command(index_cmd)
    cli.add_command(search_cmd)

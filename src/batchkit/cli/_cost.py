"""``batchkit estimate``, ``compare`` and ``prices``: what a job would cost, before it is sent.

Tables are for people and ``--json`` is for scripts; both show the same figures, and every price
keeps its source and date so a reader can check it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._exceptions import BatchkitError
from .._readers import read_requests
from ..cost import Comparison, Estimate, compare, estimate, load_catalog

__all__ = ["register"]

_PLOT_HINT = 'drawing a chart needs matplotlib: pip install "batchkit[plot]"'
_KIND = click.Choice(["chat", "embed"])


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.4f}"


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _table(estimates: list[Estimate], title: str) -> Table:
    table = Table(title=title)
    for name in ("provider:model", "input tokens", "output ≤ / expected"):
        table.add_column(name, justify="left" if name == "provider:model" else "right")
    for name in ("batch (expected)", "batch (max)", "real-time (expected)", "real-time (max)"):
        table.add_column(name, justify="right")
    for e in estimates:
        tokens = f"{e.input_tokens:,}" + ("" if e.input_exact else " ~")
        table.add_row(
            escape(e.provider),
            tokens,
            f"{e.output_tokens_max:,} / {e.output_tokens_expected:,}",
            _usd(e.batch_cost_expected),
            _usd(e.batch_cost_max),
            _usd(e.realtime_cost_expected),
            _usd(e.realtime_cost_max),
        )
    return table


def _print_notes(console: Console, heading: str, notes: tuple[str, ...]) -> None:
    if notes:
        console.print(f"[bold]{escape(heading)}[/bold]")
        for note in notes:
            console.print(f"  • {note}", markup=False, highlight=False)


def _plot(comparison: Comparison, path: Path) -> None:
    """A horizontal bar chart of expected batch (or real-time) cost per target."""
    importlib.import_module("matplotlib").use("Agg")  # no display needed; checked by the caller
    plt = importlib.import_module("matplotlib.pyplot")
    priced = [e for e in comparison.estimates if e.cost_expected is not None]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(priced) + 1.5))
    ax.barh([e.provider for e in priced], [e.cost_expected for e in priced])
    ax.invert_yaxis()
    ax.set_xlabel("expected cost, USD (batch where offered)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


@click.command("estimate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-p", "--provider", required=True, help="provider:model, e.g. openai:gpt-4o-mini")
@click.option(
    "--expected-output", type=click.IntRange(min=0), help="expected output tokens/request"
)
@click.option("--kind", type=_KIND, help="for CSV files: embed (default) or chat rows")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def estimate_cmd(
    file: Path,
    provider: str,
    expected_output: int | None,
    kind: Literal["chat", "embed"] | None,
    as_json: bool,
) -> None:
    """Count the tokens of FILE and price it on one provider, batch vs real time."""
    try:
        result = estimate(
            read_requests(file, kind=kind), provider, expected_output_tokens=expected_output
        )
    except BatchkitError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json(result.to_dict())
        return
    console = Console()
    console.print(_table([result], f"{file.name}: {result.requests:,} requests"))
    console.print(
        f"prices: {result.price_source} (as of {result.price_as_of})", markup=False, highlight=False
    )
    _print_notes(console, "Notes", result.notes)
    _print_notes(console, "Conflicts between sources", result.conflicts)


@click.command("compare")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-p", "--provider", "providers", multiple=True, required=True, help="repeatable")
@click.option(
    "--expected-output", type=click.IntRange(min=0), help="expected output tokens/request"
)
@click.option("--kind", type=_KIND, help="for CSV files: embed (default) or chat rows")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="write a PNG chart")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def compare_cmd(
    file: Path,
    providers: tuple[str, ...],
    expected_output: int | None,
    kind: Literal["chat", "embed"] | None,
    plot: Path | None,
    as_json: bool,
) -> None:
    """Price FILE on several providers at once, cheapest first."""
    if plot is not None:
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            raise click.ClickException(_PLOT_HINT) from None
    try:
        result = compare(
            read_requests(file, kind=kind), list(providers), expected_output_tokens=expected_output
        )
    except BatchkitError as exc:
        raise click.ClickException(str(exc)) from None
    if plot is not None:
        _plot(result, plot)
    if as_json:
        _echo_json(result.to_dict())
        return
    console = Console()
    count = result.estimates[0].requests
    console.print(_table(list(result.estimates), f"{file.name}: {count:,} requests"))
    _print_notes(console, "What differs", result.notes)
    for e in result.estimates:
        _print_notes(console, f"Conflicts for {e.provider}", e.conflicts)
    if plot is not None:
        console.print(f"chart written to {plot}", highlight=False)


@click.command("prices")
@click.option("--provider", help="only this provider (openai, anthropic, ...)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def prices_cmd(provider: str | None, as_json: bool) -> None:
    """List the price catalog (USD per 1M tokens) with each row's source and date."""
    catalog = load_catalog()
    if provider is not None and provider not in catalog.rules:
        raise click.ClickException(
            f"unknown provider {provider!r}; known: {', '.join(sorted(catalog.rules))}"
        )
    rows = catalog.for_provider(provider)
    if as_json:
        rules = [r for name, r in catalog.rules.items() if provider in (None, name)]
        _echo_json(
            {
                "rules": [dataclasses.asdict(r) for r in rules],
                "models": [row.to_dict() for row in rows],
            }
        )
        return
    table = Table(title="batchkit price catalog (USD per 1M tokens)")
    for name in ("provider:model", "input", "output", "cached", "batch in", "batch out"):
        table.add_column(name, justify="left" if name == "provider:model" else "right")
    table.add_column("as of")
    for row in rows:
        batch = row.rates(catalog.rule(row.provider), batch=True)
        table.add_row(
            escape(row.key),
            _price(row.input),
            _price(row.output),
            _price(row.cached_input),
            _price(batch.input if batch else None),
            _price(batch.output if batch and row.kind == "chat" else None),
            row.as_of,
        )
    console = Console()
    console.print(table)
    for name, rule in catalog.rules.items():
        if provider in (None, name):
            console.print(
                f"[bold]{name}[/bold]: batch discount {rule.batch_discount:.0%}, cached input in "
                f"batch: {rule.cached_input_in_batch} — {escape(rule.source)}",
                highlight=False,
            )


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def register(cli: click.Group) -> None:
    """Add ``estimate``, ``compare`` and ``prices`` to the main ``batchkit`` group."""
    for command in (estimate_cmd, compare_cmd, prices_cmd):
        cli.add_command(command)

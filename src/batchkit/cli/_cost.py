"""``batchkit estimate``, ``compare`` and ``prices``: what a job would cost, before it is sent.

Tables are for people and ``--json`` is for scripts; both show the same figures, and every price
keeps its source and date so a reader can check it.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .._exceptions import BatchkitError
from .._readers import read_requests
from .._storage import Target, display_name
from ..cost import (
    DEFAULT_EXACT_SAMPLE,
    Comparison,
    Estimate,
    clear_refresh,
    compare,
    estimate,
    load_catalog,
    plan_refresh,
    write_refresh,
)
from ._formats import SOURCE

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


def _exact_options(command: Callable[..., None]) -> Callable[..., None]:
    """``--exact`` and ``--exact-sample``, shared by estimate and compare."""
    command = click.option(
        "--exact-sample", type=click.IntRange(min=1), default=DEFAULT_EXACT_SAMPLE,
        show_default=True, help="with --exact: requests counted by the vendor at most; a larger "
        "file scales the approximation by their ratio")(command)
    return click.option(
        "--exact", is_flag=True, help="count input tokens with the vendor's count-tokens "
        "endpoint where there is one and a key is set (else the approximation, with a note)",
    )(command)


@click.command("estimate")
@click.argument("file", type=SOURCE)
@click.option("-p", "--provider", required=True,
              help="provider:model (names: batchkit providers; models: batchkit prices)")
@click.option(
    "--expected-output", type=click.IntRange(min=0), help="expected output tokens/request"
)
@click.option("--kind", type=_KIND, help="for CSV files: embed (default) or chat rows")
@click.option("--mode", type=click.Choice(["batch", "realtime", "auto"]),
              help="show the mode the job would run in (auto: why), and its cost")
@click.option("--deadline", "deadline_s", type=click.FloatRange(min=0), metavar="SECONDS",
              help="the job's deadline, for --mode auto")
@_exact_options
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def estimate_cmd(
    file: Target,
    provider: str,
    expected_output: int | None,
    kind: Literal["chat", "embed"] | None,
    mode: str | None,
    deadline_s: float | None,
    exact: bool,
    exact_sample: int,
    as_json: bool,
) -> None:
    """Count the tokens of FILE and price it on one provider, batch vs real time."""
    try:
        result = estimate(
            read_requests(file, kind=kind), provider, expected_output_tokens=expected_output,
            exact=exact, exact_sample=exact_sample, mode=mode, deadline_s=deadline_s,
        )
    except BatchkitError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        _echo_json(result.to_dict())
        return
    console = Console()
    console.print(_table([result], f"{display_name(file)}: {result.requests:,} requests"))
    console.print(
        f"prices: {result.price_source} (as of {result.price_as_of})", markup=False, highlight=False
    )
    if result.mode is not None:
        console.print(f"mode {result.mode.asked}: runs {result.mode}; expected "
                      f"{_usd(result.mode.cost_expected)} (at most {_usd(result.mode.cost_max)})"
                      f"; batch {_usd(result.batch_cost_expected)}, real time "
                      f"{_usd(result.realtime_cost_expected)}", markup=False, highlight=False)
    _print_notes(console, "Notes", result.notes)
    _print_notes(console, "Conflicts between sources", result.conflicts)


@click.command("compare")
@click.argument("file", type=SOURCE)
@click.option("-p", "--provider", "providers", multiple=True, required=True, help="repeatable")
@click.option(
    "--expected-output", type=click.IntRange(min=0), help="expected output tokens/request"
)
@click.option("--kind", type=_KIND, help="for CSV files: embed (default) or chat rows")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), help="write a PNG chart")
@_exact_options
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def compare_cmd(
    file: Target,
    providers: tuple[str, ...],
    expected_output: int | None,
    kind: Literal["chat", "embed"] | None,
    plot: Path | None,
    exact: bool,
    exact_sample: int,
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
            read_requests(file, kind=kind), list(providers), expected_output_tokens=expected_output,
            exact=exact, exact_sample=exact_sample,
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
    console.print(_table(list(result.estimates), f"{display_name(file)}: {count:,} requests"))
    _print_notes(console, "What differs", result.notes)
    if exact:
        _print_notes(console, "Exact counts", tuple(
            f"{e.provider}: {e.exact_summary or f'counted offline ({e.token_method})'}"
            for e in result.estimates))
    for e in result.estimates:
        _print_notes(console, f"Conflicts for {e.provider}", e.conflicts)
    if plot is not None:
        console.print(f"chart written to {plot}", highlight=False)


@click.command("prices")
@click.option("--provider", help="only this provider (see batchkit providers)")
@click.option("--refresh", "refresh_source", metavar="SOURCE",
              help="path or URL of LiteLLM's model_prices_and_context_window.json or "
              "genai-prices' data.json: write its prices to an override file in BATCHKIT_HOME")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]),
              help="with --refresh: the date the file's prices were checked (default: its date)")
@click.option("--add-new", is_flag=True,
              help="with --refresh: also add models the catalog does not list")
@click.option("--clear-refresh", is_flag=True, help="delete the override file (back to the "
              "shipped snapshot and batchkit.toml)")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def prices_cmd(
    provider: str | None,
    refresh_source: str | None,
    as_of: datetime | None,
    add_new: bool,
    clear_refresh: bool,
    as_json: bool,
) -> None:
    """List the price catalog (USD per 1M tokens) with each row's source and date."""
    if refresh_source is not None or clear_refresh:
        _refresh(refresh_source, as_of, add_new, clear_refresh, as_json)
        return
    try:
        catalog = load_catalog()
    except BatchkitError as exc:
        raise click.ClickException(str(exc)) from None
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
    table.add_column("from")
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
            row.origin,
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


def _refresh(
    source: str | None, as_of: datetime | None, add_new: bool, clear: bool, as_json: bool
) -> None:
    """``prices --refresh`` / ``--clear-refresh``: write or delete the override file, then
    say what changed (the shipped snapshot is never edited)."""
    if clear:
        gone = clear_refresh()
        if source is None:
            click.echo("refresh file deleted" if gone else "no refresh file to delete")
            return
    assert source is not None
    try:
        plan = plan_refresh(source, as_of=as_of.date().isoformat() if as_of else None,
                            add_new=add_new)
    except BatchkitError as exc:
        raise click.ClickException(str(exc)) from None
    path = write_refresh(plan)
    if as_json:
        _echo_json({"file": str(path), "source": plan.source, "format": plan.format,
                    "as_of": plan.as_of, "summary": plan.summary(),
                    "changed": {k: {f: list(v) for f, v in d.items()}
                                for k, d in plan.changed.items()},
                    "unchanged": plan.unchanged, "added": plan.added,
                    "not_added": plan.not_added, "skipped": plan.skipped})
        return
    console = Console()
    console.print(f"{plan.format} file {plan.source} (as of {plan.as_of}): {plan.summary()}",
                  markup=False, highlight=False)
    if plan.changed:
        table = Table(title="changed rows (USD per 1M tokens)")
        for name in ("provider:model", "field", "was", "now"):
            table.add_column(name, justify="right" if name in ("was", "now") else "left")
        for key, diff in sorted(plan.changed.items()):
            for name, (old, new) in diff.items():
                table.add_row(escape(key), name, _price(old), _price(new))
        console.print(table)
    for key in plan.added:
        console.print(f"  added {key}", markup=False, highlight=False)
    console.print(f"written to {path}; `batchkit prices` marks these rows 'refresh'",
                  markup=False, highlight=False)


def _price(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def register(cli: click.Group) -> None:
    """Add ``estimate``, ``compare`` and ``prices`` to the main ``batchkit`` group."""
    for command in (estimate_cmd, compare_cmd, prices_cmd):
        cli.add_command(command)

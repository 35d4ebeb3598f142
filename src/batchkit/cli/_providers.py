"""``batchkit providers``: which adapters are installed and whether credentials are set."""

from __future__ import annotations

import os

import click

from .._registry import available_providers, get_adapter_class
from ._output import emit_json, handle_errors, json_option, table

__all__ = ["register"]


def _row(name: str, installed: bool, extra: str | None) -> dict[str, object]:
    env: tuple[str, ...] = ()
    if installed:
        env = get_adapter_class(name).credential_env
    return {
        "name": name,
        "installed": installed,
        "install": None if installed or extra is None else f'pip install "batchkit[{extra}]"',
        "credentials": {var: var in os.environ for var in env},
    }


@click.command("providers")
@json_option
@handle_errors
def providers_cmd(as_json: bool) -> None:
    """List providers: installed or not (with the install command), credentials found or not."""
    rows = [_row(*p) for p in available_providers()]
    if as_json:
        emit_json(rows)
        return
    table("providers", ["name", "installed", "credentials"], [
        (
            r["name"],
            "yes" if r["installed"] else f"no: {r['install']}",
            ", ".join(f"{k} {'set' if v else 'missing'}"
                      for k, v in r["credentials"].items())  # type: ignore[attr-defined]
            or "none needed",
        )
        for r in rows
    ])


def register(cli: click.Group) -> None:
    cli.add_command(providers_cmd)

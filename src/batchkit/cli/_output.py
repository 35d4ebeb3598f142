"""Shared output helpers: every command prints a rich table for people or JSON with --json."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.table import Table

from .._exceptions import BatchkitError

__all__ = ["console", "emit_json", "handle_errors", "json_option", "table"]

F = TypeVar("F", bound=Callable[..., Any])

console = Console(soft_wrap=True)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")


def emit_json(data: Any) -> None:
    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title)
    for i, col in enumerate(columns):
        t.add_column(col, no_wrap=i == 0)  # ids must stay copy-pasteable
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def handle_errors(func: F) -> F:
    """Turn batchkit errors into a one-line message and exit code 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (BatchkitError, TimeoutError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]

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

__all__ = ["OneLineErrorGroup", "console", "emit_json", "handle_errors", "json_option", "table"]

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


class OneLineErrorGroup(click.Group):
    """A command group whose usage errors look like every other batchkit error.

    click prints its own errors as ``Error: ...`` under a usage block and exits 2; batchkit's
    are ``error: ...`` on one line with exit 1. One style lets a script match one pattern, so a
    usage error becomes ``error: <what> (see 'batchkit CMD --help')``.
    """

    def main(
        self, args: Sequence[str] | None = None, prog_name: str | None = None,
        complete_var: str | None = None, standalone_mode: bool = True, **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "batchkit"
            click.echo(f"error: {_first_line(exc.format_message())} "
                       f"(see '{where} --help')", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"error: {_first_line(exc.format_message())}", err=True)
            sys.exit(1)
        except click.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _first_line(message: str) -> str:
    """click's messages may span lines (choices, hints); an error stays one line."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())

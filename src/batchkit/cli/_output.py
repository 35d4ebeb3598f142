"""Shared output helpers: every command prints a rich table for people or JSON with --json."""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click
import orjson
from rich.console import Console
from rich.table import Table

from .._exceptions import BatchkitError
from .._redact import redact, redact_exception

__all__ = ["OneLineErrorGroup", "RedactingStream", "console", "emit_json", "handle_errors",
           "json_option", "redacted_output", "table"]

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
            click.echo(f"error: {redact(str(exc))}", err=True)
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
            with redacted_output():
                return super().main(args, prog_name, complete_var, False, **extra)
        try:
            with redacted_output():
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


class RedactingStream:
    """A text stream that writes through :func:`batchkit._redact.redact`: the CLI's last line of
    defence, so no table, progress line or message shows a credential even if a command forgot
    to clean a value. click and rich write each line (or whole table) in one ``write``."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: Any) -> int:
        if not isinstance(text, str):  # click probes for a binary stream with b""
            return int(self._stream.write(text))
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def redacted_output() -> Iterator[None]:
    """stdout and stderr through :class:`RedactingStream` while a command runs; an unexpected
    exception leaving the command is redacted too, chain and all, before Python prints it."""
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)
    try:
        yield
    except BaseException as exc:
        redact_exception(exc)
        raise
    finally:
        sys.stdout, sys.stderr = saved


def _first_line(message: str) -> str:
    """click's messages may span lines (choices, hints); an error stays one line, redacted like
    every other (a value echoed back from the command line may be a key)."""
    return redact(" ".join(part.strip() for part in message.splitlines() if part.strip()))

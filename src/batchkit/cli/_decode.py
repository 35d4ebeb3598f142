"""``batchkit decode``: a vendor's batch output file to results, offline (see ``_decode``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import click

from .._results import Result
from .._storage import Target
from ._formats import DESTINATION, output_writer, write_results
from ._output import console, emit_json, handle_errors, json_option

__all__ = ["register"]

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command("decode")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("-p", "--provider", required=True, metavar="VENDOR[:MODEL]",
              help="Whose output FILE is (the model prices results and picks a model family).")
@click.option("--requests", "requests_path", type=_FILE,
              help="The input file: results come back one per request, in its order.")
@click.option("--errors", "errors_path", type=_FILE,
              help="The vendor's error file (for vendors that write failed rows apart).")
@click.option("-o", "--output", "--results", "output", type=DESTINATION,
              help="Write the results here (.jsonl, .parquet or .npy); else show counts.")
@click.option("--raw", is_flag=True, help="JSONL: include each vendor row under 'raw'.")
@json_option
@handle_errors
def decode_cmd(file: Path, provider: str, requests_path: Path | None, errors_path: Path | None,
               output: Target | None, raw: bool, as_json: bool) -> None:
    """Decode a vendor's batch output FILE (or every JSONL file in a folder) into results,
    offline and streamed.

    Rows keep their ids exactly as FILE has them; with --requests, rows that match no request
    are counted as unmatched (kept whole in the Python API's ``results.unmatched``).
    """
    from .._decode import decode

    if output is not None:
        output_writer(output)  # an unknown format is refused before anything is read
    results = decode(file, provider, requests_path, errors=errors_path)
    counts: Counter[str] = Counter()

    def tallied() -> Iterator[Result]:
        for result in results:
            counts[result.status] += 1
            yield result

    written = None
    if output is None:
        for _ in tallied():
            pass
    else:
        written = write_results(tallied(), output, len(results), raw=raw)
    if as_json:
        emit_json({"file": str(file), "provider": provider, "written": written,
                   "path": None if output is None else str(output), "counts": dict(counts),
                   "unmatched": len(results.unmatched)})
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no rows"
    where = f"wrote {written:,} results to {output}" if output is not None else \
        f"{len(results):,} results"
    console.print(f"{where} ({shown}); unmatched rows: {len(results.unmatched):,}")


def register(cli: click.Group) -> None:
    cli.add_command(decode_cmd)

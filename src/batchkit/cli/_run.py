"""``batchkit run``: one command that plans, sends and collects a job, in real time or by batch.

Real time shows a live progress bar (rows, rows/s, tokens/s, 429s, cost so far): the run is
minutes, not hours, and the rate limit is what a user watches. Batch mode falls back to the
shard progress bar of ``wait``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import click

from .._exceptions import ConfigError
from .._readers import read_requests
from .._realtime import RealtimeJob
from .._requests import import_response_model
from .._submit import submit
from ._formats import output_writer, write_results
from ._jobs import in_sandbox, parse_options
from ._output import console, emit_json, handle_errors, json_option

__all__ = ["register"]

_REFRESH_S = 0.25


def _watch(job: RealtimeJob, show: bool) -> None:
    """Run the job's rows on a worker thread while this one draws the bar."""
    errors: list[BaseException] = []

    def work() -> None:
        try:
            job.wait(raise_on_failure=False)
        except BaseException as exc:  # shown by handle_errors in the main thread
            errors.append(exc)

    worker = threading.Thread(target=work, name=f"run-{job.id}", daemon=True)
    worker.start()
    if show:
        _draw(job, worker)
    worker.join()
    if errors:
        raise errors[0]


def _draw(job: RealtimeJob, worker: threading.Thread) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(job.id, total=job.request_count, rate="")
        while worker.is_alive():
            worker.join(_REFRESH_S)
            progress = job.progress
            if progress is None:
                continue
            seconds = max(1e-6, time.monotonic() - progress.started)
            bar.update(task, completed=progress.done, total=progress.total or job.request_count,
                       rate=f"{progress.done / seconds:,.1f} rows/s  "
                            f"{progress.tokens / seconds:,.0f} tok/s  "
                            f"429s {progress.rate_limited}  ${progress.cost_usd:,.4f}")


@click.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-p", "--provider",
              help="provider:model (names: batchkit providers; models: batchkit prices).")
@click.option("--profile", help="A [profiles.NAME] table of batchkit.toml.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option (repeatable).")
@click.option("--mode", type=click.Choice(["realtime", "auto", "batch"]), default="auto",
              show_default=True,
              help="realtime: the vendor's synchronous endpoint now; auto: real time for a "
                   "small job or a short --deadline, batch otherwise.")
@click.option("--deadline", type=float, help="Seconds the results may take (for --mode auto).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Real-time calls at once.")
@click.option("--rpm", type=click.FloatRange(min=0, min_open=True),
              help="Requests per minute the account allows (else learned from the vendor).")
@click.option("--tpm", type=click.FloatRange(min=0, min_open=True),
              help="Tokens per minute the account allows (else learned from the vendor).")
@click.option("--response-model", help="module:Class of a pydantic model for chat replies.")
@click.option("--kind", type=click.Choice(["chat", "embed"]), help="For CSV: what each row is.")
@click.option("-o", "--output", "results_path", type=click.Path(path_type=Path),
              help="Write the results here (.jsonl, .parquet or .npy).")
@click.option("--max-cost", type=float, help="Refuse the job if it could cost more (USD).")
@click.option("--retry", type=click.IntRange(min=0), default=0, show_default=True,
              help="Rounds that resend requests that failed for a passing reason.")
@click.option("--cache", is_flag=True, help="Reuse (and keep) results in the local result cache.")
@click.option("--sandbox", is_flag=True, help="Use local vendor emulators: no keys, no network.")
@json_option
@handle_errors
def run_cmd(
    file: Path, provider: str | None, profile: str | None, options: tuple[str, ...], mode: str,
    deadline: float | None, concurrency: int | None, rpm: float | None, tpm: float | None,
    response_model: str | None, kind: str | None, results_path: Path | None,
    max_cost: float | None, retry: int, cache: bool, sandbox: bool, as_json: bool,
) -> None:
    """Run FILE's requests to the end and print (or write) the results."""
    if results_path is not None:
        if "=" in results_path.name and not results_path.suffix:
            raise ConfigError(f"-o/--output is where results go, not {results_path.name!r}: "
                              "adapter options are -s KEY=VALUE")
        output_writer(results_path)  # an unknown format is refused before anything is sent
    model = None
    if response_model:
        model = import_response_model(response_model)
        if model is None:
            raise ConfigError(f"cannot import response model {response_model!r} (module:Class)")
    chosen: dict[str, Any] = parse_options(options)
    chosen.update({k: v for k, v in (("concurrency", concurrency), ("rpm", rpm), ("tpm", tpm))
                   if v is not None})
    requests = read_requests(file, kind=kind, response_model=model)  # type: ignore[arg-type]
    with in_sandbox(sandbox):
        job = submit(requests, provider, profile=profile, options=chosen, mode=mode,
                     deadline_s=deadline, max_cost_usd=max_cost, retry=retry, cache=cache)
        if isinstance(job, RealtimeJob):
            _watch(job, show=not as_json)
        else:
            job.wait(progress=not as_json, raise_on_failure=False)
        results = job.results()
        if results_path is not None:
            write_results(iter(results), results_path, job.request_count)
    ran = "realtime" if isinstance(job, RealtimeJob) else "batch"
    counts = results.counts()
    if as_json:
        emit_json({"id": job.id, "provider": job.provider, "mode": ran, "results": counts,
                   "cost_usd": results.cost_usd,
                   "rate_limited": job.progress.rate_limited
                   if isinstance(job, RealtimeJob) and job.progress else 0})
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    cost = "" if results.cost_usd is None else f", cost ${results.cost_usd:,.4f}"
    console.print(f"{job.id} ({ran}): {shown}{cost}"
                  + (f"; results in {results_path}" if results_path else ""))


def register(cli: click.Group) -> None:
    cli.add_command(run_cmd)

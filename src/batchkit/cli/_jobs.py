"""Job commands: submit, status, list, wait, cancel, results."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import click
import orjson

from .._exceptions import ConfigError
from .._job import Job
from .._readers import read_requests
from .._requests import import_response_model
from .._results import Result
from .._storage import Target, display_name
from .._submit import forget, get_job, list_jobs, submit
from ..store import JobRecord
from ._formats import DESTINATION, SOURCE, output_writer, write_results
from ._output import console, emit_json, handle_errors, json_option, table

__all__ = ["in_sandbox", "parse_options", "register"]


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``-o key=value`` pairs; values are JSON when they parse as JSON, else strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"option {pair!r} must look like key=value")
        try:
            options[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            options[key] = value
    return options


@contextlib.contextmanager
def in_sandbox(enabled: bool) -> Iterator[None]:
    """Run against the local vendor emulators (no keys, no network) for this command."""
    if not enabled:
        yield
        return
    from ..testing import emulate

    with emulate():
        yield


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _job_dict(job: Job) -> dict[str, Any]:
    held = job.held()
    return {
        "id": job.id,
        "provider": job.provider,
        "state": job.state.value,
        "request_count": job.request_count,
        "folder": str(job.folder),
        "estimate": job.estimate,
        "actual_cost_usd": job.actual_cost_usd,
        "shards": [
            {
                "index": s.index, "state": s.state.value, "vendor_status": s.vendor_status,
                "remote_id": s.remote_id, "requests": s.request_count, "counts": s.counts,
                "errors": s.errors, "held": held.get(s.index),
            }
            for s in job.shards
        ],
    }


def _print_job(job: Job) -> None:
    data = _job_dict(job)
    console.print(
        f"[bold]{data['id']}[/bold]  {data['provider']}  [cyan]{data['state']}[/cyan]  "
        f"{data['request_count']:,} requests"
    )
    if data["estimate"]:
        est = data["estimate"]
        console.print(f"estimated batch cost: up to ${est['batch_cost_max']:.4f} "
                      f"(expected ${est['batch_cost_expected']:.4f}; cap ${est['max_cost_usd']})")
    if data["actual_cost_usd"] is not None:
        console.print(f"actual cost: ${data['actual_cost_usd']:.4f}")
    table("shards", ["#", "state", "vendor status", "vendor id", "requests", "counts"], [
        (s["index"], s["state"], s["vendor_status"] or s["held"], s["remote_id"],
         f"{s['requests']:,}",
         " ".join(f"{k}={v}" for k, v in s["counts"].items()))
        for s in data["shards"]
    ])


def _check_submit_flags(sandbox: bool, wait_: bool, results_path: Target | None) -> None:
    """Refuse flag mixes that would leave a job no later command can follow."""
    if (sandbox or os.environ.get("BATCHKIT_SANDBOX") == "1") and not wait_:
        raise ConfigError(
            "--sandbox starts the emulators inside this command, so its job would end with it: "
            "add --wait, or run `batchkit emulator` and export BATCHKIT_SANDBOX=<its URL> to "
            "follow a sandbox job from later commands")
    if results_path is not None:
        name = display_name(results_path)
        if "=" in name and "." not in name:
            raise ConfigError(f"-o/--output is where results go, not {name!r}: "
                              "adapter options are -s KEY=VALUE")
        if not wait_:
            raise ConfigError("-o/--output needs --wait (or write results later with "
                              "`batchkit results JOB -o FILE`)")
        output_writer(results_path)  # an unknown format is refused before anything is sent


@click.command("submit")
@click.argument("file", type=SOURCE)
@click.option("-p", "--provider",
              help="provider:model (names: batchkit providers; models: batchkit prices).")
@click.option("--profile", help="A [profiles.NAME] table of batchkit.toml.")
@click.option("-s", "--set", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Adapter option, e.g. -s enqueued_tokens=2000000 (repeatable).")
@click.option("--response-model", help="module:Class of a pydantic model for chat replies.")
@click.option("--kind", type=click.Choice(["chat", "embed"]), help="For CSV: what each row is.")
@click.option("--wait", "wait_", is_flag=True, help="Wait for the job and print its summary.")
@click.option("-o", "--output", "--results", "results_path", type=DESTINATION,
              help="With --wait: write the results here (.jsonl, .parquet or .npy).")
@click.option("--max-cost", type=float, help="Refuse the job if it could cost more (USD).")
@click.option("--shard-size", type=int, help="At most this many requests per vendor batch.")
@click.option("--cache", is_flag=True, help="Reuse (and keep) results in the local result cache.")
@click.option("--retry", type=click.IntRange(min=0), default=0, show_default=True,
              help="Rounds that resend requests failed by rate limits, server errors or expiry.")
@click.option("--sandbox", is_flag=True, help="Use local vendor emulators: no keys, no network.")
@json_option
@handle_errors
def submit_cmd(
    file: Target, provider: str | None, profile: str | None, options: tuple[str, ...],
    response_model: str | None, kind: str | None, wait_: bool, results_path: Target | None,
    max_cost: float | None, shard_size: int | None, cache: bool, retry: int, sandbox: bool,
    as_json: bool,
) -> None:
    """Validate FILE, split it into vendor batches and submit them."""
    _check_submit_flags(sandbox, wait_, results_path)
    model = None
    if response_model:
        model = import_response_model(response_model)
        if model is None:
            raise ConfigError(f"cannot import response model {response_model!r} (module:Class)")
    requests = read_requests(file, kind=kind, response_model=model)  # type: ignore[arg-type]
    with in_sandbox(sandbox):
        job = submit(requests, provider, profile=profile, options=parse_options(options),
                     max_cost_usd=max_cost, shard_size=shard_size, cache=cache, retry=retry)
        summary = _job_dict(job)
        if wait_:
            job.wait(progress=not as_json, raise_on_failure=False)
            results = job.results()
            if results_path is not None:
                write_results(iter(results), results_path, job.request_count)
            summary = _job_dict(job)
            summary["results"] = results.counts()
            summary["cost_usd"] = results.cost_usd
    if as_json:
        emit_json(summary)
        return
    _print_job(job)
    if wait_:  # the job summary above already shows the actual cost
        console.print("results: " + ", ".join(f"{k}={v}" for k, v in summary["results"].items()))
    else:
        console.print(f"follow it with: batchkit wait {job.id}")


@click.command("status")
@click.argument("job_id")
@json_option
@handle_errors
def status_cmd(job_id: str, as_json: bool) -> None:
    """Poll JOB once and show its shards."""
    job = get_job(job_id)
    job.refresh()
    if as_json:
        emit_json(_job_dict(job))
    else:
        _print_job(job)


def _record_dict(r: JobRecord) -> dict[str, Any]:
    return {"id": r.id, "provider": r.provider, "state": r.state.value,
            "request_count": r.request_count, "created_at": r.created_at}


@click.command("list")
@click.option("--limit", default=50, show_default=True)
@json_option
@handle_errors
def list_cmd(limit: int, as_json: bool) -> None:
    """Recent jobs, newest first (from the local store; no vendor calls)."""
    records = list_jobs(limit=limit)
    if as_json:
        emit_json([_record_dict(r) for r in records])
        return
    table("jobs", ["id", "provider", "state", "requests", "created (UTC)"], [
        (r.id, r.provider, r.state.value, f"{r.request_count:,}", _when(r.created_at))
        for r in records
    ])


@click.command("wait")
@click.argument("job_id")
@click.option("--timeout", type=float, help="Give up after this many seconds.")
@json_option
@handle_errors
def wait_cmd(job_id: str, timeout: float | None, as_json: bool) -> None:
    """Finish submitting JOB if a crash interrupted it, then wait for it to end."""
    job = get_job(job_id)
    job.wait(timeout=timeout, progress=not as_json, raise_on_failure=False)
    if as_json:
        emit_json(_job_dict(job))
    else:
        _print_job(job)


@click.command("cancel")
@click.argument("job_id")
@json_option
@handle_errors
def cancel_cmd(job_id: str, as_json: bool) -> None:
    """Cancel JOB: unsent shards are never sent; running ones are cancelled at the vendor."""
    job = get_job(job_id)
    job.cancel()
    if as_json:
        emit_json(_job_dict(job))
    else:
        console.print(f"{job.id}: {job.state.value}")


@click.command("results")
@click.argument("job_id")
@click.option("-o", "--output", type=DESTINATION, required=True,
              help="Where to write the results, in input order: .jsonl (one JSON line per "
                   "request), .parquet (one row per request) or .npy (the embedding matrix).")
@click.option("--raw", is_flag=True, help="JSONL: include each vendor line under 'raw'.")
@click.option("--embedding-kind", default="float", show_default=True,
              help=".npy: which embedding type (float, int8, uint8, binary, ubinary).")
@json_option
@handle_errors
def results_cmd(
    job_id: str, output: Target, raw: bool, embedding_kind: str, as_json: bool
) -> None:
    """Download, decode and write the results of a finished JOB (streamed, in input order)."""
    job = get_job(job_id)
    counts: Counter[str] = Counter()

    def tallied() -> Iterator[Result]:
        for result in job.iter_results():
            counts[result.status] += 1
            yield result

    output_writer(output)  # refuse an unknown format before downloading anything
    written = write_results(tallied(), output, job.request_count,
                            embedding_kind=embedding_kind, raw=raw)
    if as_json:
        emit_json({"job": job_id, "written": written, "path": str(output),
                   "counts": dict(counts), "unmatched": len(job.unmatched)})
        return
    shown = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    console.print(f"wrote {written:,} results to {output} ({shown})")


@click.command("forget")
@click.argument("job_id")
@click.option("--force", is_flag=True,
              help="Forget a job that has not ended (its vendor batch is known to be gone).")
@json_option
@handle_errors
def forget_cmd(job_id: str, force: bool, as_json: bool) -> None:
    """Remove JOB from the store and delete its folder (refused while it may still bill)."""
    record = forget(job_id, force=force)
    if as_json:
        emit_json({"forgotten": job_id, "state": record.state.value, "folder": record.folder})
    else:
        console.print(f"forgot {job_id} ({record.state.value}); removed {record.folder}")


def register(cli: click.Group) -> None:
    for command in (submit_cmd, status_cmd, list_cmd, wait_cmd, cancel_cmd, results_cmd,
                    forget_cmd):
        cli.add_command(command)
    cli.add_command(forget_cmd, "rm")

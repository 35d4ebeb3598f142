"""``batchkit doctor``: check the job store; ``--rebuild`` restores it from the job folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .._doctor import StoreReport, check_store, rebuild_store
from .._exceptions import ConfigError
from ..store import store_target
from ._output import emit_json, handle_errors, json_option

__all__ = ["register"]


def _report_lines(report: StoreReport) -> list[str]:
    size = "none yet" if report.size is None else f"{report.size:,} bytes"
    lines = [f"store       {report.path} ({size})",
             f"file        {report.file_problem or 'ok'}",
             f"integrity   {report.integrity}"]
    if report.file_problem is None and report.size is not None:
        missing = len(report.migrations_missing)
        schema = "up to date" if not missing else f"{missing} migration(s) not applied yet"
        if report.migrations_unknown:
            schema += f"; made by a newer batchkit ({', '.join(report.migrations_unknown)})"
        lines.append(f"schema      {schema}")
    lines.append(f"jobs        {report.jobs_in_store} in the store, "
                 f"{report.journaled_folders} journaled job folder(s)")
    if report.folders_not_in_store:
        shown = ", ".join(report.folders_not_in_store[:5])
        more = len(report.folders_not_in_store) - 5
        lines.append(f"forgotten   {len(report.folders_not_in_store)} job(s) in folders but not "
                     f"in the store: {shown}{f' and {more} more' if more > 0 else ''}")
    if report.rows_without_folder:
        lines.append(f"no folder   {len(report.rows_without_folder)} job(s): "
                     + ", ".join(report.rows_without_folder[:5]))
    lines.append("verdict     " + ("healthy" if report.healthy
                                   else "needs repair: run `batchkit doctor --rebuild`"))
    return lines


@click.command("doctor")
@click.option("--rebuild", is_flag=True,
              help="Restore every job in the job folders that the store lacks; a damaged "
                   "store is kept beside a fresh one.")
@click.option("--store", "store_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite store file (default: the store batchkit uses, normally "
                   "$BATCHKIT_HOME/jobs.db).")
@json_option
@handle_errors
def doctor_cmd(rebuild: bool, store_path: Path | None, as_json: bool) -> None:
    """Check the job store (file, SQLite integrity, schema, jobs against job folders).

    Exits 1 when the store needs repair. With --rebuild, jobs are restored from their folders'
    journals and each vendor is asked for the batches made under the jobs' keys: nothing is
    submitted, and `batchkit wait JOB` carries on from there. Rebuild with no other batchkit
    process (a worker, a notebook) using the store: a damaged file is renamed away.
    """
    target = store_path or store_target()
    if "://" in str(target):
        raise ConfigError("batchkit doctor checks a SQLite store file; this store is a server "
                          "database (BATCHKIT_STORE), which has its own backups and checks")
    path = Path(target)
    if rebuild:
        done = rebuild_store(path)
        after = check_store(path)
        if as_json:
            emit_json({"rebuild": done.__dict__, "check": _as_dict(after)})
        else:
            if done.set_aside:
                click.echo(f"kept the damaged store as {done.set_aside}")
            click.echo(f"restored {len(done.restored)} job(s); {done.found_at_vendor} shard(s) "
                       "found at the vendor by key")
            for job_id, why in done.vendor_errors.items():
                click.echo(f"  {job_id}: vendor not asked ({why}); `batchkit wait` asks later")
            click.echo("\n".join(_report_lines(after)))
        raise SystemExit(0 if after.healthy else 1)
    report = check_store(path)
    if as_json:
        emit_json(_as_dict(report))
    else:
        click.echo("\n".join(_report_lines(report)))
    raise SystemExit(0 if report.healthy else 1)


def _as_dict(report: StoreReport) -> dict[str, Any]:
    return {**report.__dict__, "healthy": report.healthy}


def register(cli: click.Group) -> None:
    cli.add_command(doctor_cmd)

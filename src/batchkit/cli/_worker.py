"""``batchkit worker``: advance every open job in the store until stopped (see ``_worker``)."""

from __future__ import annotations

import signal
import time
from types import FrameType

import click

from .._clock import Backoff
from .._worker import Worker
from ..store import default_store, open_store
from ._output import handle_errors

__all__ = ["register"]


def _say(line: str) -> None:
    click.echo(f"{time.strftime('%H:%M:%S')} {line}", err=True)


@click.command("worker")
@click.option("--store", "store_target", metavar="URL|PATH",
              help="The store (default: $BATCHKIT_STORE, [store] url in batchkit.toml, "
                   "else $BATCHKIT_HOME/jobs.db).")
@click.option("--once", is_flag=True, help="One pass over the open jobs, then exit.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=2.0, show_default=True,
              help="Seconds between passes after one that changed something; the wait grows "
                   "while nothing moves.")
@click.option("--max-interval", type=click.FloatRange(min=0.01), default=60.0,
              show_default=True, help="The longest wait between passes.")
@handle_errors
def worker_cmd(store_target: str | None, once: bool, interval: float,
               max_interval: float) -> None:
    """Send, poll, collect and retry every open job in the store, until SIGTERM or Ctrl-C.

    Run as many as you like, on as many machines as share the store: each job is worked on by
    one worker at a time, and a dead worker's jobs pass to the others.
    """
    store = open_store(store_target) if store_target else default_store()
    worker = Worker(store, backoff=Backoff(initial=interval, maximum=max(interval, max_interval)),
                    report=_say)
    if once:
        done = worker.run_once()
        _say(f"pass: {done.advanced} advanced, {done.settled} settled, {done.waiting} waiting, "
             f"{done.busy} held by other workers, {done.failed} failed; {done.open} open")
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        _say(f"{signal.Signals(signum).name}: stopping after the job at hand")
        worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _say(f"worker on {store.location}")
    worker.run()
    store.close()
    _say("worker stopped")


def register(cli: click.Group) -> None:
    cli.add_command(worker_cmd)

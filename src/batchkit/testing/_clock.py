"""The virtual clock the emulator apps of one server share, so tests decide when jobs progress.

Why its own module: the clock is the one piece of the core that every vendor's job timeline
reads (``state.py`` of each emulator), while the HTTP server only carries it to the apps.
"""

from __future__ import annotations

import threading
import time


class EmulatorClock:
    """Virtual time shared by the apps of one server, so tests decide when batches progress.

    In manual mode time moves only through :meth:`advance`. In auto mode an app calls
    :meth:`reach` each time a client polls a job, which jumps time to that job's next due event:
    every poll moves the job one status step, so a polling client finishes with no test driving
    the clock. Time never moves backwards. It starts at the real current second so timestamps
    look like the vendor's.
    """

    def __init__(self, *, auto: bool = False, start: float | None = None) -> None:
        self.auto = auto
        self._now = float(int(time.time()) if start is None else start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (manual control); return the new time."""
        if seconds < 0:
            raise ValueError("the emulator clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def reach(self, due: float | None) -> None:
        """Called on a poll: in auto mode, jump to ``due`` if it is still ahead; else nothing
        (nothing either when ``due`` is None: the job has no next step)."""
        if not self.auto or due is None:
            return
        with self._lock:
            self._now = max(self._now, due)

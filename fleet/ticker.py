"""A background thread that runs one step of work every few seconds until it is stopped.

The alert evaluator and the alert delivery each run their pass this way: a pass that fails (the
database away) is logged and the next tick tries again, and a caller (a test, an API route) may
run a pass itself at any time under the same lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Ticker:
    """Calls ``step()`` every ``every_s`` seconds in the thread ``name``, between start and stop."""

    def __init__(self, name: str, every_s: float, step: Callable[[], object]) -> None:
        self.name = name
        self.every_s = every_s
        self.step = step
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.step()
            except Exception:  # a database outage must not end the thread
                log.warning("%s: a pass failed; the next tick tries again", self.name,
                            exc_info=True)

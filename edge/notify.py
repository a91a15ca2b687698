"""systemd's service notifications (sd_notify) over ``$NOTIFY_SOCKET``, standard library only.

Under ``Type=notify`` the agent says ``READY=1`` once it has opened everything, pings
``WATCHDOG=1`` from its main loop at half the unit's ``WatchdogSec`` (systemd passes it as
``$WATCHDOG_USEC``), and ``STOPPING=1`` on its way out; systemd restarts an agent whose loop
hangs. Without ``$NOTIFY_SOCKET`` (a shell, a test) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``READY=1``) to systemd; False when not run by it or it failed."""
    env = os.environ if environ is None else environ
    path = env.get("NOTIFY_SOCKET", "")
    if not path or path[0] not in "/@":
        return False
    address = "\0" + path[1:] if path[0] == "@" else path  # '@': an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.connect(address)
            s.sendall(state.encode())
    except OSError as exc:
        log.debug("sd_notify %s failed: %s", state.split("=", 1)[0], exc)
        return False
    return True


class Watchdog:
    """Pings ``WATCHDOG=1`` at most every half of ``$WATCHDOG_USEC``; idle when unset."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)
        self.interval_s: float | None = None
        usec = self._environ.get("WATCHDOG_USEC", "")
        pid = self._environ.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.interval_s = int(usec) / 1e6 / 2
        self._last = float("-inf")

    def ping(self) -> None:
        if self.interval_s is None:
            return
        now = time.monotonic()
        if now - self._last >= self.interval_s:
            self._last = now
            notify("WATCHDOG=1", self._environ)

"""The sensor's side of a pseudo-terminal, scripted byte for byte: expect a request, reply."""

from __future__ import annotations

import os
import select
import threading
import time
import tty


class ScriptedPeer:
    """Reads exactly each expected request and answers with its scripted reply, in order."""

    def __init__(self, script: list[tuple[bytes, bytes]]) -> None:
        self.script = script
        self.received: list[bytes] = []
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ScriptedPeer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=5)
        os.close(self._master)
        os.close(self._slave)

    def _run(self) -> None:
        for expected, reply in self.script:
            got = b""
            deadline = time.monotonic() + 3
            while len(got) < len(expected) and time.monotonic() < deadline:
                if select.select([self._master], [], [], 0.05)[0]:
                    got += os.read(self._master, len(expected) - len(got))
            self.received.append(got)
            if got != expected:
                return
            if reply:
                os.write(self._master, reply)

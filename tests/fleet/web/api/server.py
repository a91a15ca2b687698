"""The fleet app under a real uvicorn server in a thread, on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from tests.services import free_port


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Run ``app`` (its lifespan too) until the block ends; yields its base URL."""
    # proxy_headers off, as `agrifleet fleet serve` runs it: the fleet decides whom to trust.
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_config=None,
                            access_log=False, lifespan="on",
                            proxy_headers=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started serving")
            thread.join(0.05)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(30)

"""Registering the virtual nodes with a fleet through its REST API (an admin token)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor


class RegisterError(RuntimeError):
    """The fleet refused to register a device (or could not be reached)."""


def register_devices(fleet_url: str, token: str, device_ids: Iterable[str],
                     threads: int = 8) -> int:  # fmt: skip
    """POST /api/v1/devices for each id; one already registered is fine. Returns how many new."""
    base = fleet_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise RegisterError(f"not a fleet address: {fleet_url!r} (expected http(s)://host:port)")

    def one(device_id: str) -> bool:
        body = json.dumps({"id": device_id, "name": f"virtual node {device_id}"}).encode()
        request = urllib.request.Request(  # noqa: S310 - http(s) checked above
            f"{base}/api/v1/devices", data=body, method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - http(s) checked
                return True
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                return False
            detail = exc.read().decode(errors="replace")[:200]
            raise RegisterError(f"the fleet refused to register {device_id}: HTTP {exc.code} "
                                f"{detail}") from None  # fmt: skip
        except OSError as exc:
            raise RegisterError(f"cannot reach the fleet at {base}: {exc}") from None

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, list(device_ids)))
